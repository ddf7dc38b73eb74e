"""Definition migrations: how stored values follow a setting that was renamed, transformed or removed.

Stored values (administrator overrides, user values, thread configurations) outlive the code that declared
their keys. When a definition changes incompatibly, append a migration here with the next version number;
at start-up ``config_schema.migrate`` applies every migration newer than the version the
database records (``config_schema_state``), under an advisory lock, writes each change to the history as a
``migrate`` action, and records the new version. The TOML file and environment values are passed through the
same migrations in memory (with a warning, so an administrator updates them).

The functions here are pure: they take a flat ``{key: value}`` mapping and return the migrated mapping.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import structlog

log = structlog.get_logger("clew.config")


@dataclass(frozen=True)
class Rename:
    """``old`` is now called ``new``; a value already stored under ``new`` wins."""

    version: int
    old: str
    new: str


@dataclass(frozen=True)
class Transform:
    """Stored values of ``key`` are rewritten by ``fn``; if ``fn`` raises, the value is dropped (inherited)."""

    version: int
    key: str
    fn: Callable[[Any], Any]
    description: str = ""


@dataclass(frozen=True)
class Remove:
    """``key`` no longer exists: stored values are dropped."""

    version: int
    key: str


DefinitionMigration = Rename | Transform | Remove

# The migrations of clew's own definitions, oldest first. Empty while no declared key has changed
# incompatibly since version 1; add entries with increasing versions, never edit a released one.
MIGRATIONS: list[DefinitionMigration] = []


def schema_version(migrations: Sequence[DefinitionMigration]) -> int:
    """The definition version the code expects: 1, or the newest migration's version."""
    return max((m.version for m in migrations), default=1)


def check(migrations: Sequence[DefinitionMigration]) -> None:
    """Raise ``ValueError`` unless versions are >= 2 and non-decreasing (applied in list order)."""
    last = 1
    for m in migrations:
        if m.version < 2 or m.version < last:
            raise ValueError(
                f"definition migration {m} is out of order (versions start at 2 and never go back)"
            )
        last = m.version


def pending(migrations: Sequence[DefinitionMigration], stored: int) -> list[DefinitionMigration]:
    return [m for m in migrations if m.version > stored]


def touched_keys(migrations: Sequence[DefinitionMigration]) -> set[str]:
    """Every key a list of migrations reads, so only rows holding one need to be looked at."""
    keys: set[str] = set()
    for m in migrations:
        if isinstance(m, Rename):
            keys.update((m.old, m.new))
        else:
            keys.add(m.key)
    return keys


def apply(values: Mapping[str, Any], migrations: Sequence[DefinitionMigration]) -> dict[str, Any]:
    """``values`` with every migration applied in order (the input is not changed)."""
    out = dict(values)
    for m in migrations:
        if isinstance(m, Rename):
            if m.old in out:
                value = out.pop(m.old)
                out.setdefault(m.new, value)
        elif isinstance(m, Transform):
            if m.key in out:
                try:
                    out[m.key] = m.fn(out[m.key])
                except Exception as exc:  # a value the transform cannot read is dropped, not fatal
                    log.warning(
                        "definition migration dropped a value", key=m.key, version=m.version, error=str(exc)
                    )
                    del out[m.key]
        elif m.key in out:
            del out[m.key]
    return out
