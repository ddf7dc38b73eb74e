"""SQL of the run queue, kept in one place (like langgraph-checkpoint-postgres's base module).

Array parameters are sent in binary (``%(name)b``), as in ``checkpoint_sql.py``: cheaper to build than a text array.
"""

# Locks the run row in share mode for the rest of the caller's transaction: a takeover (which updates the
# row) waits for the write, and a write after a takeover finds the token changed.
CHECK_FENCE = "SELECT 1 FROM runs WHERE run_id = %s AND fencing_token = %s AND status = 'running' FOR SHARE"

# Whether a worker's run is still its own (a lease renewal missed it: finished in between, or taken over).
OWNS_RUN = "SELECT 1 FROM runs WHERE run_id = %s AND fencing_token = %s AND status = 'running'"

# A rollback's end of the run: interrupted, while the token still owns it (the thread row is locked first).
STOP_FOR_ROLLBACK = """
UPDATE runs SET status = 'interrupted', ended_at = now()
WHERE run_id = %s AND fencing_token = %s AND status = 'running' RETURNING run_id
"""

# Claim the oldest runnable run: a pending run whose thread has no running run and which is the oldest
# pending run of its thread, or a running run whose lease lapsed (its worker died). ``first_claim``: the run was
# never claimed before (its ``checkpoint_before`` is fixed now; '' when its thread has no checkpoint yet).
CLAIM_RUN = """
WITH candidate AS (
    SELECT r.run_id, r.checkpoint_before AS prior_checkpoint_before
    FROM runs r
    WHERE (
        r.status = 'pending' AND r.available_at <= now()
        AND NOT EXISTS (SELECT 1 FROM runs x WHERE x.thread_id = r.thread_id AND x.status = 'running')
        AND NOT EXISTS (
            SELECT 1 FROM runs y
            WHERE y.thread_id = r.thread_id AND y.status = 'pending' AND y.created_at < r.created_at
        )
    ) OR (r.status = 'running' AND r.lease_expires_at < now())
    ORDER BY r.created_at
    LIMIT 1
    FOR UPDATE SKIP LOCKED
)
UPDATE runs SET
    status = 'running',
    lease_owner = %(worker)s,
    lease_expires_at = now() + make_interval(secs => %(lease)s),
    fencing_token = runs.fencing_token + 1,
    attempt = runs.attempt + 1,
    started_at = coalesce(runs.started_at, now()),
    -- where a rollback returns the thread to: the checkpoint to fork from, else the thread's latest one
    -- (LangGraph's checkpoint ids sort by time), fixed at the first claim
    checkpoint_before = coalesce(runs.checkpoint_before, runs.kwargs->>'checkpoint_id', (
        SELECT max(c.checkpoint_id) FROM checkpoints c
        WHERE c.thread_id = runs.thread_id::text AND c.checkpoint_ns = ''), ''),
    timeout_at = coalesce(runs.timeout_at, now() + make_interval(
        secs => coalesce((runs.kwargs->>'timeout_seconds')::float8, %(timeout)s))),
    updated_at = now()
FROM candidate
WHERE runs.run_id = candidate.run_id
RETURNING runs.*, (SELECT coalesce(max(seq), 0) FROM run_events e WHERE e.run_id = runs.run_id) AS last_seq,
    candidate.prior_checkpoint_before IS NULL AS first_claim
"""

# A cancelled run whose worker died (lease lapsed) taken over by the process that answers the cancel, when no
# worker did: a new fencing token (the dead worker, should it come back, is fenced out), attempt unchanged.
TAKE_OVER_CANCELLED = """
UPDATE runs SET lease_owner = %(owner)s, lease_expires_at = now() + make_interval(secs => %(lease)s),
    fencing_token = fencing_token + 1, updated_at = now()
WHERE run_id = %(run_id)s AND status = 'running' AND cancel_action IS NOT NULL AND lease_expires_at < now()
RETURNING runs.*, (SELECT coalesce(max(seq), 0) FROM run_events e WHERE e.run_id = runs.run_id) AS last_seq
"""

