-- Exactly-once side effects: one row per (thread, task, key); a re-executed task finds its row and
-- does not repeat the effect. task_ns is LangGraph's checkpoint namespace of the task ("node:<task id>"),
-- and the task id is derived from the checkpoint it runs from, so it is the same when a node re-runs.
CREATE TABLE IF NOT EXISTS side_effects (
    thread_id  text NOT NULL,
    task_ns    text NOT NULL,
    key        text NOT NULL,
    run_id     uuid,
    state      text NOT NULL DEFAULT 'done' CHECK (state IN ('started', 'done')),
    result     jsonb,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (thread_id, task_ns, key)
);
