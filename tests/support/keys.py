"""API keys for tests, written straight to a (migrated) clew database.

This does what ``clew keys create USER`` does (the user row if missing, then a key row with the key's hash)
without starting a process per key; ``tests/test_ops_accounts.py`` covers the command itself.
"""

from __future__ import annotations

import psycopg

from engine.accounts import hash_key, new_key


def make_key(db_url: str, user: str) -> str:
    """A new API key for ``user`` (created if needed) in the clew database at ``db_url``."""
    key = new_key()
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute("INSERT INTO users (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user,))
        conn.execute("INSERT INTO api_keys (user_id, key_hash, name) VALUES (%s, %s, '')", (user, hash_key(key)))
    return key