# Rows locked in run-id order first (as INSERT_EVENTS_BATCH locks them), so the two never deadlock.
RENEW_LEASES = """
UPDATE runs SET lease_expires_at = now() + make_interval(secs => %(lease)s)
WHERE run_id IN (
    SELECT run_id FROM runs
    WHERE status = 'running' AND lease_owner = %(worker)s
      AND (run_id, fencing_token) IN (SELECT * FROM unnest(%(run_ids)b::uuid[], %(tokens)b::bigint[]))
    ORDER BY run_id
    FOR UPDATE
)
RETURNING run_id
"""

# Hand a run back to the queue (graceful shutdown): not counted as an attempt.
RELEASE_RUN = """
UPDATE runs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL,
    attempt = greatest(attempt - 1, 0), updated_at = now()
WHERE run_id = %s AND fencing_token = %s AND status = 'running'
"""

# Retry after a failed attempt: back to pending after a short back-off.
RETRY_RUN = """
UPDATE runs SET status = 'pending', lease_owner = NULL, lease_expires_at = NULL, error = %(error)s,
    available_at = now() + make_interval(secs => %(delay)s), updated_at = now()
WHERE run_id = %(run_id)s AND fencing_token = %(token)s AND status = 'running'
"""

# Thread status after its run ended: busy while runs are queued, else from the run's outcome.
SETTLE_THREAD = """
UPDATE threads SET
    status = CASE
        WHEN EXISTS (SELECT 1 FROM runs WHERE thread_id = %(thread_id)s AND status IN ('pending', 'running'))
            THEN 'busy'
        ELSE %(status)s END,
    error = %(error)s,
    state_values = coalesce(%(values)s, state_values),
    interrupts = coalesce(%(interrupts)s, interrupts),
    updated_at = now()
WHERE thread_id = %(thread_id)s
"""

# One run's events in the caller's statement or transaction (rollback), if the token still owns the run; the
# NOTIFY to other processes goes out with it, on commit. Answers how many events were written.
INSERT_RUN_EVENTS = """
WITH ins AS (
    INSERT INTO run_events (run_id, seq, event, data)
    SELECT %(run_id)s, e.seq, e.event, e.data
    FROM unnest(%(seqs)b::bigint[], %(events)b::text[], %(datas)b::text[]) AS e(seq, event, data)
    WHERE EXISTS (
        SELECT 1 FROM runs WHERE run_id = %(run_id)s AND fencing_token = %(token)s AND status = 'running' FOR SHARE
    )
    RETURNING 1
)
SELECT (SELECT count(*) FROM ins) AS written, pg_notify(%(channel)s, %(run_id)s::text) AS notified
"""

# The events of several runs in one statement (engine/events.py): each run's rows land only if its token still
# owns it. The owners' rows are locked FOR SHARE in run-id order (as RENEW_LEASES locks them), so two such
# statements and a heartbeat never wait on each other in a cycle. Answers the runs written, each NOTIFYed (unless
# ``channel`` is NULL: no other process listens, see engine/broker.py).
# Rows already there are skipped, so a repetition after a commit whose answer was lost is harmless.
INSERT_EVENTS_BATCH = """
WITH batch AS (
    SELECT * FROM unnest(%(run_ids)b::uuid[], %(tokens)b::bigint[], %(seqs)b::bigint[], %(events)b::text[],
        %(datas)b::text[]) AS e(run_id, token, seq, event, data)
),
owners AS MATERIALIZED (
    SELECT r.run_id FROM runs r
    WHERE (r.run_id, r.fencing_token) IN (SELECT DISTINCT run_id, token FROM batch) AND r.status = 'running'
    ORDER BY r.run_id
    FOR SHARE
),
ins AS (
    INSERT INTO run_events (run_id, seq, event, data)
    SELECT b.run_id, b.seq, b.event, b.data FROM batch b WHERE b.run_id IN (SELECT run_id FROM owners)
    ON CONFLICT (run_id, seq) DO NOTHING
)
SELECT o.run_id, CASE WHEN %(channel)s::text IS NOT NULL THEN pg_notify(%(channel)s, o.run_id::text) END AS notified
FROM owners o
"""

