"""Applying definition migrations (``config_schema.migrations``) to every stored layer, once, at start-up.

Under an advisory lock, the stored schema version is compared with the code's: pending migrations rewrite the
system, user and session layers that hold a touched key (each as a new version, by ``clew:migration``),
and a NOTIFY tells every process to drop its cache. A database newer than the code is left alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import structlog

from config_schema import migrations as defmig
from config_schema.registry import Registry
from config_schema.writes import LayerWriter
from persistence import channels
from persistence import config_repo as repo
from persistence.channels import CONFIG_CHANNEL
from persistence.config_repo import StoredValue

log = structlog.get_logger("clew.config")

MIGRATION_ACTOR = "clew:migration"


async def migrate_definitions(
    writer: LayerWriter, migrations: Sequence[defmig.DefinitionMigration], schema_version: int
) -> int:
    """Apply pending definition migrations to every stored layer, once; return the changes made."""
    changed = 0
    async with writer.db.transaction() as conn:
        await channels.xact_lock(conn, channels.CONFIG_MIGRATION_LOCK)
        stored = await repo.get_schema_version(conn, for_update=True)
        if stored > schema_version:
            log.warning(
                "stored configuration is newer than this code's definitions",
                stored=stored,
                expected=schema_version,
            )
            return 0
        todo = defmig.pending(migrations, stored)
        if todo:
            keys = defmig.touched_keys(todo)
            for layer, owner in await repo.owners_with_keys(conn, keys):
                await repo.lock_generation(conn, layer, owner)
                current = await repo.current_values(conn, layer, owner, keys)
                desired = migrated(writer.registry, current, todo)
                result = await writer.apply(conn, layer, owner, current, desired, MIGRATION_ACTOR, "migrate")
                changed += len(result.changes)
            for thread_id in await repo.threads_with_keys(conn, keys):
                await repo.lock_generation(conn, "session", thread_id)
                config = await repo.thread_config(conn, thread_id, for_update=True) or {}
                current = {k: StoredValue(v, False) for k, v in config.items() if k in keys}
                desired = migrated(writer.registry, current, todo)
                result = await writer.apply_thread(
                    conn, thread_id, config, current, desired, MIGRATION_ACTOR, "migrate"
                )
                changed += len(result.changes)
            await channels.notify(conn, CONFIG_CHANNEL, "")
            log.info(
                "definition migrations applied",
                from_version=stored,
                to_version=schema_version,
                changes=changed,
            )
        if stored != schema_version:
            await repo.set_schema_version(conn, schema_version)
    return changed


def migrated(
    registry: Registry, current: Mapping[str, StoredValue], todo: Sequence[defmig.DefinitionMigration]
) -> dict[str, StoredValue | None]:
    """The desired value of every key in ``current`` or produced from it (None: drop)."""
    plain = {k: v.value for k, v in current.items()}
    flags = {k: v.admin_set for k, v in current.items()}
    for m in todo:  # a renamed value keeps who set it
        if isinstance(m, defmig.Rename) and m.old in flags:
            flags.setdefault(m.new, flags[m.old])
    values = defmig.apply(plain, todo)
    desired: dict[str, StoredValue | None] = {k: None for k in current}
    for key, value in values.items():
        setting = registry.get(key)
        if setting is not None:
            try:
                value = setting.validate_value(value)
            except Exception as exc:
                log.warning("migrated value is invalid; dropped", key=key, error=str(exc))
                continue
        desired[key] = StoredValue(value, flags.get(key, False))
    return desired
