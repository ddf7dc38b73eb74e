-- Accounts (api/accounts.py): password sign-in, roles, refresh-token families; shared secrets; rate-limit
-- counters shared by every process (api/rate_limits.py).
ALTER TABLE users ADD COLUMN IF NOT EXISTS password_hash text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS role text NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN IF NOT EXISTS email text;
ALTER TABLE users ADD COLUMN IF NOT EXISTS disabled_at timestamptz;
DO $$ BEGIN
    ALTER TABLE users ADD CONSTRAINT users_role_check CHECK (role IN ('admin', 'user'));
EXCEPTION WHEN duplicate_object THEN NULL;
END $$;
CREATE INDEX IF NOT EXISTS api_keys_user_idx ON api_keys (user_id, created_at);

-- One row per refresh token ever issued. A refresh marks its token used and issues the next one in the same
-- family; presenting a used token again (a stolen copy) revokes the whole family.
CREATE TABLE IF NOT EXISTS refresh_tokens (
    token_id   uuid PRIMARY KEY,
    family_id  uuid NOT NULL,
    user_id    text NOT NULL REFERENCES users (user_id) ON DELETE CASCADE,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    revoked_at timestamptz
);
CREATE INDEX IF NOT EXISTS refresh_tokens_family_idx ON refresh_tokens (family_id);
CREATE INDEX IF NOT EXISTS refresh_tokens_expires_idx ON refresh_tokens (expires_at);

-- Secrets every process must agree on (the signing key of clew's own tokens when CLEW_JWT_SECRET is unset).
CREATE TABLE IF NOT EXISTS clew_secrets (
    name       text PRIMARY KEY,
    value      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);

-- Fixed-window rate-limit counters (the `limits` library's storage interface over Postgres).
CREATE UNLOGGED TABLE IF NOT EXISTS rate_limits (
    key        text PRIMARY KEY,
    value      bigint NOT NULL,
    expires_at timestamptz NOT NULL
);
CREATE INDEX IF NOT EXISTS rate_limits_expires_idx ON rate_limits (expires_at);
