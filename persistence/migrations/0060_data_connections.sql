-- Data questions (data_query): the databases a user asks questions about. The password is stored only as a
-- Fernet token (persistence/secret_box.py); schema_cache holds the last introspection of the database.
CREATE TABLE IF NOT EXISTS data_connections (
    connection_id    uuid PRIMARY KEY,
    user_id          text NOT NULL,
    name             text NOT NULL,
    driver           text NOT NULL CHECK (driver IN ('sqlite', 'postgresql', 'mysql')),
    host             text,
    port             integer,
    database         text NOT NULL,
    username         text,
    password_enc     text,
    options          jsonb NOT NULL DEFAULT '{}',
    allowed_tables   jsonb,
    is_default       boolean NOT NULL DEFAULT false,
    schema_cache     jsonb,
    schema_cached_at timestamptz,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX IF NOT EXISTS data_connections_user ON data_connections (user_id, created_at);
CREATE UNIQUE INDEX IF NOT EXISTS data_connections_one_default ON data_connections (user_id) WHERE is_default;
