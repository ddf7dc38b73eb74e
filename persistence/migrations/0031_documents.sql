-- Knowledge base: one row per uploaded document. The text chunks and their vectors live in Qdrant (payload
-- user_id + document_id); this table is the system of record for what a user uploaded and where its
-- ingestion stands (pending -> processing -> ready | error).
CREATE TABLE IF NOT EXISTS documents (
    document_id  uuid PRIMARY KEY,
    user_id      text NOT NULL,
    filename     text NOT NULL,
    content_type text NOT NULL,
    size_bytes   bigint NOT NULL CHECK (size_bytes >= 0),
    status       text NOT NULL DEFAULT 'pending'
                 CHECK (status IN ('pending', 'processing', 'ready', 'error')),
    error        text,
    chunk_count  integer NOT NULL DEFAULT 0 CHECK (chunk_count >= 0),
    title        text,
    created_at   timestamptz NOT NULL DEFAULT now(),
    updated_at   timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS documents_user_idx ON documents (user_id, created_at DESC);
-- Start-up looks for unfinished background ingestions.
CREATE INDEX IF NOT EXISTS documents_unfinished_idx ON documents (status, updated_at)
    WHERE status IN ('pending', 'processing');
