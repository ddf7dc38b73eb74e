"""Writes of configuration layers, as numbered versions with history, and rollback to a version.

The system layer (owner ``''``) and user layers are rows of ``config_values``; a thread's session layer is
``threads.config``. Every write locks its layer's generation, stores only the keys whose value differs as one
new version, records each change in ``config_history`` and announces it (``config_schema.reload``) in the
same transaction. Rollback restores a layer as it was right after a version, as a new version.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from config_schema.changes import ChangeResult, changes_between, history_entry, raise_issues
from config_schema.registry import Registry
from config_schema.reload import ConfigFeed, notify_change
from config_schema.resolver import ConfigIssues, Layer, check_deletes, check_values, layer_allows, mask
from domain.errors import InvalidInput, NotFound
from persistence import config_repo as repo
from persistence.config_repo import StoredValue

if TYPE_CHECKING:
    from persistence.db import Conn, Database


class LayerWriter:
    """Sets, deletes and rolls back keys of the system, user and session layers; reads their history.

    ``check_session`` validates session values (the service's rule, shared with resolution).
    """

    def __init__(
        self,
        db: Database,
        registry: Registry,
        feed: ConfigFeed,
        check_session: Callable[[Mapping[str, Any] | None], dict[str, Any]],
        categories: set[str],
    ) -> None:
        self.db = db
        self.registry = registry
        self.feed = feed
        self.check_session = check_session
        self.categories = categories

    # ------------------------------------------------------------------ system and user layers
    async def set_values(
        self, layer: Layer, owner: str, values: Mapping[str, Any], *, actor: str, admin: bool
    ) -> ChangeResult:
        """Set keys of the system layer (owner '') or a user layer, all or nothing."""
        if layer == "session":
            raise ValueError("use set_thread_config for the session layer")
        try:
            checked = check_values(
                values, layer, self.registry, admin=admin, known_categories=self.categories
            )
        except ConfigIssues as exc:
            raise_issues(exc)
        flag = admin or layer == "system"
        desired: dict[str, StoredValue | None] = {k: StoredValue(v, flag) for k, v in checked.items()}
        return await self._write(layer, owner, desired, actor, "set")

    async def delete_values(
        self, layer: Layer, owner: str, keys: Sequence[str], *, actor: str, admin: bool
    ) -> ChangeResult:
        """Drop keys from a layer (back to the inherited value)."""
        try:
            check_deletes(keys, layer, self.registry, admin=admin)
        except ConfigIssues as exc:
            raise_issues(exc)
        return await self._write(layer, owner, {k: None for k in keys}, actor, "delete")

    async def rollback(
        self, layer: Layer, owner: str, version: int, *, actor: str, admin: bool
    ) -> ChangeResult:
        """Restore the layer as it was right after ``version`` (0: empty), as a new version.

        Keys this caller may not write, and values the current definitions no longer accept, are left as
        they are and listed in ``skipped``.
        """
        async with self.db.transaction() as conn:
            generation = await repo.lock_generation(conn, layer, owner)
            if version < 0 or version > generation:
                raise InvalidInput(
                    f"version {version} does not exist (this layer is at version {generation})",
                    code="invalid_version",
                    version=version,
                    current=generation,
                )
            targets = await repo.rollback_targets(conn, layer, owner, version)
            desired: dict[str, StoredValue | None] = {}
            skipped: list[dict[str, str]] = []
            for key, target in targets.items():
                setting = self.registry.get(key)
                if setting is not None and not layer_allows(setting, layer, admin=admin):
                    skipped.append(
                        {"key": key, "rule": "scope", "detail": f"{key}: not writable by this caller"}
                    )
                    continue
                if target is None:
                    desired[key] = None
                    continue
                if setting is None:
                    skipped.append({"key": key, "rule": "unknown", "detail": f"{key}: no longer a setting"})
                    continue
                try:
                    value = setting.validate_value(target.value)
                except Exception as exc:
                    skipped.append({"key": key, "rule": "invalid", "detail": str(exc)})
                    continue
                desired[key] = StoredValue(value, admin or layer == "system")
            current = await repo.current_values(conn, layer, owner, desired)
            result = await self.apply(conn, layer, owner, current, desired, actor, "rollback")
            result.skipped = skipped
            payload = await notify_change(conn, result) if result.changes else None
        if payload is not None:
            self.feed.handle(payload)  # at once here; the NOTIFY echo is recognised and skipped
        return result

    async def _write(
        self, layer: Layer, owner: str, desired: dict[str, StoredValue | None], actor: str, action: str
    ) -> ChangeResult:
        async with self.db.transaction() as conn:
            await repo.lock_generation(conn, layer, owner)
            current = await repo.current_values(conn, layer, owner, desired)
            result = await self.apply(conn, layer, owner, current, desired, actor, action)
            payload = await notify_change(conn, result) if result.changes else None
        if payload is not None:
            self.feed.handle(payload)  # at once here; the NOTIFY echo is recognised and skipped
        return result

    async def apply(
        self,
        conn: Conn,
        layer: str,
        owner: str,
        current: Mapping[str, StoredValue],
        desired: Mapping[str, StoredValue | None],
        actor: str,
        action: str,
    ) -> ChangeResult:
        """Write the keys whose value differs (under the caller's generation lock) as one new version."""
        changes = changes_between(current, desired)
        if not changes:
            generation = await repo.lock_generation(conn, layer, owner)
            return ChangeResult(layer, owner, generation)
        generation = await repo.bump_generation(conn, layer, owner)
        for c in changes:
            if c.new is None:
                await repo.delete_value(conn, layer, owner, c.key)
            else:
                await repo.upsert_value(
                    conn, layer, owner, c.key, c.new.value, admin_set=c.new.admin_set, actor=actor
                )
        await repo.insert_history(
            conn, [history_entry(layer, owner, generation, c, action, actor) for c in changes]
        )
        return ChangeResult(layer, owner, generation, changes)

    # ------------------------------------------------------------------ session layer
    async def set_thread_config(
        self, user_id: str, thread_id: str, config: Mapping[str, Any], *, actor: str
    ) -> ChangeResult:
        """Replace a thread's session layer (validated; keys left out are dropped)."""
        checked = self.check_session(config)
        async with self.db.transaction() as conn:
            await repo.lock_generation(conn, "session", thread_id)
            stored = await repo.thread_config(conn, thread_id, user_id=user_id, for_update=True)
            if stored is None:
                raise NotFound.of("thread", thread_id)
            current = {k: StoredValue(v, False) for k, v in stored.items()}
            desired: dict[str, StoredValue | None] = {k: None for k in stored}
            desired.update({k: StoredValue(v, False) for k, v in checked.items()})
            result = await self.apply_thread(conn, thread_id, stored, current, desired, actor, "set")
            payload = await notify_change(conn, result, user_id=user_id) if result.changes else None
        if payload is not None:
            self.feed.handle(payload)
        return result

    async def apply_thread(
        self,
        conn: Conn,
        thread_id: str,
        config: Mapping[str, Any],
        current: Mapping[str, StoredValue],
        desired: Mapping[str, StoredValue | None],
        actor: str,
        action: str,
    ) -> ChangeResult:
        """Write a thread's session layer as one new version (under the caller's generation lock)."""
        changes = changes_between(current, desired)
        if not changes:
            return ChangeResult("session", thread_id, await repo.lock_generation(conn, "session", thread_id))
        generation = await repo.bump_generation(conn, "session", thread_id)
        new_config = dict(config)
        for c in changes:
            if c.new is None:
                new_config.pop(c.key, None)
            else:
                new_config[c.key] = c.new.value
        await repo.set_thread_config(conn, thread_id, new_config)
        await repo.insert_history(
            conn, [history_entry("session", thread_id, generation, c, action, actor) for c in changes]
        )
        return ChangeResult("session", thread_id, generation, changes)

    # ------------------------------------------------------------------ reads of the stored layers
    async def history(
        self, layer: Layer, owner: str, *, limit: int = 50, before: int | None = None, key: str | None = None
    ) -> list[dict[str, Any]]:
        """Versions newest first: ``{version, action, changed_by, changed_at, changes: [...]}``."""
        async with self.db.connection() as conn:
            rows = await repo.history(conn, layer, owner, limit=limit, before=before, key=key)
        versions: list[dict[str, Any]] = []
        for r in rows:
            if not versions or versions[-1]["version"] != r["generation"]:
                versions.append(
                    {
                        "version": int(r["generation"]),
                        "action": r["action"],
                        "changed_by": r["changed_by"],
                        "changed_at": r["changed_at"],
                        "changes": [],
                    }
                )
            setting = self.registry.get(r["key"])
            versions[-1]["changes"].append(
                {
                    "key": r["key"],
                    "old_value": mask(setting, r["old_value"]) if r["old_set"] else None,
                    "new_value": mask(setting, r["new_value"]) if r["new_set"] else None,
                    "old_inherited": not r["old_set"],
                    "new_inherited": not r["new_set"],
                }
            )
        return versions

    async def stored(self, layer: Layer, owner: str) -> tuple[int, dict[str, StoredValue]]:
        async with self.db.connection() as conn:
            return await repo.load_layer(conn, layer, owner)
