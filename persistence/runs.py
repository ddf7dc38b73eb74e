"""Runs table access for the API side (creation, reads, cancel marks) and run_events reads. The worker side SQL
is in runs_sql."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from persistence.db import Conn

RUN_COLUMNS = (
    "run_id, thread_id, user_id, assistant_id, graph_id, status, kwargs, config_snapshot, metadata, "
    "multitask_strategy, attempt, max_attempts, fencing_token, cancel_action, checkpoint_before, error, "
    "created_at, updated_at, started_at, ended_at"
)

# A run's latest events of one kind, newest first (a research's last progress event).
RECENT_EVENTS = "SELECT seq, data FROM run_events WHERE run_id = %s AND event = %s ORDER BY seq DESC LIMIT %s"
HAS_ACTIVE = "SELECT 1 FROM runs WHERE thread_id = %s AND status IN ('pending', 'running')"
# the run a cancel is about, locked (after its thread: see runs_sql's lock order)
LOCK_FOR_CANCEL = "SELECT run_id, status FROM runs WHERE run_id = %s AND thread_id = %s AND user_id = %s FOR UPDATE"
# a cancelled run whose worker died: running, cancel asked for, lease lapsed
IS_ORPHANED = """
SELECT status = 'running' AND cancel_action IS NOT NULL AND lease_expires_at < now() AS orphaned
FROM runs WHERE run_id = %s
"""
# the run with its thread's final values: a run's end and its thread's values are committed together, so one
# read serves both (runs/wait and join answer with the thread's state)
WITH_THREAD_VALUES = f"""
SELECT {RUN_COLUMNS},
    (SELECT t.state_values FROM threads t WHERE t.thread_id = runs.thread_id) AS thread_values,
    (SELECT t.interrupts FROM threads t WHERE t.thread_id = runs.thread_id) AS thread_interrupts
FROM runs WHERE run_id = %s
"""
LATEST_KWARGS = "SELECT kwargs FROM runs WHERE thread_id = %s ORDER BY created_at DESC LIMIT 1"
CANCEL_ACTION = "SELECT cancel_action FROM runs WHERE run_id = %s"
CHECKPOINT_BEFORE = "SELECT checkpoint_before FROM runs WHERE run_id = %s"
# a run to be bulk-cancelled (``POST /runs/cancel``): the caller's, filtered (see find_for_cancel)
FOR_CANCEL = sql.SQL("SELECT run_id, thread_id, status FROM runs WHERE {}")
# a new run (pending), its thread marked busy with the run's graph/assistant stamped on its metadata, and the
# NOTIFY announcing it (none with ``channel`` NULL: no other process listens), in one statement (see insert_queued)
INSERT_QUEUED = f"""
WITH run AS (
    INSERT INTO runs (run_id, thread_id, user_id, assistant_id, graph_id, kwargs, config_snapshot,
        metadata, multitask_strategy, max_attempts, available_at, timeout_at)
    VALUES (%(run_id)s, %(thread_id)s, %(user_id)s, %(assistant_id)s, %(graph_id)s, %(kwargs)s, %(config_snapshot)s,
        %(metadata)s, %(multitask_strategy)s, %(max_attempts)s, now() + make_interval(secs => %(delay)s),
        CASE WHEN %(timeout)s::float8 IS NULL THEN NULL
             ELSE now() + make_interval(secs => %(delay)s + coalesce(%(timeout)s::float8, 0)) END)
    RETURNING {RUN_COLUMNS}
),
busy AS (
    UPDATE threads SET status = 'busy', metadata = metadata || %(thread_metadata)s, updated_at = now()
    WHERE thread_id = %(thread_id)s
)
SELECT run.*, CASE WHEN %(channel)s::text IS NOT NULL THEN pg_notify(%(channel)s, run.run_id::text) END AS notified
FROM run
"""
# What creating a run needs to read first, in one statement: the assistant (by id, visible to the user), the
# user's thread (if it exists) and the configuration layers' generations (engine/lifecycle.py).
CREATION_CONTEXT = """
SELECT a.assistant_id, a.graph_id, a.config, a.context,
    t.thread_id AS seen_thread_id, t.status AS seen_status, t.config AS seen_config,
    t.interrupts AS seen_interrupts, t.xmin::text AS seen_version,
    g.system_generation, g.user_generation
