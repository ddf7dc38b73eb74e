"""SQL for the configuration layers: stored values, generations, history, schema version, thread configs.

Every function takes a connection so callers decide the transaction. Writers of one layer owner take
:func:`lock_generation` first: the row lock serialises concurrent changes of the same user (or of the system
layer, or of one thread), so a batch is applied whole and its history's "old value" is the true one.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from psycopg.types.json import Jsonb

from persistence.db import Conn

# the layer's generation and values in one statement (one snapshot, so they agree)
LOAD_LAYER = """
SELECT COALESCE((SELECT generation FROM config_generations WHERE layer = %(l)s AND owner = %(o)s), 0) AS generation,
    COALESCE((SELECT jsonb_object_agg(key, jsonb_build_array(value, admin_set))
              FROM config_values WHERE layer = %(l)s AND owner = %(o)s), '{}'::jsonb) AS vals
"""
GENERATIONS = """
SELECT COALESCE(max(generation) FILTER (WHERE layer = 'system'), 0) AS system,
       COALESCE(max(generation) FILTER (WHERE layer = 'user'), 0) AS "user"
FROM config_generations
WHERE (layer = 'system' AND owner = '') OR (layer = 'user' AND owner = %s)
"""
CREATE_GENERATION = "INSERT INTO config_generations (layer, owner) VALUES (%s, %s) ON CONFLICT (layer, owner) DO NOTHING"
LOCK_GENERATION = "SELECT generation FROM config_generations WHERE layer = %s AND owner = %s FOR UPDATE"
BUMP_GENERATION = """
UPDATE config_generations SET generation = generation + 1, updated_at = now()
WHERE layer = %s AND owner = %s RETURNING generation
"""
CURRENT_VALUES = "SELECT key, value, admin_set FROM config_values WHERE layer = %s AND owner = %s AND key = ANY(%s)"
UPSERT_VALUE = """
INSERT INTO config_values (layer, owner, key, value, admin_set, updated_by) VALUES (%s, %s, %s, %s, %s, %s)
ON CONFLICT (layer, owner, key) DO UPDATE SET value = EXCLUDED.value, admin_set = EXCLUDED.admin_set,
    updated_by = EXCLUDED.updated_by, updated_at = now()
"""
DELETE_VALUE = "DELETE FROM config_values WHERE layer = %s AND owner = %s AND key = %s"
INSERT_HISTORY = """
INSERT INTO config_history (layer, owner, generation, key, old_set, old_value, new_set, new_value, action, changed_by)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
# history rows of the newest ``limit`` versions (before ``before``), newest first
HISTORY = """
WITH versions AS (
    SELECT DISTINCT generation FROM config_history
    WHERE layer = %(l)s AND owner = %(o)s
      AND (%(before)s::bigint IS NULL OR generation < %(before)s::bigint)
      AND (%(key)s::text IS NULL OR key = %(key)s::text)
    ORDER BY generation DESC LIMIT %(limit)s)
SELECT generation, key, old_set, old_value, new_set, new_value, action, changed_by, changed_at
FROM config_history
WHERE layer = %(l)s AND owner = %(o)s AND generation IN (SELECT generation FROM versions)
  AND (%(key)s::text IS NULL OR key = %(key)s::text)
ORDER BY generation DESC, id
"""
# for each key changed after a version: its first change after it (whose old value is the value then)
ROLLBACK_TARGETS = """
SELECT DISTINCT ON (key) key, old_set, old_value FROM config_history
WHERE layer = %s AND owner = %s AND generation > %s
ORDER BY key, generation, id
"""
SCHEMA_VERSION = "SELECT version FROM config_schema_state WHERE id"
SCHEMA_VERSION_FOR_UPDATE = SCHEMA_VERSION + " FOR UPDATE"
SET_SCHEMA_VERSION = """
INSERT INTO config_schema_state (id, version) VALUES (true, %s)
ON CONFLICT (id) DO UPDATE SET version = EXCLUDED.version, updated_at = now()
"""
OWNERS_WITH_KEYS = "SELECT DISTINCT layer, owner FROM config_values WHERE key = ANY(%s) ORDER BY layer, owner"
THREADS_WITH_KEYS = "SELECT thread_id FROM threads WHERE config ?| %s ORDER BY thread_id"
THREAD_CONFIG = "SELECT config FROM threads WHERE thread_id = %s"
THREAD_CONFIG_OF_USER = "SELECT config FROM threads WHERE thread_id = %s AND user_id = %s"
SET_THREAD_CONFIG = "UPDATE threads SET config = %s, updated_at = now() WHERE thread_id = %s"
# the configuration snapshot of the thread's newest run (what a resumed run continues with)
LATEST_RUN_CONTEXT = """
SELECT config_snapshot -> 'context' AS context FROM runs
WHERE thread_id = %s AND user_id = %s ORDER BY created_at DESC LIMIT 1
"""


@dataclass(frozen=True)
class StoredValue:
    value: Any
    admin_set: bool


@dataclass(frozen=True)
class HistoryEntry:
    layer: str
    owner: str
    generation: int
    key: str
    old_set: bool
    old_value: Any
    new_set: bool
    new_value: Any
    action: str
    changed_by: str


def _jsonb(present: bool, value: Any) -> Jsonb | None:
    return Jsonb(value) if present else None


