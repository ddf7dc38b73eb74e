"""SQL of the fixed-window rate-limit counters (``rate_limits``), shared by every clew process, and of the
per-user cap on queued runs.

Each counter is one row ``(key, value, expires_at)``; an increment after ``expires_at`` starts a new window.
One statement per operation, so concurrent processes never lose a hit.

The queued-runs cap is exact across processes: the run-creation transaction takes a per-user transaction-level
advisory lock before counting (:func:`lock_and_count_pending_runs`), so a second creation by the same user waits
until the first has committed its run (or rolled back) and then counts it.
"""

from __future__ import annotations

from persistence import channels
from persistence.db import Conn

INCR = """
INSERT INTO rate_limits AS r (key, value, expires_at)
VALUES (%(key)s, %(amount)s, now() + make_interval(secs => %(expiry)s))
ON CONFLICT (key) DO UPDATE SET
    value = CASE WHEN r.expires_at <= now() THEN EXCLUDED.value ELSE r.value + EXCLUDED.value END,
    expires_at = CASE WHEN r.expires_at <= now() THEN EXCLUDED.expires_at ELSE r.expires_at END
RETURNING value
"""
GET = "SELECT value FROM rate_limits WHERE key = %s AND expires_at > now()"
GET_EXPIRY = "SELECT extract(epoch FROM expires_at)::float8 AS at FROM rate_limits WHERE key = %s"
CLEAR = "DELETE FROM rate_limits WHERE key = %s"
RESET = "DELETE FROM rate_limits"
PRUNE_EXPIRED = "DELETE FROM rate_limits WHERE expires_at < now() - interval '1 hour'"
COUNT_PENDING_RUNS = "SELECT count(*) AS n FROM runs WHERE user_id = %s AND status = 'pending'"


async def incr(conn: Conn, key: str, expiry_seconds: float, amount: int) -> int:
    cur = await conn.execute(INCR, {"key": key, "amount": amount, "expiry": expiry_seconds})
    row = await cur.fetchone()
    return int(row["value"]) if row else 0


async def get(conn: Conn, key: str) -> int:
    cur = await conn.execute(GET, (key,))
    row = await cur.fetchone()
    return int(row["value"]) if row else 0


async def get_expiry(conn: Conn, key: str) -> float | None:
    """The window's end as a Unix time, or None when there is no counter."""
    cur = await conn.execute(GET_EXPIRY, (key,))
    row = await cur.fetchone()
    return float(row["at"]) if row else None


async def clear(conn: Conn, key: str) -> None:
    await conn.execute(CLEAR, (key,))


async def reset(conn: Conn) -> int:
    cur = await conn.execute(RESET)
    return cur.rowcount


async def prune_expired(conn: Conn) -> int:
    cur = await conn.execute(PRUNE_EXPIRED)
    return cur.rowcount


async def lock_user_queue(conn: Conn, user_id: str) -> None:
    """Take ``user_id``'s queue lock (held until the caller's transaction ends): the statements after it count
    every run queued before (see ``persistence.runs.CREATE_IF_IDLE``)."""
    await channels.xact_lock_keyed(conn, channels.USER_QUEUE_LOCKS, user_id)


async def lock_and_count_pending_runs(conn: Conn, user_id: str) -> int:
    """Take ``user_id``'s queue lock (held until the caller's transaction ends), then count its pending runs.

    Must run inside a transaction, before the transaction locks any thread row (lock order: user, then thread)."""
    await channels.xact_lock_keyed(conn, channels.USER_QUEUE_LOCKS, user_id)
    cur = await conn.execute(COUNT_PENDING_RUNS, (user_id,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