FROM (SELECT 1) AS one
LEFT JOIN assistants a ON a.assistant_id = %(assistant_id)s AND (a.user_id = %(user_id)s OR a.user_id IS NULL)
LEFT JOIN threads t ON t.thread_id = %(thread_id)s AND t.user_id = %(user_id)s
CROSS JOIN (
    SELECT coalesce(max(generation) FILTER (WHERE layer = 'system'), 0) AS system_generation,
        coalesce(max(generation) FILTER (WHERE layer = 'user'), 0) AS user_generation
    FROM config_generations WHERE (layer = 'system' AND owner = '') OR (layer = 'user' AND owner = %(user_id)s)
) AS g
"""
# A run created in one statement when its thread is new or idle (engine/lifecycle.py's fast path): the thread
# inserted (busy, stamped) or, if it exists, locked and marked busy; the run queued; the NOTIFY announcing it.
# Only when nothing could have to be decided: no pending or running run on the thread, and the thread row not
# changed since the statement's snapshot (its ``xmin`` as locked equals the one the snapshot sees — every run
# creation and every run's end updates the thread row, so a run that became active after the snapshot would
# show there). ``cap``: the user's queued-run cap, counted after the caller took the user's queue lock in an
# earlier statement of its transaction (so the count sees every run queued before). ``expect_version``: for a
# resume, the thread's ``xmin`` when the caller read its pending interrupts and checked the answer against them
# (CREATION_CONTEXT); the run is queued only if the thread is still interrupted in that very row version, so the
# check holds as if made under the lock. Answers no row when any condition fails, having written nothing: the
# caller then takes the general path.
CREATE_IF_IDLE = f"""
WITH allowed AS MATERIALIZED (
    SELECT 1 WHERE %(cap)s::int IS NULL
        OR (SELECT count(*) FROM runs WHERE user_id = %(user_id)s AND status = 'pending') < %(cap)s::int
),
created AS (
    INSERT INTO threads (thread_id, user_id, metadata, status)
    SELECT %(thread_id)s, %(user_id)s, %(new_thread_metadata)s, 'busy' FROM allowed WHERE %(create)s
    ON CONFLICT (thread_id) DO NOTHING
    RETURNING thread_id
),
seen AS MATERIALIZED (
    SELECT xmin AS version FROM threads WHERE thread_id = %(thread_id)s AND user_id = %(user_id)s
),
locked AS MATERIALIZED (
    SELECT thread_id, xmin AS version FROM threads
    WHERE thread_id = %(thread_id)s AND user_id = %(user_id)s AND status <> 'busy' AND EXISTS (SELECT 1 FROM allowed)
        AND (%(expect_version)s::text IS NULL OR (status = 'interrupted' AND xmin::text = %(expect_version)s::text))
    FOR UPDATE
),
idle AS MATERIALIZED (
    SELECT l.thread_id FROM locked l
    WHERE l.version = (SELECT version FROM seen)
        AND NOT EXISTS (SELECT 1 FROM runs WHERE thread_id = %(thread_id)s AND status IN ('pending', 'running'))
),
busy AS (
    UPDATE threads SET status = 'busy', metadata = metadata || %(thread_metadata)s, updated_at = now()
    WHERE thread_id = (SELECT thread_id FROM idle)
),
run AS (
    INSERT INTO runs (run_id, thread_id, user_id, assistant_id, graph_id, kwargs, config_snapshot,
        metadata, multitask_strategy, max_attempts, available_at, timeout_at)
    SELECT %(run_id)s, %(thread_id)s, %(user_id)s, %(assistant_id)s, %(graph_id)s, %(kwargs)s, %(config_snapshot)s,
        %(metadata)s, %(multitask_strategy)s, %(max_attempts)s, now() + make_interval(secs => %(delay)s),
        CASE WHEN %(timeout)s::float8 IS NULL THEN NULL
             ELSE now() + make_interval(secs => %(delay)s + coalesce(%(timeout)s::float8, 0)) END
    WHERE EXISTS (SELECT 1 FROM created) OR EXISTS (SELECT 1 FROM idle)
    RETURNING {RUN_COLUMNS}
)
SELECT run.*, CASE WHEN %(channel)s::text IS NOT NULL THEN pg_notify(%(channel)s, run.run_id::text) END AS notified
FROM run
"""
GET = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s AND user_id = %s"
GET_ON_THREAD = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s AND thread_id = %s AND user_id = %s"
GET_ANY = f"SELECT {RUN_COLUMNS} FROM runs WHERE run_id = %s"
# a thread's active runs, locked (after the thread row: see runs_sql's lock order)
ACTIVE_FOR_THREAD = f"""
SELECT {RUN_COLUMNS} FROM runs WHERE thread_id = %s AND status IN ('pending', 'running') ORDER BY created_at FOR UPDATE
"""
LIST_FOR_THREAD = sql.SQL(f"SELECT {RUN_COLUMNS} FROM runs WHERE {{where}} ORDER BY created_at DESC LIMIT %s OFFSET %s")
MARK_CANCEL = "UPDATE runs SET cancel_action = %s, updated_at = now() WHERE run_id = %s AND status = 'running'"
# a run no worker holds (pending) ended, with its final ``end`` event
FINISH_UNCLAIMED = "UPDATE runs SET status = %s, ended_at = now(), updated_at = now() WHERE run_id = %s AND status = 'pending'"
APPEND_END = """
INSERT INTO run_events (run_id, seq, event, data)
SELECT %s, coalesce(max(seq), 0) + 1, 'end', 'null' FROM run_events WHERE run_id = %s
"""
DELETE_EVENTS = "DELETE FROM run_events WHERE run_id = %s"
DELETE = "DELETE FROM runs WHERE run_id = %s"
READ_EVENTS = "SELECT seq, event, data FROM run_events WHERE run_id = %s AND seq > %s ORDER BY seq LIMIT %s"
# every run of a thread in creation order with its status and last event id (the thread's stream)
LIST_FOR_STREAM = """
SELECT r.run_id::text AS run_id, r.status,
    (SELECT coalesce(max(e.seq), 0) FROM run_events e WHERE e.run_id = r.run_id) AS last_seq
