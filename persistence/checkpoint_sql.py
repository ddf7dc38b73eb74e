"""SQL of clew's fenced checkpoint writes, kept in one place (as langgraph-checkpoint-postgres keeps its own).

Each write is one statement on LangGraph's own tables, in LangGraph's own row format: a ``FOR SHARE`` check that
the run's fencing token still owns it, and the inserts, which only happen when it does. One statement is atomic
under autocommit, needs no transaction and no pipeline, and costs one round trip; the stock saver sends a
pipeline of one statement per blob or write plus a Sync. The check locks the run row until the statement
commits, so a takeover (which updates that row) waits for an in-flight write instead of racing it.
"""

_OWNER = """owner AS MATERIALIZED (
    SELECT 1 FROM runs
    WHERE run_id = %(run_id)s AND fencing_token = %(token)s AND status = 'running'
    FOR SHARE
)"""

# One checkpoint with its channel blobs (the stock UPSERT_CHECKPOINT_BLOBS_SQL + UPSERT_CHECKPOINTS_SQL).
PUT_CHECKPOINT = f"""
WITH {_OWNER},
blobs AS (
    INSERT INTO checkpoint_blobs (thread_id, checkpoint_ns, channel, version, type, blob)
    SELECT %(thread_id)s::text, %(checkpoint_ns)s::text, b.channel, b.version, b.type, b.blob
    FROM unnest(%(channels)s::text[], %(versions)s::text[], %(types)s::text[], %(blobs)s::bytea[])
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
    FROM unnest(%(idxs)s::int[], %(channels)s::text[], %(types)s::text[], %(blobs)s::bytea[])
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
