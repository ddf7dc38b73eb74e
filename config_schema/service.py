"""The configuration service: layered resolution with provenance, over its cache, writes and hot reload.

One :class:`ConfigService` per process (``runtime.config``, built by ``Runtime.start``). It resolves
system → user → session (see ``config_schema.resolver``) and hands a run the values it starts with. The
pieces it is made of:

- ``config_schema.cache``: the in-process cache of resolved system and user layers, checked by generation;
- ``config_schema.reload``: the change NOTIFY, the invalidation it causes in every process, and the
  ``config_updated`` events of open SSE streams;
- ``config_schema.writes``: writes of the system, user and session layers as versions, history, rollback;
- ``config_schema.migrate``: definition migrations applied to every stored layer at start-up.

**Snapshots.** The run engine stores what :meth:`ConfigService.resolve_for_run` returns on the run
(``config_snapshot``); a retried run reuses it, and a run that resumes an interrupt inherits its predecessor's
snapshot (secrets excepted, which are always current), so a research keeps the configuration it started with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import structlog

from config_schema import migrations as defmig
from config_schema.cache import ResolutionCache
from config_schema.changes import raise_issues
from config_schema.layers import read_env, read_file
from config_schema.migrate import migrate_definitions
from config_schema.registry import REGISTRY, Registry
from config_schema.reload import ConfigFeed, Listener
from config_schema.resolver import ConfigIssues, Resolved, categories, check_values, defaults
from config_schema.writes import LayerWriter
from persistence import config_repo as repo

if TYPE_CHECKING:
    from config_schema.settings import RuntimeSettings
    from persistence.db import Database

log = structlog.get_logger("clew.config")


class ConfigService:
    """Resolution for users, threads and runs; writes, history and watching go to the parts it holds."""

    def __init__(
        self,
        db: Database,
        broker: Listener | None = None,
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
        self._categories = categories(registry)
        self._secret_keys = [s.key for s in registry.all() if s.secret]
        self.cache = ResolutionCache(db, registry, defaults(registry), size=cache_size)
        self.feed = ConfigFeed(self.cache, registry)
        self.writer = LayerWriter(db, registry, self.feed, self.check_session, self._categories)
        # the parts' public methods, as the service's own
        self.system_resolved = self.cache.system_resolved
        self.user_resolved = self.cache.user_resolved
        self.cached = self.cache.cached
        self.set_values = self.writer.set_values
        self.delete_values = self.writer.delete_values
        self.rollback = self.writer.rollback
        self.set_thread_config = self.writer.set_thread_config
        self.history = self.writer.history
        self.stored = self.writer.stored
        self.watch = self.feed.watch

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
        self.cache.base = base.overlay("env", env_values)
        self.cache.invalidate_all()
        if self.broker is not None:
            self.feed.listen(self.broker)
        log.info(
            "configuration ready",
            schema_version=self.schema_version,
            file=str(path) if path else None,
            env_keys=sorted(env_values),
        )

    async def stop(self) -> None:
        await self.feed.stop()

    async def migrate_definitions(self) -> int:
        """Apply pending definition migrations to every stored layer, once; return the changes made."""
        return await migrate_definitions(self.writer, self.migrations, self.schema_version)

    def cache_clear(self) -> None:
        """Forget every cached layer (benchmarks measure the uncached path with it)."""
        self.cache.invalidate_all()

    # ------------------------------------------------------------------ resolution
    def check_session(self, values: Mapping[str, Any] | None) -> dict[str, Any]:
        """Session values validated (scope session; a graph's own context keys pass), else InvalidInput."""
        if not values:
            return {}
        try:
            return check_values(values, "session", self.registry, known_categories=self._categories)
        except ConfigIssues as exc:
            raise_issues(exc)

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
        resolved = await self.cache.user_resolved(user_id, verify=verify)
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
        generations: tuple[int, int] | None = None,
    ) -> dict[str, Any]:
        """The flat values a run starts with (its LangGraph context), snapshotted on the run by the engine.

        ``session_values`` is the session layer already merged (assistant context ← thread config ← run
        context). A run that resumes an interrupt (``resuming``) keeps its predecessor's snapshot, with its
        own ``run_context`` laid on top; keys declared since then get their current value, and secrets (API
        keys) are always current. Raises Forbidden / InvalidInput for a session value its layer may not set.
        ``generations``: the layers' generations as the caller just read them (else they are read here).
        """
        if resuming:
            own = self.check_session(run_context)
            resolved = await self.cache.user_resolved(user_id, verify=True, generations=generations)
            async with self.db.connection() as conn:
                previous = await repo.latest_run_context(conn, user_id, thread_id)
            if previous is not None:
                # keys declared since fill in; credentials are always current (a rotated key must not strand
                # an interrupted research); everything else stays as the research started
                secrets = {k: resolved.values[k] for k in self._secret_keys if k in resolved.values}
                return {**resolved.values, **previous, **secrets, **own}
        session = self.check_session(session_values)
        resolved = await self.cache.user_resolved(user_id, verify=True, generations=generations)
        return {**resolved.values, **session}
