"""Exactly-once effect records (table ``side_effects``, migration 0040): one row per (thread, task namespace,
key), its state (``started`` / ``done``) and its recorded result. ``nodes/effects.py`` says how they are used."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from persistence.db import Conn

_KEY = "thread_id = %s AND task_ns = %s AND key = %s"

# recorded inside the effect's own transaction (once_in_transaction): a repeat finds the row and does nothing
CLAIM = """
INSERT INTO side_effects (thread_id, task_ns, key, run_id) VALUES (%s, %s, %s, %s)
ON CONFLICT DO NOTHING RETURNING 1
"""
GET = f"SELECT state, result FROM side_effects WHERE {_KEY}"
SET_RESULT = f"UPDATE side_effects SET result = %s, updated_at = now() WHERE {_KEY}"
# an effect outside the database (once): started before it runs, done with its result after
START = """
INSERT INTO side_effects (thread_id, task_ns, key, run_id, state) VALUES (%s, %s, %s, %s, 'started')
ON CONFLICT DO NOTHING
"""
FINISH = f"UPDATE side_effects SET state = 'done', result = %s, updated_at = now() WHERE {_KEY}"


async def claim(conn: Conn, thread_id: str, task_ns: str, key: str, run_id: str | None) -> bool:
    """Record the key; False when it was recorded before (the effect already ran)."""
    cur = await conn.execute(CLAIM, (thread_id, task_ns, key, run_id))
    return await cur.fetchone() is not None


async def get(conn: Conn, thread_id: str, task_ns: str, key: str) -> dict[str, Any] | None:
    """``{"state", "result"}`` of the record, or None."""
    cur = await conn.execute(GET, (thread_id, task_ns, key))
    return await cur.fetchone()


async def set_result(conn: Conn, thread_id: str, task_ns: str, key: str, result: Any) -> None:
    """``result``: JSON-ready."""
    await conn.execute(SET_RESULT, (Jsonb(result), thread_id, task_ns, key))


async def start(conn: Conn, thread_id: str, task_ns: str, key: str, run_id: str | None) -> None:
    await conn.execute(START, (thread_id, task_ns, key, run_id))


async def finish(conn: Conn, thread_id: str, task_ns: str, key: str, result: Any) -> None:
    """``result``: JSON-ready."""
    await conn.execute(FINISH, (Jsonb(result), thread_id, task_ns, key))
