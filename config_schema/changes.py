"""What one configuration write did: :class:`Change` per key, :class:`ChangeResult` per layer version.

Also the small rules every writer shares: which keys changed (:func:`changes_between`, :func:`same`), how a
change becomes a ``config_history`` row (:func:`history_entry`), and how rejected keys become a domain error
(:func:`issues_error`: Forbidden for a scope violation, else InvalidInput).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import NoReturn

from config_schema.resolver import ConfigIssues
from domain.errors import ClewError, Forbidden, InvalidInput
from persistence.config_repo import HistoryEntry, StoredValue


@dataclass
class Change:
    """One key's change in a layer: ``old`` / ``new`` are ``None`` when the layer held no value."""

    key: str
    old: StoredValue | None
    new: StoredValue | None


@dataclass
class ChangeResult:
    layer: str
    owner: str
    version: int
    changes: list[Change] = field(default_factory=list)
    skipped: list[dict[str, str]] = field(default_factory=list)

    @property
    def keys(self) -> list[str]:
        return [c.key for c in self.changes]


def issues_error(exc: ConfigIssues) -> ClewError:
    """The error for rejected keys: Forbidden (403) for a scope violation, else InvalidInput; it names the key
    and the rule."""
    first = exc.issues[0]
    code = "scope_forbidden" if exc.status == 403 else "invalid_setting"
    detail = first.message if len(exc.issues) == 1 else "; ".join(i.message for i in exc.issues)
    kind = Forbidden if exc.status == 403 else InvalidInput
    return kind(detail, code=code, key=first.key, rule=first.rule, errors=[i.as_dict() for i in exc.issues])


def raise_issues(exc: ConfigIssues) -> NoReturn:
    raise issues_error(exc) from exc


def same(a: StoredValue | None, b: StoredValue | None) -> bool:
    """Whether two stored values are the same (value, its type, and who set it)."""
    if a is None or b is None:
        return a is b
    return a.value == b.value and type(a.value) is type(b.value) and a.admin_set == b.admin_set


def changes_between(
    current: Mapping[str, StoredValue], desired: Mapping[str, StoredValue | None]
) -> list[Change]:
    """The keys of ``desired`` whose value differs from ``current`` (None: no value in the layer)."""
    return [Change(k, current.get(k), new) for k, new in desired.items() if not same(current.get(k), new)]


def history_entry(
    layer: str, owner: str, generation: int, c: Change, action: str, actor: str
) -> HistoryEntry:
    return HistoryEntry(
        layer=layer,
        owner=owner,
        generation=generation,
        key=c.key,
        old_set=c.old is not None,
        old_value=c.old.value if c.old is not None else None,
        new_set=c.new is not None,
        new_value=c.new.value if c.new is not None else None,
        action=action,
        changed_by=actor,
    )
