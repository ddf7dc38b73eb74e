"""Threads table access. Every function filters by ``user_id``: another user's thread does not exist."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from persistence.db import Conn

THREAD_COLUMNS = "thread_id, user_id, metadata, status, config, state_values, interrupts, error, created_at, updated_at"
SORTABLE = {"thread_id", "status", "created_at", "updated_at"}

GET = f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = %s AND user_id = %s"
GET_FOR_UPDATE = GET + " FOR UPDATE"
INSERT = f"""
INSERT INTO threads (thread_id, user_id, metadata, config) VALUES (%s, %s, %s, %s)
ON CONFLICT (thread_id) DO NOTHING RETURNING {THREAD_COLUMNS}
"""
EXISTS_ANY = "SELECT 1 FROM threads WHERE thread_id = %s"
UPDATE_METADATA = f"""
UPDATE threads SET metadata = metadata || %s, updated_at = now() WHERE thread_id = %s AND user_id = %s
RETURNING {THREAD_COLUMNS}
"""
SET_CONFIG = f"""
UPDATE threads SET config = %s, updated_at = now() WHERE thread_id = %s AND user_id = %s RETURNING {THREAD_COLUMNS}
"""
SET_STATUS = "UPDATE threads SET status = %s, updated_at = now() WHERE thread_id = %s"
# a thread's deletion: the runs' events first (deleting the thread cascades to its runs, after which they cannot
# be found), then the thread, then its checkpoints (LangGraph's tables have no foreign key)
DELETE_EVENTS = "DELETE FROM run_events WHERE run_id IN (SELECT run_id FROM runs WHERE thread_id = %s AND user_id = %s)"
DELETE = "DELETE FROM threads WHERE thread_id = %s AND user_id = %s"
DELETE_CHECKPOINTS = sql.SQL("DELETE FROM {} WHERE thread_id = %s")
CHECKPOINT_TABLES = ("checkpoints", "checkpoint_writes", "checkpoint_blobs")
SEARCH = sql.SQL(f"SELECT {THREAD_COLUMNS} FROM threads WHERE {{where}} ORDER BY {{order}} {{direction}} LIMIT %s OFFSET %s")
COUNT = sql.SQL("SELECT count(*) AS n FROM threads WHERE {where}")

# A user's threads of some graphs (by the graph id runs stamp on them), most recently updated first.
LIST_BY_GRAPHS = (
    f"SELECT {THREAD_COLUMNS} FROM threads WHERE user_id = %s AND metadata->>'graph_id' = ANY(%s) "
    "ORDER BY updated_at DESC LIMIT %s"
)
GET_ANY = f"SELECT {THREAD_COLUMNS} FROM threads WHERE thread_id = %s"
STATE = "SELECT state_values, interrupts FROM threads WHERE thread_id = %s"
# a thread at rest (not busy) set to the status its graph state says
SET_STATUS_AT_REST = "UPDATE threads SET status = %s, updated_at = now() WHERE thread_id = %s AND status <> 'busy'"
# a thread at rest settled from its latest checkpoint (after a state update)
SETTLE_AT_REST = """
UPDATE threads SET state_values = %s, interrupts = %s, status = %s, updated_at = now()
WHERE thread_id = %s AND status <> 'busy'
"""
# the thread row of a copy (its checkpoints are copied by the saver's acopy_thread); a busy source is idle there
COPY = f"""
INSERT INTO threads (thread_id, user_id, metadata, status, config, state_values, interrupts)
SELECT %s, user_id, metadata, CASE WHEN status = 'busy' THEN 'idle' ELSE status END, config, state_values, interrupts
FROM threads WHERE thread_id = %s RETURNING {THREAD_COLUMNS}
"""


async def state(conn: Conn, thread_id: str) -> dict[str, Any] | None:
    """Any user's thread: its last values and pending interrupts (``state_values``, ``interrupts``)."""
    cur = await conn.execute(STATE, (thread_id,))
    return await cur.fetchone()


async def get_any(conn: Conn, thread_id: str) -> dict[str, Any] | None:
    """Any user's thread (the engine's and nodes' own bookkeeping; an API read goes through :func:`get`)."""
    cur = await conn.execute(GET_ANY, (thread_id,))
    return await cur.fetchone()


async def set_status_at_rest(conn: Conn, thread_id: str, status: str) -> None:
    await conn.execute(SET_STATUS_AT_REST, (status, thread_id))