MAX_EVENT_SEQ = "SELECT coalesce(max(seq), 0) AS seq FROM run_events WHERE run_id = %s"

# The thread row, locked first in a transaction that goes on to lock or change one of its runs (see below).
LOCK_THREAD = "SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE"

# Lock order, everywhere: the thread row before its runs' rows (run creation locks the thread, then its active
# runs; a run's end, a cancel and a rollback do the same), so two of them never wait on each other in a cycle.
#
# A run's end as one statement (atomic under autocommit, one round trip): its last events, its final status and
# its thread's status, only while ``token`` still owns the run (the thread row, then the run row, are locked
# first — the always-true ``count(*) >= 0`` is a one-time filter evaluated before the run row is read — so a
# takeover in flight either wins before, and nothing is written, or waits until this commits). A rollback cancel that committed
# before (``cancel_action``, read under the same lock) also stops it: the caller rolls the run back instead, and
# a cancel after it finds the run ended (409). The thread's check for other active runs excludes this run,
# which the statement's snapshot still sees running. NOTIFY (unless ``channel`` is NULL) goes out on commit.
FINISH_RUN_AND_THREAD = """
WITH thread_lock AS MATERIALIZED (
    SELECT 1 FROM threads WHERE thread_id = %(thread_id)s FOR UPDATE
),
owner AS MATERIALIZED (
    SELECT cancel_action FROM runs
    WHERE run_id = %(run_id)s AND fencing_token = %(token)s AND status = 'running'
        AND (SELECT count(*) FROM thread_lock) >= 0
    FOR UPDATE
),
go AS MATERIALIZED (
    SELECT 1 FROM owner WHERE cancel_action IS DISTINCT FROM 'rollback'
),
events AS (
    INSERT INTO run_events (run_id, seq, event, data)
    SELECT %(run_id)s, e.seq, e.event, e.data
    FROM unnest(%(seqs)b::bigint[], %(events)b::text[], %(datas)b::text[]) AS e(seq, event, data)
    WHERE EXISTS (SELECT 1 FROM go)
),
finished AS (
    UPDATE runs SET status = %(status)s, error = %(error)s, lease_owner = NULL, lease_expires_at = NULL,
        ended_at = now(), updated_at = now()
    WHERE run_id = %(run_id)s AND EXISTS (SELECT 1 FROM go)
    RETURNING thread_id
),
settled AS (
    UPDATE threads SET
        status = CASE
            WHEN EXISTS (
                SELECT 1 FROM runs WHERE thread_id = %(thread_id)s AND run_id <> %(run_id)s
                AND status IN ('pending', 'running')
            ) THEN 'busy'
            ELSE %(thread_status)s END,
        error = %(error)s,
        state_values = coalesce(%(values)s, state_values),
        interrupts = coalesce(%(interrupts)s, interrupts),
        updated_at = now()
    WHERE thread_id = %(thread_id)s AND EXISTS (SELECT 1 FROM finished)
    RETURNING status
)
SELECT (SELECT count(*) FROM finished) AS finished, (SELECT count(*) FROM owner) AS owned,
    (SELECT status FROM settled) AS thread_status,
    CASE WHEN %(channel)s::text IS NOT NULL THEN pg_notify(%(channel)s, %(run_id)s::text) END AS notified
"""


# The thread of a run stopped by a cancel (action=interrupt), settled again from its final checkpoint when a
# checkpoint landed after the run's end was computed; only while no other run took the thread meanwhile.
RESETTLE_STOPPED_THREAD = """
UPDATE threads SET status = %(status)s, state_values = %(values)s, interrupts = %(interrupts)s, updated_at = now()
WHERE thread_id = %(thread_id)s AND status IN ('idle', 'interrupted')
  AND NOT EXISTS (SELECT 1 FROM runs WHERE thread_id = %(thread_id)s AND status IN ('pending', 'running'))
"""
