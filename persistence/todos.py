"""Todos table access (the weak-interrupt pipeline). Reads for the API filter by ``user_id``: another user's
todo does not exist.

Filing is ``INSERT … ON CONFLICT DO NOTHING`` on a deterministic id, so a node that runs again files nothing
new; finishing is ``UPDATE … WHERE status = 'pending'`` on a row the caller locked, so a todo is completed or
cancelled once. Both also NOTIFY ``TODOS_CHANNEL`` (persistence/channels.py) with the todo's user (sent at
commit), so every process can push the user's todo list to its open streams (``GET /todos/stream``).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from persistence import channels
from persistence.db import Conn

TODO_COLUMNS = (
    "todo_id, thread_id, user_id, run_id, graph_id, node, todo_group, kind, message, data, options, "
    "answer_schema, status, result, due_at, created_at, updated_at, completed_at"
)

STATUSES = ("pending", "completed", "cancelled")

# filing is idempotent: a todo id filed before is left as it is (and read back)
INSERT = f"""
INSERT INTO todos (todo_id, thread_id, user_id, run_id, graph_id, node, todo_group, kind, message,
    data, options, answer_schema, due_at)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
ON CONFLICT (todo_id) DO NOTHING
RETURNING {TODO_COLUMNS}
"""
GET_ANY = f"SELECT {TODO_COLUMNS} FROM todos WHERE todo_id = %s"
GET = f"SELECT {TODO_COLUMNS} FROM todos WHERE todo_id = %s AND user_id = %s"
GET_FOR_UPDATE = GET + " FOR UPDATE"
# a pending todo completed or cancelled, once
FINISH = f"""
UPDATE todos SET status = %s, result = %s, completed_at = now(), updated_at = now()
WHERE todo_id = %s AND status = 'pending'
RETURNING {TODO_COLUMNS}
"""
LIST_FOR_THREAD = sql.SQL(f"SELECT {TODO_COLUMNS} FROM todos WHERE {{where}} ORDER BY created_at, todo_id")
LIST_FOR_USER = sql.SQL(
    f"SELECT {TODO_COLUMNS} FROM todos WHERE {{where}} ORDER BY created_at DESC, todo_id LIMIT %s OFFSET %s"
)
COUNT_PENDING = "SELECT count(*) AS n FROM todos WHERE thread_id = %s AND status = 'pending'"
COUNT_PENDING_IN_GROUP = "SELECT count(*) AS n FROM todos WHERE thread_id = %s AND todo_group = %s AND status = 'pending'"


async def notify_changed(conn: Conn, user_id: str) -> None:
    """Tell every process (at commit) that ``user_id``'s todos changed."""
    await channels.notify(conn, channels.TODOS_CHANNEL, user_id)


async def insert(
    conn: Conn,
    *,
    todo_id: str,
    thread_id: str,
    user_id: str,
    run_id: str | None,
    graph_id: str | None,
    node: str | None,
    group: str,
    kind: str,
    message: str,
    data: dict[str, Any],
    options: list[Any],
    answer_schema: dict[str, Any] | None,
    due_at: datetime | None,
) -> tuple[dict[str, Any], bool]:
    """File a todo; ``(row, created)`` where ``created`` is False when this id was filed before."""
    cur = await conn.execute(
        INSERT,
        (
            todo_id,
            thread_id,
            user_id,
            run_id,
            graph_id,
            node,
            group,
            kind,
            message,
            Jsonb(data),
            Jsonb(options),
            Jsonb(answer_schema) if answer_schema is not None else None,
            due_at,
        ),
    )
    row = await cur.fetchone()
    if row is not None:
        await notify_changed(conn, user_id)
        return row, True
    cur = await conn.execute(GET_ANY, (todo_id,))
    existing = await cur.fetchone()
    assert existing is not None
    return existing, False


async def get(conn: Conn, user_id: str, todo_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    cur = await conn.execute(GET_FOR_UPDATE if for_update else GET, (todo_id, user_id))
    return await cur.fetchone()


async def finish(conn: Conn, todo_id: str, status: str, result: Any) -> dict[str, Any] | None:
    """Move a pending todo to ``completed`` or ``cancelled``; None if it was not pending."""
    cur = await conn.execute(
        FINISH,
        (status, Jsonb(result) if result is not None else None, todo_id),
    )
    row = await cur.fetchone()
    if row is not None:
        await notify_changed(conn, str(row["user_id"]))
    return row


async def list_for_thread(
    conn: Conn, user_id: str, thread_id: str, *, status: str | None = None, group: str | None = None
) -> list[dict[str, Any]]:
    where = [sql.SQL("thread_id = %s"), sql.SQL("user_id = %s")]
    params: list[Any] = [thread_id, user_id]
    if status:
        where.append(sql.SQL("status = %s"))
        params.append(status)
    if group is not None:
        where.append(sql.SQL("todo_group = %s"))
        params.append(group)
    cur = await conn.execute(LIST_FOR_THREAD.format(where=sql.SQL(" AND ").join(where)), params)
    return await cur.fetchall()


async def list_for_user(
    conn: Conn, user_id: str, *, status: str | None, thread_id: str | None, limit: int, offset: int
) -> list[dict[str, Any]]:
    where = [sql.SQL("user_id = %s")]
    params: list[Any] = [user_id]
    if status:
        where.append(sql.SQL("status = %s"))
        params.append(status)
    if thread_id:
        where.append(sql.SQL("thread_id = %s"))
        params.append(thread_id)
    cur = await conn.execute(LIST_FOR_USER.format(where=sql.SQL(" AND ").join(where)), (*params, limit, offset))
    return await cur.fetchall()


async def count_pending(conn: Conn, thread_id: str, group: str | None = None) -> int:
    if group is None:
        cur = await conn.execute(COUNT_PENDING, (thread_id,))
    else:
        cur = await conn.execute(COUNT_PENDING_IN_GROUP, (thread_id, group))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


# Threads parked on a todo gate (a typed interrupt of kind "todos") with nothing pending any more: they missed
# their automatic resume (the process died between the last completion and the resume). Checked at start-up.
STRANDED_GATES = """
SELECT t.thread_id FROM threads t
WHERE t.status = 'interrupted'
  AND jsonb_path_exists(t.interrupts, '$.*[*].value ? (@.type == "clew.interrupt" && @.kind == "todos")')
  AND NOT EXISTS (SELECT 1 FROM todos d WHERE d.thread_id = t.thread_id AND d.status = 'pending')
ORDER BY t.updated_at
LIMIT %s
"""


async def stranded_gates(conn: Conn, limit: int = 1000) -> list[str]:
    cur = await conn.execute(STRANDED_GATES, (limit,))
    return [str(r["thread_id"]) for r in await cur.fetchall()]
