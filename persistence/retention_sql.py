"""SQL of the retention job (``engine/retention.py``): what is old enough to delete, and deleting it.

Rules (each a named statement, with a ``COUNT_…`` twin for ``clew retention --dry-run``):

- stream events of runs that ended (any final status) more than the retention period ago, on threads that
  are idle or errored (an interrupted thread waits for a person and keeps its runs' streams);
- threads whose checkpoints may be pruned to the latest: status ``idle`` or ``error``, not updated for the
  checkpoint retention period, no pending or running run, and more than one root checkpoint (the pruning
  itself is langgraph-checkpoint-postgres's ``aprune(strategy="keep_latest")``);
- stream events whose run no longer exists (a rolled-back run, a deleted thread), an hour after writing;
- content sessions expired for the content-session retention period with no pending or running run: their
  thread (and with it the session row, runs, events and checkpoints: ``persistence.threads.delete``);
- expired rate-limit windows, refresh tokens expired for a day, heartbeats of workers gone for a day.
"""

from __future__ import annotations

from persistence import channels
from persistence.db import Conn

# events of a run that ended long ago, on a thread at rest (an interrupted or busy thread is left whole)
_OLD_EVENT_RUNS = """
r.status NOT IN ('pending', 'running') AND r.ended_at < now() - make_interval(secs => %(seconds)s)
AND EXISTS (SELECT 1 FROM threads t WHERE t.thread_id = r.thread_id AND t.status IN ('idle', 'error'))
"""
COUNT_OLD_EVENTS = "SELECT count(*) AS n FROM run_events e JOIN runs r ON r.run_id = e.run_id WHERE " + _OLD_EVENT_RUNS
DELETE_OLD_EVENTS = "DELETE FROM run_events e USING runs r WHERE e.run_id = r.run_id AND " + _OLD_EVENT_RUNS

IDLE_THREADS_WITH_HISTORY = """
SELECT t.thread_id::text AS thread_id,
       (SELECT count(*) FROM checkpoints c WHERE c.thread_id = t.thread_id::text AND c.checkpoint_ns = '') AS n
FROM threads t
WHERE t.status IN ('idle', 'error')
  AND t.updated_at < now() - make_interval(secs => %(seconds)s)
  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
  AND (SELECT count(*) FROM checkpoints c WHERE c.thread_id = t.thread_id::text AND c.checkpoint_ns = '') > 1
ORDER BY t.updated_at
LIMIT %(limit)s
"""
COUNT_CHECKPOINTS = "SELECT count(*) AS n FROM checkpoints WHERE thread_id = ANY(%s)"

COUNT_EXPIRED_COUNTERS = "SELECT count(*) AS n FROM rate_limits WHERE expires_at < now() - interval '1 hour'"
DELETE_EXPIRED_COUNTERS = "DELETE FROM rate_limits WHERE expires_at < now() - interval '1 hour'"
COUNT_EXPIRED_REFRESH = "SELECT count(*) AS n FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"
DELETE_EXPIRED_REFRESH = "DELETE FROM refresh_tokens WHERE expires_at < now() - interval '1 day'"
COUNT_GONE_WORKERS = "SELECT count(*) AS n FROM worker_heartbeats WHERE heartbeat_at < now() - interval '1 day'"
DELETE_GONE_WORKERS = "DELETE FROM worker_heartbeats WHERE heartbeat_at < now() - interval '1 day'"

ORPHAN_EVENTS_WHERE = """
WHERE e.created_at < now() - interval '1 hour' AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.run_id = e.run_id)
"""
COUNT_ORPHAN_EVENTS = "SELECT count(*) AS n FROM run_events e " + ORPHAN_EVENTS_WHERE
DELETE_ORPHAN_EVENTS = "DELETE FROM run_events e " + ORPHAN_EVENTS_WHERE

