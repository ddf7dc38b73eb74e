"""The in-process cache of resolved configuration layers, kept current by generations.

The system layer (defaults ← file ← env ← admin) is cached once, each user's system+user resolution in an LRU
over users. Every stored layer has a *generation* that a write bumps; :meth:`ResolutionCache.user_resolved`
with ``verify`` compares the cached generations with the database (one primary-key read), so a run sees a
change at once in every process even if the change's NOTIFY is still in flight. The NOTIFY itself
(``config_schema.reload``) drops the affected entries; a load that raced an invalidation is not cached.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import structlog

from config_schema.registry import Registry
from config_schema.resolver import Layer, Resolved, layer_allows
from persistence import config_repo as repo
from persistence.config_repo import StoredValue

if TYPE_CHECKING:
    from persistence.db import Conn, Database

log = structlog.get_logger("clew.config")


@dataclass
class _SystemEntry:
    generation: int
    resolved: Resolved


@dataclass
class _UserEntry:
    system_generation: int
    generation: int
    resolved: Resolved


class ResolutionCache:
    """Resolved system and user layers in memory; ``base`` is what the system layer starts from."""

    def __init__(self, db: Database, registry: Registry, base: Resolved, *, size: int = 10_000) -> None:
        self.db = db
        self.registry = registry
        self.base = base
        self.size = size
        self._system: _SystemEntry | None = None
        self._users: OrderedDict[str, _UserEntry] = OrderedDict()
        self._epoch = 0  # bumped by every invalidation; a load that raced one is not cached

    # ------------------------------------------------------------------ invalidation
    def invalidate_all(self) -> None:
        self._epoch += 1
        self._system = None
        self._users.clear()

    def invalidate(self, layer: str, owner: str) -> None:
        if layer == "system":
            self.invalidate_all()
        elif layer == "user":
            self._epoch += 1
            self._users.pop(owner, None)

    # ------------------------------------------------------------------ reads
    def valid_layer(self, layer: Layer, stored: Mapping[str, StoredValue]) -> dict[str, Any]:
        """Stored values that still fit their definition (an outdated one is skipped, never fatal)."""
        out: dict[str, Any] = {}
        for key, sv in stored.items():
            setting = self.registry.get(key)
            if setting is None or not layer_allows(setting, layer, admin=sv.admin_set):
                continue
            try:
                out[key] = setting.validate_value(sv.value)
            except Exception as exc:
                log.warning("stored setting no longer valid; ignored", layer=layer, key=key, error=str(exc))
        return out

    async def _system_entry(self, conn: Conn, expected: int | None) -> _SystemEntry:
        entry = self._system
        if entry is not None and (expected is None or entry.generation == expected):
            return entry
        epoch = self._epoch
        generation, stored = await repo.load_layer(conn, "system", "")
        entry = _SystemEntry(generation, self.base.overlay("admin", self.valid_layer("system", stored)))
        if self._epoch == epoch:
            self._system = entry
        return entry

    async def system_resolved(self) -> Resolved:
        """The system layer alone (defaults ← file ← env ← admin), checked against the database."""
        async with self.db.connection() as conn:
            generation, _ = await repo.generations(conn, "")
            entry = await self._system_entry(conn, generation)
        return entry.resolved

    def cached(self, user_id: str) -> Resolved | None:
        """The cached system+user resolution of ``user_id`` (memory only; None when not cached).

        Shared: treat it as read-only (use :meth:`Resolved.overlay` / :meth:`Resolved.copy`).
        """
        entry = self._users.get(user_id)
        system = self._system
        if entry is None or system is None or entry.system_generation != system.generation:
            return None
        self._users.move_to_end(user_id)
        return entry.resolved

    def _fresh(self, user_id: str, expected: tuple[int, int]) -> Resolved | None:
        """The cached resolution of ``user_id`` if it is of the generations ``expected`` (system, user)."""
        entry = self._users.get(user_id)
        system = self._system
        if (
            entry is not None
            and system is not None
            and system.generation == expected[0]
            and entry.system_generation == expected[0]
            and entry.generation == expected[1]
        ):
            self._users.move_to_end(user_id)
            return entry.resolved
        return None

    async def user_resolved(
        self, user_id: str, *, verify: bool = True, generations: tuple[int, int] | None = None
    ) -> Resolved:
        """System → user resolution of ``user_id`` (shared, read-only); ``verify``: against the database, or
        against ``generations`` (system, user) the caller read from it a moment ago (run creation reads them in
        its first statement)."""
        if not verify:
            hit = self.cached(user_id)
            if hit is not None:
                return hit
        elif generations is not None and (hit := self._fresh(user_id, generations)) is not None:
            return hit
        async with self.db.connection() as conn:
            expected: tuple[int, int] | None = generations if verify else None
            if verify and expected is None:
                expected = await repo.generations(conn, user_id)
                if (hit := self._fresh(user_id, expected)) is not None:
                    return hit
            epoch = self._epoch
            system = await self._system_entry(conn, expected[0] if expected else None)
            generation, stored = await repo.load_layer(conn, "user", user_id)
        resolved = system.resolved.overlay("user", self.valid_layer("user", stored))
        if self._epoch == epoch:
            self._users[user_id] = _UserEntry(system.generation, generation, resolved)
            self._users.move_to_end(user_id)
            while len(self._users) > self.size:
                self._users.popitem(last=False)
        return resolved
