-- Runtime core: users and keys, assistants, threads, runs (the queue), persisted stream events.
CREATE TABLE IF NOT EXISTS users (
    user_id    text PRIMARY KEY,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE IF NOT EXISTS api_keys (
    key_id     uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    user_id    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    key_hash   text NOT NULL UNIQUE,
    name       text NOT NULL DEFAULT '',
    created_at timestamptz NOT NULL DEFAULT now(),
    revoked_at timestamptz
);

-- user_id NULL marks a system assistant (one per graph, visible to everyone).
CREATE TABLE IF NOT EXISTS assistants (
    assistant_id uuid PRIMARY KEY,
    user_id      text,
    graph_id     text NOT NULL,
    name         text NOT NULL,
    description  text,
    config       jsonb NOT NULL DEFAULT '{}',
    context      jsonb NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    version      integer NOT NULL DEFAULT 1,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS assistants_user_idx ON assistants (user_id, created_at DESC);

CREATE TABLE IF NOT EXISTS assistant_versions (
    assistant_id uuid NOT NULL REFERENCES assistants (assistant_id) ON DELETE CASCADE,
    version      integer NOT NULL,
    graph_id     text NOT NULL,
    name         text NOT NULL,
    description  text,
    config       jsonb NOT NULL DEFAULT '{}',
    context      jsonb NOT NULL DEFAULT '{}',
    metadata     jsonb NOT NULL DEFAULT '{}',
    created_at   timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (assistant_id, version)
);

CREATE TABLE IF NOT EXISTS threads (
    thread_id  uuid PRIMARY KEY,
    user_id    text NOT NULL,
    metadata   jsonb NOT NULL DEFAULT '{}',
    status     text NOT NULL DEFAULT 'idle' CHECK (status IN ('idle', 'busy', 'interrupted', 'error')),
    config     jsonb NOT NULL DEFAULT '{}',
    state_values jsonb,
    interrupts jsonb NOT NULL DEFAULT '{}',
    error      jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS threads_user_idx ON threads (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS threads_metadata_idx ON threads USING gin (metadata jsonb_path_ops);

-- The run queue. A worker owns a running run through its lease; fencing_token grows on every claim so a
-- stalled former owner can be told apart from the current one.
CREATE TABLE IF NOT EXISTS runs (
    run_id             uuid PRIMARY KEY,
    thread_id          uuid NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    user_id            text NOT NULL,
    assistant_id       uuid NOT NULL,
    graph_id           text NOT NULL,
    status             text NOT NULL DEFAULT 'pending'
                       CHECK (status IN ('pending', 'running', 'success', 'error', 'timeout', 'interrupted')),
    kwargs             jsonb NOT NULL,
    config_snapshot    jsonb NOT NULL DEFAULT '{}',
    metadata           jsonb NOT NULL DEFAULT '{}',
    multitask_strategy text NOT NULL DEFAULT 'enqueue',
    attempt            integer NOT NULL DEFAULT 0,
    max_attempts       integer NOT NULL DEFAULT 3,
    lease_owner        text,
    lease_expires_at   timestamptz,
    fencing_token      bigint NOT NULL DEFAULT 0,
    cancel_action      text CHECK (cancel_action IN ('interrupt', 'rollback')),
    checkpoint_before  text,
    error              jsonb,
    available_at       timestamptz NOT NULL DEFAULT now(),
    timeout_at         timestamptz,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    started_at         timestamptz,
    ended_at           timestamptz
);
CREATE INDEX IF NOT EXISTS runs_thread_idx ON runs (thread_id, created_at);
CREATE INDEX IF NOT EXISTS runs_pending_idx ON runs (available_at, created_at) WHERE status = 'pending';
CREATE INDEX IF NOT EXISTS runs_running_idx ON runs (lease_expires_at) WHERE status = 'running';
-- at most one running run per thread
CREATE UNIQUE INDEX IF NOT EXISTS runs_one_running_per_thread ON runs (thread_id) WHERE status = 'running';

CREATE TABLE IF NOT EXISTS run_events (
    run_id     uuid NOT NULL,
    seq        bigint NOT NULL,
    event      text NOT NULL,
    data       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (run_id, seq)
);
CREATE INDEX IF NOT EXISTS run_events_created_idx ON run_events (created_at);
