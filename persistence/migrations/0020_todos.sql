-- Human-in-the-loop: todos (weak interrupts). A node files a todo and keeps going; a human completes or
-- cancels it later; a gate node waits until none of its group is pending.
-- todo_id is deterministic (derived from the thread, the filing task and a key), so a node that runs again
-- (after a crash or a resume) files the same row again and INSERT … ON CONFLICT DO NOTHING keeps one.
CREATE TABLE IF NOT EXISTS todos (
    todo_id      uuid PRIMARY KEY,
    thread_id    uuid NOT NULL REFERENCES threads (thread_id) ON DELETE CASCADE,
    user_id      text NOT NULL,
    run_id       uuid,
    graph_id     text,
    node         text,
    todo_group   text NOT NULL DEFAULT 'default',
    kind         text NOT NULL CHECK (kind IN ('approval', 'input', 'selection')),
    message      text NOT NULL,
    data         jsonb NOT NULL DEFAULT '{}',
    options      jsonb NOT NULL DEFAULT '[]',
    answer_schema jsonb,
    status       text NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'completed', 'cancelled')),
    result       jsonb,
    due_at       timestamptz,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now(),
    completed_at timestamptz
);
CREATE INDEX IF NOT EXISTS todos_user_idx ON todos (user_id, status, created_at DESC);
CREATE INDEX IF NOT EXISTS todos_thread_idx ON todos (thread_id, todo_group, created_at);
