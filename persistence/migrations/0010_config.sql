-- Configuration layers (see config_schema/service.py). The session layer lives in threads.config; the
-- system and user layers live here. Every change bumps its layer's generation (one row per layer and owner,
-- locked by writers, so changes of one owner are serialised and numbered 1, 2, 3...) and records one history
-- row per key with the old and the new value; a process compares generations to know its cache is fresh.

-- owner: '' for the system layer (administrator overrides), the user id for a user layer.
-- admin_set: written by an administrator (may hold a system-scope key for one user, e.g. a budget).
CREATE TABLE IF NOT EXISTS config_values (
    layer      text NOT NULL CHECK (layer IN ('system', 'user')),
    owner      text NOT NULL,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    admin_set  boolean NOT NULL DEFAULT false,
    updated_by text NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, owner, key)
);
CREATE INDEX IF NOT EXISTS config_values_key_idx ON config_values (key);

-- owner of a session generation: the thread id.
CREATE TABLE IF NOT EXISTS config_generations (
    layer      text NOT NULL CHECK (layer IN ('system', 'user', 'session')),
    owner      text NOT NULL,
    generation bigint NOT NULL DEFAULT 0,
    updated_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (layer, owner)
);

-- old_set / new_set: whether the layer held a value before / after (false: inherited from the layer below).
CREATE TABLE IF NOT EXISTS config_history (
    id         bigserial PRIMARY KEY,
    layer      text NOT NULL CHECK (layer IN ('system', 'user', 'session')),
    owner      text NOT NULL,
    generation bigint NOT NULL,
    key        text NOT NULL,
    old_set    boolean NOT NULL,
    old_value  jsonb,
    new_set    boolean NOT NULL,
    new_value  jsonb,
    action     text NOT NULL CHECK (action IN ('set', 'delete', 'rollback', 'migrate')),
    changed_by text NOT NULL,
    changed_at timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS config_history_owner_idx ON config_history (layer, owner, generation DESC);

-- The version of the setting definitions the stored values follow; definition migrations
-- (config_schema/migrations.py) bring them up to date at start-up.
CREATE TABLE IF NOT EXISTS config_schema_state (
    id         boolean PRIMARY KEY DEFAULT true CHECK (id),
    version    integer NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO config_schema_state (id, version) VALUES (true, 1) ON CONFLICT (id) DO NOTHING;