FROM runs r WHERE r.thread_id = %s ORDER BY r.created_at, r.run_id
"""
STATUS = "SELECT status FROM runs WHERE run_id = %s"
PRUNE_EVENTS = """
DELETE FROM run_events e USING runs r WHERE e.run_id = r.run_id
AND r.status NOT IN ('pending', 'running') AND r.ended_at < now() - make_interval(secs => %s)
"""


async def insert_queued(
    conn: Conn,
    *,
    run_id: str,
    thread_id: str,
    user_id: str,
    assistant_id: str,
    graph_id: str,
    kwargs: dict[str, Any],
    config_snapshot: dict[str, Any],
    metadata: dict[str, Any],
    multitask_strategy: str,
    max_attempts: int,
    thread_metadata: dict[str, Any],
    channel: str | None,
    delay_seconds: float = 0.0,
    timeout_seconds: float | None = None,
) -> dict[str, Any]:
    """Queue a run, mark its thread busy with ``thread_metadata`` stamped on it, and NOTIFY ``channel`` (if not
    None) with the run id, in one statement (the caller's transaction holds the thread's row lock)."""
    cur = await conn.execute(INSERT_QUEUED, {
        "run_id": run_id, "thread_id": thread_id, "user_id": user_id, "assistant_id": assistant_id,
        "graph_id": graph_id, "kwargs": Jsonb(kwargs), "config_snapshot": Jsonb(config_snapshot),
        "metadata": Jsonb(metadata), "multitask_strategy": multitask_strategy, "max_attempts": max_attempts,
        "delay": delay_seconds, "timeout": timeout_seconds, "thread_metadata": Jsonb(thread_metadata),
        "channel": channel,
    })
    row = await cur.fetchone()
    assert row is not None
    row.pop("notified", None)
    return row


async def creation_context(
    conn: Conn, user_id: str, assistant_id: str, thread_id: str | None
) -> tuple[dict[str, Any] | None, dict[str, Any] | None, tuple[int, int]]:
    """``(assistant, thread, generations)`` for a run creation, in one statement: the assistant visible to
    ``user_id`` (``assistant_id``, ``graph_id``, ``config``, ``context``) or None, the user's thread
    (``thread_id``, ``status``, ``config``, ``interrupts``, ``version``: its row's ``xmin``) or None, and the
    configuration generations (system, user)."""
    cur = await conn.execute(CREATION_CONTEXT, {"assistant_id": assistant_id, "user_id": user_id,
                                                "thread_id": thread_id})
    row = await cur.fetchone()
    assert row is not None
    assistant = None if row["assistant_id"] is None else {
        "assistant_id": row["assistant_id"], "graph_id": row["graph_id"], "config": row["config"],
        "context": row["context"],
    }
    thread = None if row["seen_thread_id"] is None else {
        "thread_id": row["seen_thread_id"], "status": row["seen_status"], "config": row["seen_config"],
        "interrupts": row["seen_interrupts"], "version": row["seen_version"],
    }
    return assistant, thread, (int(row["system_generation"]), int(row["user_generation"]))


async def create_if_idle(
    conn: Conn,
    *,
    run_id: str,
    thread_id: str,
    user_id: str,
    assistant_id: str,
    graph_id: str,
    kwargs: dict[str, Any],
    config_snapshot: dict[str, Any],
    metadata: dict[str, Any],
    multitask_strategy: str,
    max_attempts: int,
    thread_metadata: dict[str, Any],
    new_thread_metadata: dict[str, Any],
    create: bool,
    cap: int | None,
    channel: str | None,
    delay_seconds: float = 0.0,
    timeout_seconds: float | None = None,
    expect_version: str | None = None,
) -> dict[str, Any] | None:
    """Queue a run in one statement if its thread is new (``create``: inserted with ``new_thread_metadata``) or
    idle, with no run to decide about (see CREATE_IF_IDLE); None, nothing written, otherwise. A resume passes
    ``expect_version`` (the thread's version as read, see creation_context) and ``create=False``."""
    cur = await conn.execute(CREATE_IF_IDLE, {
        "run_id": run_id, "thread_id": thread_id, "user_id": user_id, "assistant_id": assistant_id,
        "graph_id": graph_id, "kwargs": Jsonb(kwargs), "config_snapshot": Jsonb(config_snapshot),
        "metadata": Jsonb(metadata), "multitask_strategy": multitask_strategy, "max_attempts": max_attempts,
        "delay": delay_seconds, "timeout": timeout_seconds, "thread_metadata": Jsonb(thread_metadata),
        "new_thread_metadata": Jsonb(new_thread_metadata), "create": create, "cap": cap, "channel": channel,
        "expect_version": expect_version,
    })
    row = await cur.fetchone()
    if row is not None:
        row.pop("notified", None)
    return row


async def has_active(conn: Conn, thread_id: str) -> bool:
    """Whether the thread has a pending or running run."""
    cur = await conn.execute(HAS_ACTIVE, (thread_id,))
    return await cur.fetchone() is not None


async def lock_for_cancel(conn: Conn, user_id: str, thread_id: str, run_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(LOCK_FOR_CANCEL, (run_id, thread_id, user_id))
    return await cur.fetchone()


async def is_orphaned(conn: Conn, run_id: str) -> bool:
    cur = await conn.execute(IS_ORPHANED, (run_id,))
    row = await cur.fetchone()
    return bool(row is not None and row["orphaned"])


async def with_thread_values(conn: Conn, run_id: str) -> dict[str, Any] | None:
    """The run's row with ``thread_values`` / ``thread_interrupts`` of its thread (None if it is gone)."""
    cur = await conn.execute(WITH_THREAD_VALUES, (run_id,))
    return await cur.fetchone()


async def latest_kwargs(conn: Conn, thread_id: str) -> dict[str, Any] | None:
    """``{"kwargs": …}`` of the thread's latest run, or None."""
    cur = await conn.execute(LATEST_KWARGS, (thread_id,))
    return await cur.fetchone()


async def cancel_action(conn: Conn, run_id: str) -> str | None:
    cur = await conn.execute(CANCEL_ACTION, (run_id,))
    row = await cur.fetchone()
    return row["cancel_action"] if row else None


async def checkpoint_before(conn: Conn, run_id: str) -> dict[str, Any] | None:
    """``{"checkpoint_before": …}`` of the run (where a rollback returns its thread to), None if it is gone."""
    cur = await conn.execute(CHECKPOINT_BEFORE, (run_id,))
    return await cur.fetchone()


async def find_for_cancel(
    conn: Conn, user_id: str, *, thread_id: str | None, run_ids: list[str] | None, statuses: list[str]
) -> list[dict[str, Any]]:
    """The caller's runs named by ``run_ids`` (on ``thread_id`` if given), or else those in ``statuses``."""
    where = [sql.SQL("user_id = %s")]
    params: list[Any] = [user_id]
    if thread_id:
        where.append(sql.SQL("thread_id = %s"))
        params.append(thread_id)
    if run_ids:
        where.append(sql.SQL("run_id = ANY(%s::uuid[])"))
        params.append(run_ids)
    else:
        where.append(sql.SQL("status = ANY(%s)"))
        params.append(statuses)
    cur = await conn.execute(FOR_CANCEL.format(sql.SQL(" AND ").join(where)), params)
    return await cur.fetchall()


async def get(conn: Conn, user_id: str, run_id: str, thread_id: str | None = None) -> dict[str, Any] | None:
    if thread_id is None:
        cur = await conn.execute(GET, (run_id, user_id))
    else:
        cur = await conn.execute(GET_ON_THREAD, (run_id, thread_id, user_id))
    return await cur.fetchone()


async def get_any(conn: Conn, run_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(GET_ANY, (run_id,))
    return await cur.fetchone()


async def active_for_thread(conn: Conn, thread_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(ACTIVE_FOR_THREAD, (thread_id,))
    return await cur.fetchall()


async def list_for_thread(
    conn: Conn, user_id: str, thread_id: str, *, limit: int, offset: int, status: str | None
) -> list[dict[str, Any]]:
    where = [sql.SQL("thread_id = %s AND user_id = %s")]
    params: list[Any] = [thread_id, user_id]
    if status:
        where.append(sql.SQL("status = %s"))
        params.append(status)
    cur = await conn.execute(LIST_FOR_THREAD.format(where=sql.SQL(" AND ").join(where)), (*params, limit, offset))
    return await cur.fetchall()


async def mark_cancel(conn: Conn, run_id: str, action: str) -> None:
    await conn.execute(MARK_CANCEL, (action, run_id))


async def finish_unclaimed(conn: Conn, run_id: str, status: str) -> bool:
    """End a run that no worker holds (pending), writing its final ``end`` event."""
    cur = await conn.execute(FINISH_UNCLAIMED, (status, run_id))
    if not cur.rowcount:
        return False
    await conn.execute(APPEND_END, (run_id, run_id))
    return True


async def delete(conn: Conn, run_id: str) -> None:
    await conn.execute(DELETE_EVENTS, (run_id,))
    await conn.execute(DELETE, (run_id,))


async def read_events(conn: Conn, run_id: str, after_seq: int, limit: int = 500) -> list[dict[str, Any]]:
    cur = await conn.execute(READ_EVENTS, (run_id, after_seq, limit))
    return await cur.fetchall()


async def list_for_stream(conn: Conn, thread_id: str) -> list[dict[str, Any]]:
    """Every run of a thread in creation order with its status and last event id (the thread's stream)."""
    cur = await conn.execute(LIST_FOR_STREAM, (thread_id,))
    return await cur.fetchall()


async def has_ended(conn: Conn, run_id: str) -> bool:
    """Whether the run is gone or in a final status (its events, ``end`` included, are all written then)."""
    cur = await conn.execute(STATUS, (run_id,))
    row = await cur.fetchone()
    return row is None or row["status"] not in ("pending", "running")


async def prune_events(conn: Conn, older_than_days: float) -> int:
    """Retention: drop events of runs that ended more than ``older_than_days`` ago."""
    cur = await conn.execute(PRUNE_EVENTS, (older_than_days * 86400.0,))
    return cur.rowcount


async def recent_events(conn: Conn, run_id: str, event: str, *, limit: int) -> list[dict[str, Any]]:
    cur = await conn.execute(RECENT_EVENTS, (run_id, event, limit))
    return await cur.fetchall()