async def load_layer(conn: Conn, layer: str, owner: str) -> tuple[int, dict[str, StoredValue]]:
    """The layer's generation and values, read in one statement (one snapshot, so they agree)."""
    cur = await conn.execute(LOAD_LAYER, {"l": layer, "o": owner})
    row = await cur.fetchone()
    assert row is not None
    values = {k: StoredValue(v[0], bool(v[1])) for k, v in (row["vals"] or {}).items()}
    return int(row["generation"]), values


async def generations(conn: Conn, user_id: str) -> tuple[int, int]:
    """``(system generation, user generation)``: one primary-key read to check a cache is fresh."""
    cur = await conn.execute(GENERATIONS, (user_id,))
    row = await cur.fetchone()
    assert row is not None
    return int(row["system"]), int(row["user"])


async def lock_generation(conn: Conn, layer: str, owner: str) -> int:
    """Lock the owner's generation row (creating it) until the transaction ends; return its value."""
    await conn.execute(CREATE_GENERATION, (layer, owner))
    cur = await conn.execute(LOCK_GENERATION, (layer, owner))
    row = await cur.fetchone()
    assert row is not None
    return int(row["generation"])


async def bump_generation(conn: Conn, layer: str, owner: str) -> int:
    cur = await conn.execute(BUMP_GENERATION, (layer, owner))
    row = await cur.fetchone()
    assert row is not None
    return int(row["generation"])


async def current_values(conn: Conn, layer: str, owner: str, keys: Iterable[str]) -> dict[str, StoredValue]:
    cur = await conn.execute(CURRENT_VALUES, (layer, owner, list(keys)))
    return {r["key"]: StoredValue(r["value"], r["admin_set"]) for r in await cur.fetchall()}


async def upsert_value(
    conn: Conn, layer: str, owner: str, key: str, value: Any, *, admin_set: bool, actor: str
) -> None:
    await conn.execute(
        UPSERT_VALUE,
        (layer, owner, key, Jsonb(value), admin_set, actor),
    )


async def delete_value(conn: Conn, layer: str, owner: str, key: str) -> None:
    await conn.execute(DELETE_VALUE, (layer, owner, key))


async def insert_history(conn: Conn, entries: Sequence[HistoryEntry]) -> None:
    if not entries:
        return
    async with conn.cursor() as cur:
        await cur.executemany(
            INSERT_HISTORY,
            [
                (
                    e.layer,
                    e.owner,
                    e.generation,
                    e.key,
                    e.old_set,
                    _jsonb(e.old_set, e.old_value),
                    e.new_set,
                    _jsonb(e.new_set, e.new_value),
                    e.action,
                    e.changed_by,
                )
                for e in entries
            ],
        )


async def history(
    conn: Conn, layer: str, owner: str, *, limit: int, before: int | None = None, key: str | None = None
) -> list[dict[str, Any]]:
    """History rows of the newest ``limit`` versions (before ``before``), newest first."""
    cur = await conn.execute(
        HISTORY,
        {"l": layer, "o": owner, "before": before, "key": key, "limit": limit},
    )
    return await cur.fetchall()


async def rollback_targets(conn: Conn, layer: str, owner: str, version: int) -> dict[str, StoredValue | None]:
    """For each key changed after ``version``: its value right after ``version`` (None: no value then)."""
    cur = await conn.execute(ROLLBACK_TARGETS, (layer, owner, version))
    return {
        r["key"]: StoredValue(r["old_value"], False) if r["old_set"] else None for r in await cur.fetchall()
    }


async def get_schema_version(conn: Conn, *, for_update: bool = False) -> int:
    cur = await conn.execute(SCHEMA_VERSION_FOR_UPDATE if for_update else SCHEMA_VERSION)
    row = await cur.fetchone()
    return int(row["version"]) if row else 1


async def set_schema_version(conn: Conn, version: int) -> None:
    await conn.execute(SET_SCHEMA_VERSION, (version,))


async def owners_with_keys(conn: Conn, keys: Iterable[str]) -> list[tuple[str, str]]:
    """``(layer, owner)`` of every stored layer holding one of ``keys``."""
    cur = await conn.execute(OWNERS_WITH_KEYS, (list(keys),))
    return [(r["layer"], r["owner"]) for r in await cur.fetchall()]


async def threads_with_keys(conn: Conn, keys: Iterable[str]) -> list[str]:
    cur = await conn.execute(THREADS_WITH_KEYS, (list(keys),))
    return [str(r["thread_id"]) for r in await cur.fetchall()]


async def thread_config(
    conn: Conn, thread_id: str, *, user_id: str | None = None, for_update: bool = False
) -> dict[str, Any] | None:
    """A thread's session layer (``None``: no such thread, or not ``user_id``'s)."""
    lock = " FOR UPDATE" if for_update else ""
    if user_id is None:
        cur = await conn.execute(THREAD_CONFIG + lock, (thread_id,))
    else:
        cur = await conn.execute(THREAD_CONFIG_OF_USER + lock, (thread_id, user_id))
    row = await cur.fetchone()
    return None if row is None else dict(row["config"] or {})


async def set_thread_config(conn: Conn, thread_id: str, config: dict[str, Any]) -> None:
    await conn.execute(SET_THREAD_CONFIG, (Jsonb(config), thread_id))


async def latest_run_context(conn: Conn, user_id: str, thread_id: str) -> dict[str, Any] | None:
    """The configuration snapshot of the thread's newest run (what a resumed run continues with)."""
    cur = await conn.execute(LATEST_RUN_CONTEXT, (thread_id, user_id))
    row = await cur.fetchone()
    if row is None or not isinstance(row["context"], dict):
        return None
    return dict(row["context"])
