-- Process heartbeats (engine/operations.py): every clew process with worker slots upserts its row every few
-- seconds, so /ready and `clew doctor` can tell whether anything will execute queued runs.
CREATE TABLE IF NOT EXISTS worker_heartbeats (
    worker_id    text PRIMARY KEY,
    kind         text NOT NULL,
    hostname     text NOT NULL,
    pid          integer NOT NULL,
    slots        integer NOT NULL,
    running      integer NOT NULL DEFAULT 0,
    started_at   timestamptz NOT NULL DEFAULT now(),
    heartbeat_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS worker_heartbeats_at_idx ON worker_heartbeats (heartbeat_at);
