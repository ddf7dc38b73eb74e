"""The ``content_sessions`` table: the article and the expiry of each content-pipeline session.

A session *is* a thread (``thread_id``); this row only adds the article id and the expiry clock, which the
graph's state cannot hold (it is read before any run and moved by every action). Every read filters by
``user_id``: another user's session does not exist for the caller.
"""

from __future__ import annotations

from typing import Any

from persistence.db import Conn

COLUMNS = "thread_id, user_id, article_id, ttl_hours, last_action_at, expires_at, created_at, expires_at <= now() AS expired"

INSERT = f"""
INSERT INTO content_sessions (thread_id, user_id, article_id, ttl_hours, last_action_at, expires_at)
VALUES (%(thread_id)s, %(user_id)s, %(article_id)s, %(ttl)s, now(), now() + make_interval(secs => %(ttl)s * 3600))
RETURNING {COLUMNS}
"""

GET = f"SELECT {COLUMNS} FROM content_sessions WHERE thread_id = %s AND user_id = %s"

GET_FOR_UPDATE = GET + " FOR UPDATE"

# An action moves the clock: the session lives ttl_hours after its last action.
TOUCH = f"""
UPDATE content_sessions
SET last_action_at = now(), expires_at = now() + make_interval(secs => ttl_hours * 3600)
WHERE thread_id = %s AND user_id = %s
RETURNING {COLUMNS}
"""

# For the retention job (operations issue): sessions expired for at least `grace` seconds, oldest first.
EXPIRED = """
SELECT thread_id, user_id, expires_at FROM content_sessions
WHERE expires_at <= now() - make_interval(secs => %s) ORDER BY expires_at LIMIT %s
"""

LIST_FOR_USER = f"""
SELECT {COLUMNS} FROM content_sessions WHERE user_id = %s ORDER BY created_at DESC LIMIT %s OFFSET %s
"""


async def insert(conn: Conn, user_id: str, thread_id: str, article_id: str, ttl_hours: float) -> dict[str, Any]:
    """Record a new session expiring ``ttl_hours`` from now; returns the row (with ``expired``)."""
    cur = await conn.execute(
        INSERT, {"thread_id": thread_id, "user_id": user_id, "article_id": article_id, "ttl": float(ttl_hours)}
    )
    row = await cur.fetchone()
    assert row is not None
    return row


async def get(conn: Conn, user_id: str, thread_id: str, *, for_update: bool = False) -> dict[str, Any] | None:
    """The caller's session row, or None (unknown, or another user's)."""
    cur = await conn.execute(GET_FOR_UPDATE if for_update else GET, (thread_id, user_id))
    return await cur.fetchone()


async def touch(conn: Conn, user_id: str, thread_id: str) -> dict[str, Any] | None:
    """Restart the expiry clock after an action; returns the updated row."""
    cur = await conn.execute(TOUCH, (thread_id, user_id))
    return await cur.fetchone()


async def list_for_user(conn: Conn, user_id: str, limit: int = 50, offset: int = 0) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST_FOR_USER, (user_id, limit, offset))
    return list(await cur.fetchall())


# The runs of a session's thread, oldest first: the session's event stream is theirs, one after the other.
SESSION_RUNS = """
SELECT run_id, status, created_at FROM runs WHERE thread_id = %s AND user_id = %s ORDER BY created_at, run_id
"""


async def session_runs(conn: Conn, user_id: str, thread_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(SESSION_RUNS, (thread_id, user_id))
    return list(await cur.fetchall())


async def expired(conn: Conn, *, grace_seconds: float = 0.0, limit: int = 100) -> list[dict[str, Any]]:
    """Sessions expired at least ``grace_seconds`` ago (every user's): what the retention job removes, with
    their threads (``DELETE FROM threads`` cascades to this table; checkpoints and events go with the thread)."""
    cur = await conn.execute(EXPIRED, (grace_seconds, limit))
    return list(await cur.fetchall())
