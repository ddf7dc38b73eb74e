"""The configuration service: layered resolution with an in-process cache, writes, history, hot reload.

One :class:`ConfigService` per process (``runtime.config``, built by ``Runtime.start``). It resolves
system → user → session (see ``config_schema.resolver``), writes the system and user layers
(``config_values``) and the session layer (``threads.config``), records every change in ``config_history``,
and applies definition migrations at start-up.

**Cache and hot reload.** The system layer and each user's system+user resolution are cached in memory (an
LRU over users). A change commits a new *generation* of its layer and a ``NOTIFY clew_config`` in the same
transaction; every process's LISTEN connection relays it here, which drops the affected cache entries and
tells open SSE streams of the affected users (``config_updated``). A run's resolution
(:meth:`resolve_for_run`) additionally compares the cached generations with the database (one primary-key
read), so the next run sees a change at once in every process even if the NOTIFY is still in flight; plain
reads (:meth:`cached`) rely on the NOTIFY alone.

**Snapshots.** The run engine stores what :meth:`resolve_for_run` returns on the run (``config_snapshot``);
a retried run reuses it, and a run that resumes an interrupt inherits its predecessor's snapshot (secrets
excepted, which are always current), so a research keeps the configuration it started with.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import OrderedDict, deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, NoReturn

import structlog

from config_schema import migrations as defmig
from config_schema.layers import read_env, read_file
from config_schema.registry import REGISTRY, Registry
from config_schema.resolver import (
    ConfigIssues,
    Layer,
    Resolved,
    categories,
    check_deletes,
    check_values,
    defaults,
    layer_allows,
    mask,
    readable,
)
from domain.errors import ClewError, Forbidden, InvalidInput, NotFound
from engine.broker import Broker
from persistence import channels
from persistence import config_repo as repo
from persistence.channels import CONFIG_CHANNEL
from persistence.config_repo import HistoryEntry, StoredValue

if TYPE_CHECKING:
    from config_schema.settings import RuntimeSettings
    from persistence.db import Conn, Database

log = structlog.get_logger("clew.config")

MIGRATION_ACTOR = "clew:migration"
_SEEN_MAX = 1024


def to_api_error(exc: ConfigIssues) -> ClewError:
    """The error for rejected keys: Forbidden (403) for a scope violation, else InvalidInput; names key and rule."""
    first = exc.issues[0]
    code = "scope_forbidden" if exc.status == 403 else "invalid_setting"
    detail = first.message if len(exc.issues) == 1 else "; ".join(i.message for i in exc.issues)
    kind = Forbidden if exc.status == 403 else InvalidInput
    return kind(
        detail, code=code, key=first.key, rule=first.rule, errors=[i.as_dict() for i in exc.issues]
    )


def _raise(exc: ConfigIssues) -> NoReturn:
    raise to_api_error(exc) from exc


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


@dataclass
class _SystemEntry:
    generation: int
    resolved: Resolved


@dataclass
class _UserEntry:
    system_generation: int
    generation: int
    resolved: Resolved


class ConfigWatch:
    """What an SSE stream receives: ``config_updated`` payloads, and a wake-up of the stream's event."""

    def __init__(self, user_id: str, wake: asyncio.Event) -> None:
        self.user_id = user_id
        self.wake = wake
        self._events: deque[dict[str, Any]] = deque(maxlen=64)

    def push(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        self.wake.set()

    def drain(self) -> list[dict[str, Any]]:
        out = list(self._events)
        self._events.clear()
        return out


class ConfigService:
    def __init__(
        self,
        db: Database,
        broker: Broker | None = None,
        *,
        settings: RuntimeSettings | None = None,
        registry: Registry = REGISTRY,
        migrations: Sequence[defmig.DefinitionMigration] | None = None,
        cache_size: int = 10_000,
    ) -> None:
        self.db = db
        self.broker = broker
        self.settings = settings
        self.registry = registry
        self.migrations = list(defmig.MIGRATIONS if migrations is None else migrations)
        defmig.check(self.migrations)
        self.schema_version = defmig.schema_version(self.migrations)
        self.cache_size = cache_size
        self._categories = categories(registry)
        self._secret_keys = [s.key for s in registry.all() if s.secret]
        self._base = defaults(registry)
        self._system: _SystemEntry | None = None
        self._users: OrderedDict[str, _UserEntry] = OrderedDict()
        self._epoch = 0  # bumped by every invalidation; a load that raced one is not cached
        self._watchers: dict[str, set[ConfigWatch]] = {}
        self._seen: deque[str] = deque(maxlen=_SEEN_MAX)
        self._seen_set: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    # ------------------------------------------------------------------ start-up
    async def start(self) -> None:
        """Migrate stored values to the current definitions, read the TOML file and environment, listen."""
        await self.migrate_definitions()
        base = defaults(self.registry)
        path = self.settings.config_file if self.settings is not None else None
        if path is not None:
            file_values = await asyncio.to_thread(read_file, path, self.registry, self.migrations)
            base = base.overlay("file", file_values)
        env_values = read_env(self.registry, self.migrations)
        self._base = base.overlay("env", env_values)
        self._invalidate_all()
        if self.broker is not None:
            self.broker.on(CONFIG_CHANNEL, self._on_notify)
        log.info(
            "configuration ready",
            schema_version=self.schema_version,
            file=str(path) if path else None,
            env_keys=sorted(env_values),
        )

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def migrate_definitions(self) -> int:
        """Apply pending definition migrations to every stored layer, once; return the changes made."""
        changed = 0
        async with self.db.transaction() as conn:
            await channels.xact_lock(conn, channels.CONFIG_MIGRATION_LOCK)
            stored = await repo.get_schema_version(conn, for_update=True)
            if stored > self.schema_version:
                log.warning(
                    "stored configuration is newer than this code's definitions",
                    stored=stored,
                    expected=self.schema_version,
                )
                return 0
            todo = defmig.pending(self.migrations, stored)
            if todo:
                keys = defmig.touched_keys(todo)
                for layer, owner in await repo.owners_with_keys(conn, keys):
                    await repo.lock_generation(conn, layer, owner)
                    current = await repo.current_values(conn, layer, owner, keys)
                    desired = self._migrated(current, todo)
                    result = await self._apply(
                        conn, layer, owner, current, desired, MIGRATION_ACTOR, "migrate"
                    )
                    changed += len(result.changes)
                for thread_id in await repo.threads_with_keys(conn, keys):
                    await repo.lock_generation(conn, "session", thread_id)
                    config = await repo.thread_config(conn, thread_id, for_update=True) or {}
                    current = {k: StoredValue(v, False) for k, v in config.items() if k in keys}
                    desired = self._migrated(current, todo)
                    result = await self._apply_thread(
                        conn, thread_id, config, current, desired, MIGRATION_ACTOR, "migrate"
                    )
                    changed += len(result.changes)
                await channels.notify(conn, CONFIG_CHANNEL, "")
                log.info(
                    "definition migrations applied",
                    from_version=stored,
                    to_version=self.schema_version,
                    changes=changed,
                )
            if stored != self.schema_version:
                await repo.set_schema_version(conn, self.schema_version)
        return changed

    def _migrated(
        self, current: Mapping[str, StoredValue], todo: Sequence[defmig.DefinitionMigration]
    ) -> dict[str, StoredValue | None]:
        """The desired value of every key in ``current`` or produced from it (None: drop)."""
        plain = {k: v.value for k, v in current.items()}
        flags = {k: v.admin_set for k, v in current.items()}
        for m in todo:  # a renamed value keeps who set it
            if isinstance(m, defmig.Rename) and m.old in flags:
                flags.setdefault(m.new, flags[m.old])
        migrated = defmig.apply(plain, todo)
        desired: dict[str, StoredValue | None] = {k: None for k in current}
        for key, value in migrated.items():
            setting = self.registry.get(key)
            if setting is not None:
                try:
                    value = setting.validate_value(value)
                except Exception as exc:
                    log.warning("migrated value is invalid; dropped", key=key, error=str(exc))
                    continue
            desired[key] = StoredValue(value, flags.get(key, False))
        return desired

    # ------------------------------------------------------------------ cache
    def _invalidate_all(self) -> None:
        self._epoch += 1
        self._system = None
        self._users.clear()

    def _invalidate(self, layer: str, owner: str) -> None:
        if layer == "system":
            self._invalidate_all()
        elif layer == "user":
            self._epoch += 1
            self._users.pop(owner, None)

    def cache_clear(self) -> None:
        """Forget every cached layer (benchmarks measure the uncached path with it)."""
        self._invalidate_all()

    def _valid_layer(self, layer: Layer, stored: Mapping[str, StoredValue]) -> dict[str, Any]:
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
        entry = _SystemEntry(generation, self._base.overlay("admin", self._valid_layer("system", stored)))
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

    async def user_resolved(self, user_id: str, *, verify: bool = True) -> Resolved:
        """System → user resolution of ``user_id`` (shared, read-only).

        ``verify`` checks the cached generations against the database (one primary-key read), so the result
        is current even if a change's NOTIFY has not arrived yet; without it the cache is trusted.
        """
        if not verify:
            hit = self.cached(user_id)
            if hit is not None:
                return hit
        async with self.db.connection() as conn:
            expected: tuple[int, int] | None = None
            if verify:
                expected = await repo.generations(conn, user_id)
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
            epoch = self._epoch
            system = await self._system_entry(conn, expected[0] if expected else None)
            generation, stored = await repo.load_layer(conn, "user", user_id)
        resolved = system.resolved.overlay("user", self._valid_layer("user", stored))
        if self._epoch == epoch:
            self._users[user_id] = _UserEntry(system.generation, generation, resolved)
            self._users.move_to_end(user_id)
            while len(self._users) > self.cache_size:
                self._users.popitem(last=False)
        return resolved

    # ------------------------------------------------------------------ resolution
    def check_session(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Session values validated (scope session; a graph's own context keys pass), else InvalidInput."""
        if not values:
            return {}
        try:
            return check_values(values, "session", self.registry, known_categories=self._categories)
        except ConfigIssues as exc:
            _raise(exc)

    async def resolve(
        self,
        user_id: str,
        *,
        assistant: Mapping[str, Any] | None = None,
        thread: Mapping[str, Any] | None = None,
        run: Mapping[str, Any] | None = None,
        verify: bool = True,
    ) -> Resolved:
        """Full resolution with provenance; session sources are validated (InvalidInput on a bad key)."""
        resolved = await self.user_resolved(user_id, verify=verify)
        for source, values in (("assistant", assistant), ("thread", thread), ("run", run)):
            if values:
                resolved = resolved.overlay(source, self.check_session(values))
        return resolved

    async def resolve_for_run(
        self,
        user_id: str,
        thread_id: str,
        session_values: Mapping[str, Any] | None,
        *,
        resuming: bool = False,
        run_context: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """The flat values a run starts with (its LangGraph context), snapshotted on the run by the engine.

        ``session_values`` is the session layer already merged (assistant context ← thread config ← run
        context). A run that resumes an interrupt (``resuming``) keeps its predecessor's snapshot, with its
        own ``run_context`` laid on top; keys declared since then get their current value, and secrets (API
        keys) are always current. Raises Forbidden / InvalidInput for a session value its layer may not set.
        """
        if resuming:
            own = self.check_session(run_context)
            resolved = await self.user_resolved(user_id, verify=True)
            async with self.db.connection() as conn:
                previous = await repo.latest_run_context(conn, user_id, thread_id)
            if previous is not None:
                # keys declared since fill in; credentials are always current (a rotated key must not strand
                # an interrupted research); everything else stays as the research started
                secrets = {k: resolved.values[k] for k in self._secret_keys if k in resolved.values}
                return {**resolved.values, **previous, **secrets, **own}
        session = self.check_session(session_values)
        resolved = await self.user_resolved(user_id, verify=True)
        return {**resolved.values, **session}

    # ------------------------------------------------------------------ writes: system and user layers
    async def set_values(
        self, layer: Layer, owner: str, values: Mapping[str, Any], *, actor: str, admin: bool
    ) -> ChangeResult:
        """Set keys of the system layer (owner '') or a user layer, all or nothing."""
        if layer == "session":
            raise ValueError("use set_thread_config for the session layer")
        try:
            checked = check_values(
                values, layer, self.registry, admin=admin, known_categories=self._categories
            )
        except ConfigIssues as exc:
            _raise(exc)
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
            _raise(exc)
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
            result = await self._apply(conn, layer, owner, current, desired, actor, "rollback")
            result.skipped = skipped
            payload = await self._notify(conn, result) if result.changes else None
        if payload is not None:
            self._handle(payload)  # at once here; the NOTIFY echo is recognised and skipped
        return result

    async def _write(
        self, layer: Layer, owner: str, desired: dict[str, StoredValue | None], actor: str, action: str
    ) -> ChangeResult:
        async with self.db.transaction() as conn:
            await repo.lock_generation(conn, layer, owner)
            current = await repo.current_values(conn, layer, owner, desired)
            result = await self._apply(conn, layer, owner, current, desired, actor, action)
            payload = await self._notify(conn, result) if result.changes else None
        if payload is not None:
            self._handle(payload)  # at once here; the NOTIFY echo is recognised and skipped
        return result

    async def _apply(
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
        changes = [
            Change(k, current.get(k), new) for k, new in desired.items() if not _same(current.get(k), new)
        ]
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
        await repo.insert_history(conn, [_entry(layer, owner, generation, c, action, actor) for c in changes])
        return ChangeResult(layer, owner, generation, changes)

    # ------------------------------------------------------------------ writes: session layer
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
            result = await self._apply_thread(conn, thread_id, stored, current, desired, actor, "set")
            payload = await self._notify(conn, result, user_id=user_id) if result.changes else None
        if payload is not None:
            self._handle(payload)
        return result

    async def _apply_thread(
        self,
        conn: Conn,
        thread_id: str,
        config: Mapping[str, Any],
        current: Mapping[str, StoredValue],
        desired: Mapping[str, StoredValue | None],
        actor: str,
        action: str,
    ) -> ChangeResult:
        changes = [
            Change(k, current.get(k), new) for k, new in desired.items() if not _same(current.get(k), new)
        ]
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
            conn, [_entry("session", thread_id, generation, c, action, actor) for c in changes]
        )
        return ChangeResult("session", thread_id, generation, changes)

    # ------------------------------------------------------------------ history
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

    # ------------------------------------------------------------------ hot reload
    async def _notify(
        self, conn: Conn, result: ChangeResult, *, user_id: str | None = None
    ) -> dict[str, Any]:
        """Announce the change in the writer's transaction (NOTIFY): every process hears of it exactly when it commits."""
        payload: dict[str, Any] = {
            "id": uuid.uuid4().hex,
            "layer": result.layer,
            "owner": result.owner,
            "user_id": user_id if user_id is not None else (result.owner if result.layer == "user" else None),
            "version": result.version,
            "keys": result.keys,
        }
        text = json.dumps(payload, separators=(",", ":"))
        if len(text.encode()) > 7900:  # NOTIFY payloads stop at 8000 bytes: name no keys
            payload["keys"] = []
            text = json.dumps(payload, separators=(",", ":"))
        await channels.notify(conn, CONFIG_CHANNEL, text)
        return payload

    async def _on_notify(self, text: str) -> None:
        try:
            payload = json.loads(text) if text else None
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):  # reconnect, migrations, or unknown: start from scratch
            self._invalidate_all()
            return
        self._handle(payload)

    def _handle(self, payload: dict[str, Any]) -> None:
        ident = str(payload.get("id", ""))
        if ident:
            if ident in self._seen_set:
                return
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(ident)
            self._seen_set.add(ident)
        layer = str(payload.get("layer", ""))
        owner = str(payload.get("owner", ""))
        if layer == "user" and owner:
            self._invalidate("user", owner)
        elif layer != "session":  # the system layer (or anything unexpected): every user's resolution
            self._invalidate_all()
        if not self._watchers:
            return
        if layer == "system":
            users = list(self._watchers)
        else:
            uid = payload.get("user_id")
            users = [uid] if isinstance(uid, str) and uid in self._watchers else []
        for uid in users:
            task = asyncio.get_running_loop().create_task(self._tell(uid, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tell(self, user_id: str, payload: dict[str, Any]) -> None:
        """Push a ``config_updated`` event with the new effective values to ``user_id``'s open streams."""
        keys = [k for k in payload.get("keys") or [] if readable(self.registry.get(k), admin=False)]
        if payload.get("keys") and not keys:
            return  # only keys users cannot read changed
        try:
            resolved = await self.user_resolved(user_id, verify=True)
            if payload.get("layer") == "session":
                async with self.db.connection() as conn:
                    thread = await repo.thread_config(conn, str(payload.get("owner")), user_id=user_id)
                resolved = resolved.overlay("thread", thread or {})
        except Exception as exc:
            log.warning("config_updated: could not resolve", user_id=user_id, error=str(exc))
            return
        event: dict[str, Any] = {
            "layer": payload.get("layer"),
            "version": payload.get("version"),
            "keys": keys,
            "values": {k: mask(self.registry.get(k), resolved.values.get(k)) for k in keys},
            "sources": {k: resolved.sources.get(k) for k in keys},
        }
        if payload.get("layer") == "session":
            event["thread_id"] = payload.get("owner")
        for watch in list(self._watchers.get(user_id, ())):
            watch.push(event)

    @contextlib.contextmanager
    def watch(self, user_id: str, wake: asyncio.Event) -> Iterator[ConfigWatch]:
        """Receive ``config_updated`` payloads for ``user_id`` while the block runs; ``wake`` is set on each."""
        w = ConfigWatch(user_id, wake)
        self._watchers.setdefault(user_id, set()).add(w)
        try:
            yield w
        finally:
            group = self._watchers.get(user_id)
            if group is not None:
                group.discard(w)
                if not group:
                    self._watchers.pop(user_id, None)


def _same(a: StoredValue | None, b: StoredValue | None) -> bool:
    if a is None or b is None:
        return a is b
    return a.value == b.value and type(a.value) is type(b.value) and a.admin_set == b.admin_set


def _entry(layer: str, owner: str, generation: int, c: Change, action: str, actor: str) -> HistoryEntry:
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
