"""clew's own SQL on LangGraph's checkpoint tables, kept in one place (as langgraph-checkpoint-postgres keeps its
own): the fenced writes, the thread copy (``PooledSaver.acopy_thread``), a rollback's delete and an existence
check. Every other read and write of those tables is the stock saver's.

Each fenced write is one statement on LangGraph's own tables, in LangGraph's own row format: a ``FOR SHARE`` check that
the run's fencing token still owns it, and the inserts, which only happen when it does. One statement is atomic
under autocommit, needs no transaction and no pipeline, and costs one round trip; the stock saver sends a
pipeline of one statement per blob or write plus a Sync. The check locks the run row until the statement
commits, so a takeover (which updates that row) waits for an in-flight write instead of racing it.

The array parameters are sent in binary (``%(name)b``): psycopg builds a text array literal element by element
with a regular expression for the quoting; binary arrays take a fifth less client CPU to convert
(docs/benchmarks.md, issue 18).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from psycopg import sql

if TYPE_CHECKING:
    from persistence.db import Conn

_OWNER = """owner AS MATERIALIZED (
    SELECT 1 FROM runs
    WHERE run_id = %(run_id)s AND fencing_token = %(token)s AND status = 'running'
    FOR SHARE
)"""

# One checkpoint with its channel blobs (the stock UPSERT_CHECKPOINT_BLOBS_SQL + UPSERT_CHECKPOINTS_SQL), and the
# parent checkpoint's task writes folded into it, if any.
PUT_CHECKPOINT = f"""
WITH {_OWNER},
blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT %(thread_id)s::text, %(checkpoint_ns)s::text, b.channel, b.version, b.type, b.blob
    FROM unnest(%(channels)b::text[], %(versions)b::text[], %(types)b::text[], %(blobs)b::bytea[])
        AS b(channel, version, type, blob)
    WHERE EXISTS (SELECT 1 FROM owner)
    ON CONFLICT (thread_id, checkpoint_ns, channel, version) DO NOTHING
),
saved AS (
    INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata)
    SELECT %(thread_id)s::text, %(checkpoint_ns)s::text, %(checkpoint_id)s::text, %(parent_id)s::text,
        %(checkpoint)s::jsonb, %(metadata)s::jsonb
    WHERE EXISTS (SELECT 1 FROM owner)
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id)
    DO UPDATE SET checkpoint = EXCLUDED.checkpoint, metadata = EXCLUDED.metadata
),
-- the task writes of the parent checkpoint that were still waiting to be sent when this checkpoint was put
-- (see FencedSaver: folded in, they land with it); the stock INSERT_CHECKPOINT_WRITES_SQL, several tasks at once
writes AS (
    INSERT INTO checkpoint_writes
        (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT %(thread_id)s::text, %(checkpoint_ns)s::text, %(parent_id)s::text, w.task_id, w.task_path, w.idx,
        w.channel, w.type, w.blob
    FROM unnest(%(w_task_ids)b::text[], %(w_task_paths)b::text[], %(w_idxs)b::int[], %(w_channels)b::text[],
        %(w_types)b::text[], %(w_blobs)b::bytea[]) AS w(task_id, task_path, idx, channel, type, blob)
    WHERE EXISTS (SELECT 1 FROM owner)
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) DO NOTHING
)
SELECT count(*) AS owned FROM owner
"""

_PUT_WRITES = """
WITH {owner},
written AS (
    INSERT INTO checkpoint_writes
        (thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob)
    SELECT %(thread_id)s::text, %(checkpoint_ns)s::text, %(checkpoint_id)s::text, %(task_id)s::text,
        %(task_path)s::text, w.idx, w.channel, w.type, w.blob
    FROM unnest(%(idxs)b::int[], %(channels)b::text[], %(types)b::text[], %(blobs)b::bytea[])
        AS w(idx, channel, type, blob)
    WHERE EXISTS (SELECT 1 FROM owner)
    ON CONFLICT (thread_id, checkpoint_ns, checkpoint_id, task_id, idx) {conflict}
)
SELECT count(*) AS owned FROM owner
"""

# A task's writes (the stock UPSERT_CHECKPOINT_WRITES_SQL, used when every write goes to a special channel
# with a fixed index, and INSERT_CHECKPOINT_WRITES_SQL otherwise).
UPSERT_WRITES = _PUT_WRITES.format(
    owner=_OWNER,
    conflict="DO UPDATE SET channel = EXCLUDED.channel, type = EXCLUDED.type, blob = EXCLUDED.blob",
)
INSERT_WRITES = _PUT_WRITES.format(owner=_OWNER, conflict="DO NOTHING")


# A thread's whole history under a new thread id (every checkpoint with its parent chain, every blob and write),
# as LangGraph's ``BaseCheckpointSaver.acopy_thread`` asks: the copy must carry the complete parent chain.
COPY_CHECKPOINTS = """
INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata)
SELECT %(target)s, checkpoint_ns, checkpoint_id, parent_checkpoint_id, type, checkpoint, metadata
FROM checkpoints WHERE thread_id = %(source)s
"""
COPY_BLOBS = """
INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
SELECT %(target)s, checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs WHERE thread_id = %(source)s
"""
COPY_WRITES = """
INSERT INTO checkpoint_writes (thread_id, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path)
SELECT %(target)s, checkpoint_ns, checkpoint_id, task_id, idx, channel, type, blob, task_path
FROM checkpoint_writes WHERE thread_id = %(source)s
"""

CHECKPOINT_EXISTS = "SELECT 1 FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = %s AND checkpoint_id = %s"

# A rollback: the thread's checkpoints (and their writes) after ``checkpoint_before``, or all of them when the run
# started on an empty thread. LangGraph's checkpoint ids sort by time. Blobs stay (shared by versions).
_DELETE_AFTER = sql.SQL("DELETE FROM {} WHERE thread_id = %s AND checkpoint_id > %s")
_DELETE_ALL = sql.SQL("DELETE FROM {} WHERE thread_id = %s")
ROLLBACK_TABLES = ("checkpoint_writes", "checkpoints")


async def checkpoint_exists(conn: Conn, thread_id: str, checkpoint_ns: str, checkpoint_id: str) -> bool:
    cur = await conn.execute(CHECKPOINT_EXISTS, (thread_id, checkpoint_ns, checkpoint_id))
    return await cur.fetchone() is not None


async def delete_after(conn: Conn, thread_id: str, before: str | None) -> None:
    """Delete ``thread_id``'s checkpoints and writes newer than ``before`` (all of them when it is empty), in the
    caller's transaction (a rollback, which holds the thread's row lock)."""
    for table in ROLLBACK_TABLES:
        if before:
            await conn.execute(_DELETE_AFTER.format(sql.Identifier(table)), (thread_id, before))
        else:
            await conn.execute(_DELETE_ALL.format(sql.Identifier(table)), (thread_id,))
