-- Token usage and cost of every model call, for per-node / run / thread sums and per-user daily budgets.
-- No foreign keys on purpose: deleting a thread or run must not erase what its calls cost today.
CREATE TABLE IF NOT EXISTS usage_records (
    id            bigserial PRIMARY KEY,
    run_id        uuid,
    thread_id     uuid,
    user_id       text NOT NULL,
    node          text NOT NULL DEFAULT '',
    model         text NOT NULL DEFAULT '',
    input_tokens  integer NOT NULL DEFAULT 0 CHECK (input_tokens >= 0),
    output_tokens integer NOT NULL DEFAULT 0 CHECK (output_tokens >= 0),
    cost_usd      numeric(18, 8) NOT NULL DEFAULT 0 CHECK (cost_usd >= 0),
    estimated     boolean NOT NULL DEFAULT false,
    created_at    timestamptz NOT NULL DEFAULT now()
);

-- Per-user-per-day sums (budget checks before each node) read only this index.
CREATE INDEX IF NOT EXISTS usage_records_user_day ON usage_records (user_id, created_at) INCLUDE (cost_usd);
CREATE INDEX IF NOT EXISTS usage_records_thread ON usage_records (thread_id, created_at);
CREATE INDEX IF NOT EXISTS usage_records_run ON usage_records (run_id);