async def settle_at_rest(conn: Conn, thread_id: str, values: Any, interrupts: Any, status: str) -> None:
    """``values`` / ``interrupts``: JSON-ready (the caller converts the graph's state)."""
    await conn.execute(SETTLE_AT_REST, (Jsonb(values), Jsonb(interrupts), status, thread_id))


async def copy(conn: Conn, source_thread_id: str, target_thread_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(COPY, (target_thread_id, source_thread_id))
    return await cur.fetchone()


async def get(conn: Conn, user_id: str, thread_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    cur = await conn.execute(GET_FOR_UPDATE if for_update else GET, (thread_id, user_id))
    return await cur.fetchone()


async def insert(
    conn: Conn, user_id: str, thread_id: str, metadata: dict[str, Any], config: dict[str, Any] | None = None
) -> dict[str, Any] | None:
    """Insert; returns None when the id is taken (by anyone)."""
    cur = await conn.execute(INSERT, (thread_id, user_id, Jsonb(metadata), Jsonb(config or {})))
    return await cur.fetchone()


async def exists_any(conn: Conn, thread_id: str) -> bool:
    cur = await conn.execute(EXISTS_ANY, (thread_id,))
    return await cur.fetchone() is not None


async def update_metadata(conn: Conn, user_id: str, thread_id: str, metadata: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(UPDATE_METADATA, (Jsonb(metadata), thread_id, user_id))
    return await cur.fetchone()


async def set_config(conn: Conn, user_id: str, thread_id: str, config: dict[str, Any]) -> dict[str, Any] | None:
    cur = await conn.execute(SET_CONFIG, (Jsonb(config), thread_id, user_id))
    return await cur.fetchone()


async def set_status(conn: Conn, thread_id: str, status: str) -> None:
    await conn.execute(SET_STATUS, (status, thread_id))


async def delete(conn: Conn, user_id: str, thread_id: str) -> bool:
    await conn.execute(DELETE_EVENTS, (thread_id, user_id))
    cur = await conn.execute(DELETE, (thread_id, user_id))
    if cur.rowcount:
        for table in CHECKPOINT_TABLES:
            await conn.execute(DELETE_CHECKPOINTS.format(sql.Identifier(table)), (thread_id,))
    return bool(cur.rowcount)


def _filters(
    user_id: str, metadata: dict[str, Any] | None, status: str | None, ids: list[str] | None,
    values: dict[str, Any] | None = None,
) -> tuple[sql.Composable, list[Any]]:
    """``metadata`` / ``values``: the thread's metadata / latest state values contain them (jsonb ``@>``)."""
    where = [sql.SQL("user_id = %s")]
    params: list[Any] = [user_id]
    if metadata:
        where.append(sql.SQL("metadata @> %s"))
        params.append(Jsonb(metadata))
    if values:
        where.append(sql.SQL("state_values @> %s"))
        params.append(Jsonb(values))
    if status:
        where.append(sql.SQL("status = %s"))
        params.append(status)
    if ids:
        where.append(sql.SQL("thread_id = ANY(%s::uuid[])"))
        params.append(ids)
    return sql.SQL(" AND ").join(where), params


async def search(
    conn: Conn,
    user_id: str,
    *,
    metadata: dict[str, Any] | None,
    status: str | None,
    ids: list[str] | None,
    limit: int,
    offset: int,
    sort_by: str = "created_at",
    sort_order: str = "desc",
    values: dict[str, Any] | None = None,
) -> list[dict[str, Any]]:
    where, params = _filters(user_id, metadata, status, ids, values)
    order = sort_by if sort_by in SORTABLE else "created_at"
    direction = sql.SQL("ASC" if sort_order.lower() == "asc" else "DESC")
    cur = await conn.execute(
        SEARCH.format(where=where, order=sql.Identifier(order), direction=direction), (*params, limit, offset)
    )
    return await cur.fetchall()


async def count(conn: Conn, user_id: str, *, metadata: dict[str, Any] | None, status: str | None,
                values: dict[str, Any] | None = None) -> int:
    where, params = _filters(user_id, metadata, status, None, values)
    cur = await conn.execute(COUNT.format(where=where), params)
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def list_by_graphs(conn: Conn, user_id: str, graph_ids: list[str], *, limit: int) -> list[dict[str, Any]]:
    """The user's threads that ran one of ``graph_ids``, most recently updated first (``clew threads``)."""
    cur = await conn.execute(LIST_BY_GRAPHS, (user_id, graph_ids, limit))
    return await cur.fetchall()