EXPIRED_CONTENT_SESSIONS = """
SELECT cs.thread_id::text AS thread_id, cs.user_id FROM content_sessions cs JOIN threads t ON t.thread_id = cs.thread_id
WHERE cs.expires_at < now() - make_interval(secs => %(seconds)s) AND t.status <> 'busy'
  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = cs.thread_id AND r.status IN ('pending', 'running'))
ORDER BY cs.expires_at
LIMIT %(limit)s
"""

# re-checked with the thread row locked (run creation locks it too), so a run created meanwhile wins
LOCK_IDLE_THREAD = """
SELECT 1 FROM threads t WHERE t.thread_id = %s AND t.status <> 'busy'
  AND NOT EXISTS (SELECT 1 FROM runs r WHERE r.thread_id = t.thread_id AND r.status IN ('pending', 'running'))
FOR UPDATE
"""

DOCUMENTS_PRESENT = "SELECT document_id::text AS id FROM documents WHERE document_id = ANY(%s::uuid[])"

HOUSEKEEPING = {
    "orphaned_run_events": (COUNT_ORPHAN_EVENTS, DELETE_ORPHAN_EVENTS),
    "rate_limit_windows": (COUNT_EXPIRED_COUNTERS, DELETE_EXPIRED_COUNTERS),
    "refresh_tokens": (COUNT_EXPIRED_REFRESH, DELETE_EXPIRED_REFRESH),
    "worker_heartbeats": (COUNT_GONE_WORKERS, DELETE_GONE_WORKERS),
}


async def try_lock(conn: Conn) -> bool:
    """One retention pass at a time across every process (a session-level advisory lock)."""
    return await channels.try_lock(conn, channels.RETENTION_LOCK)


async def unlock(conn: Conn) -> None:
    await channels.unlock(conn, channels.RETENTION_LOCK)


async def old_events(conn: Conn, seconds: float, *, delete: bool) -> int:
    if delete:
        cur = await conn.execute(DELETE_OLD_EVENTS, {"seconds": seconds})
        return cur.rowcount
    cur = await conn.execute(COUNT_OLD_EVENTS, {"seconds": seconds})
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def idle_threads(conn: Conn, seconds: float, limit: int = 1000) -> list[tuple[str, int]]:
    """``(thread_id, root checkpoints)`` of threads whose checkpoints may be pruned, oldest first."""
    cur = await conn.execute(IDLE_THREADS_WITH_HISTORY, {"seconds": seconds, "limit": limit})
    return [(r["thread_id"], int(r["n"])) for r in await cur.fetchall()]


async def count_checkpoints(conn: Conn, thread_ids: list[str]) -> int:
    cur = await conn.execute(COUNT_CHECKPOINTS, (thread_ids,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def housekeeping(conn: Conn, name: str, *, delete: bool) -> int:
    count_sql, delete_sql = HOUSEKEEPING[name]
    if delete:
        cur = await conn.execute(delete_sql)
        return cur.rowcount
    cur = await conn.execute(count_sql)
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def documents_present(conn: Conn, document_ids: list[str]) -> set[str]:
    cur = await conn.execute(DOCUMENTS_PRESENT, (document_ids,))
    return {r["id"] for r in await cur.fetchall()}


async def expired_content_sessions(conn: Conn, seconds: float, limit: int = 1000) -> list[tuple[str, str]]:
    """``(thread_id, user_id)`` of content sessions expired more than ``seconds`` ago and not running."""
    cur = await conn.execute(EXPIRED_CONTENT_SESSIONS, {"seconds": seconds, "limit": limit})
    return [(r["thread_id"], r["user_id"]) for r in await cur.fetchall()]


async def lock_idle_thread(conn: Conn, thread_id: str) -> bool:
    """Lock ``thread_id``'s row if it is still idle with nothing queued (inside the caller's transaction)."""
    cur = await conn.execute(LOCK_IDLE_THREAD, (thread_id,))
    return await cur.fetchone() is not None
