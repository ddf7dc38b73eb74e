"""Layered resolution and per-layer checks, as pure functions over flat ``{key: value}`` mappings.

Resolution order (later wins), each step remembered as the value's *source*:

=========  =======================================================================
layer      sources
=========  =======================================================================
system     ``default`` (declaration) ← ``file`` (TOML) ← ``env`` ← ``admin`` (Postgres)
user       ``user`` (Postgres; an administrator may also set system keys for one user)
session    ``assistant`` (its context) ← ``thread`` (threads.config) ← ``run`` (run context)
=========  =======================================================================

A layer may set only the keys its scope allows: the system layer any key, the user layer ``user`` and
``session`` keys (and, written by an administrator, any key), the session layer ``session`` keys. The
session layer also carries a graph's own context keys: a key outside every declared category passes through
unchecked, while a dotted key inside a declared category must be declared (so a typo is an error, not a
silently ignored value).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from config_schema.definitions import SCOPE_RANK, Setting, SettingError
from config_schema.registry import Registry

Layer = Literal["system", "user", "session"]

SOURCE_LAYER: dict[str, Layer] = {
    "default": "system",
    "file": "system",
    "env": "system",
    "admin": "system",
    "user": "user",
    "assistant": "session",
    "thread": "session",
    "run": "session",
}

SECRET_MASK = "********"


@dataclass(frozen=True)
class Issue:
    """One rejected key: ``rule`` is ``unknown``, ``scope``, ``readonly`` or a validation rule."""

    key: str
    rule: str
    message: str

    @property
    def status(self) -> int:
        return 403 if self.rule in ("scope", "readonly") else 422

    def as_dict(self) -> dict[str, str]:
        return {"key": self.key, "rule": self.rule, "detail": self.message}


class ConfigIssues(ValueError):
    """Some keys were rejected; nothing was applied."""

    def __init__(self, issues: list[Issue]) -> None:
        super().__init__("; ".join(i.message for i in issues))
        self.issues = issues

    @property
    def status(self) -> int:
        return 403 if any(i.status == 403 for i in self.issues) else 422


@dataclass
class Resolved:
    """Resolved values and, for each key, the source that set it."""

    values: dict[str, Any] = field(default_factory=dict)
    sources: dict[str, str] = field(default_factory=dict)

    def overlay(self, source: str, values: Mapping[str, Any]) -> Resolved:
        """A new :class:`Resolved` with ``values`` laid on top, attributed to ``source``."""
        if not values:
            return self
        out = Resolved(dict(self.values), dict(self.sources))
        for key, value in values.items():
            out.values[key] = value
            out.sources[key] = source
        return out

    def copy(self) -> Resolved:
        return Resolved(dict(self.values), dict(self.sources))


def defaults(registry: Registry) -> Resolved:
    settings = registry.all()
    return Resolved({s.key: s.default for s in settings}, {s.key: "default" for s in settings})


def categories(registry: Registry) -> set[str]:
    return {s.category for s in registry.all()} | {s.key.split(".", 1)[0] for s in registry.all()}


def is_passthrough(key: str, registry: Registry, known_categories: set[str]) -> bool:
    """A session key that is a graph's own context key, not a clew setting."""
    if registry.get(key) is not None:
        return False
    return "." not in key or key.split(".", 1)[0] not in known_categories


def layer_allows(setting: Setting, layer: Layer, *, admin: bool = False) -> bool:
    """Whether ``layer`` may set ``setting`` (an administrator writing a user layer may set any key)."""
    if layer == "system" or (layer == "user" and admin):
        return True
    return SCOPE_RANK[setting.scope] >= SCOPE_RANK[layer]


def scope_message(setting: Setting, layer: Layer) -> str:
    who = {"system": "an administrator", "user": "a user", "session": "a thread or a run"}[setting.scope]
    return (
        f"{setting.key}: scope is {setting.scope} ({who} and the layers above may set it); "
        f"the {layer} layer cannot"
    )


def check_values(
    values: Mapping[str, Any],
    layer: Layer,
    registry: Registry,
    *,
    admin: bool = False,
    known_categories: set[str] | None = None,
) -> dict[str, Any]:
    """``values`` validated for ``layer`` (coerced), or :class:`ConfigIssues` naming every bad key."""
    cats = known_categories if known_categories is not None else categories(registry)
    out: dict[str, Any] = {}
    issues: list[Issue] = []
    for key, value in values.items():
        setting = registry.get(key)
        if setting is None:
            if layer == "session" and is_passthrough(key, registry, cats):
                out[key] = value
                continue
            issues.append(Issue(key, "unknown", f"{key}: unknown setting"))
            continue
        if not layer_allows(setting, layer, admin=admin):
            issues.append(Issue(key, "scope", scope_message(setting, layer)))
            continue
        try:
            out[key] = setting.validate_value(value)
        except SettingError as exc:
            issues.append(Issue(exc.key, exc.rule, exc.message))
    if issues:
        raise ConfigIssues(issues)
    return out


def check_deletes(keys: Iterable[str], layer: Layer, registry: Registry, *, admin: bool = False) -> None:
    """Raise :class:`ConfigIssues` unless ``layer`` may drop its value of every key (unknown keys may go)."""
    issues: list[Issue] = []
    for key in keys:
        setting = registry.get(key)
        if setting is not None and not layer_allows(setting, layer, admin=admin):
            issues.append(Issue(key, "scope", scope_message(setting, layer)))
    if issues:
        raise ConfigIssues(issues)


def mask(setting: Setting | None, value: Any) -> Any:
    """A value fit to show: a set secret is replaced by a mask (secrets are write-only over the API)."""
    if setting is not None and setting.secret and value not in (None, ""):
        return SECRET_MASK
    return value


def readable(setting: Setting | None, *, admin: bool) -> bool:
    return setting is None or admin or setting.user_readable
