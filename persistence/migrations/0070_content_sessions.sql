-- Content-pipeline sessions (seed 004): a session is a thread running the content_pipeline graph; this row
-- keeps what the graph's state does not: the article it is for and when it expires (content.session_ttl_hours
-- after its last action). Removing the thread removes the row.
CREATE TABLE IF NOT EXISTS content_sessions (
    thread_id      uuid PRIMARY KEY REFERENCES threads (thread_id) ON DELETE CASCADE,
    user_id        text NOT NULL,
    article_id     text NOT NULL,
    ttl_hours      double precision NOT NULL,
    last_action_at timestamptz NOT NULL DEFAULT now(),
    expires_at     timestamptz NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS content_sessions_user_idx ON content_sessions (user_id, created_at DESC);
CREATE INDEX IF NOT EXISTS content_sessions_expires_idx ON content_sessions (expires_at);
