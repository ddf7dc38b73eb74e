"""SQL of accounts: users with passwords and roles, API keys, refresh-token families, shared secrets.

Statements are named constants; the functions below are thin and typed. The rules (who may do what, when a
token is reused) live in ``api/accounts.py``; this module only reads and writes rows.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from persistence import channels
from persistence.db import Conn

KEY_USER = """
SELECT k.user_id, u.role FROM api_keys k JOIN users u ON u.user_id = k.user_id
WHERE k.key_hash = %s AND k.revoked_at IS NULL AND u.disabled_at IS NULL
"""
USER_BY_ID = "SELECT user_id, role, email, password_hash, created_at, disabled_at FROM users WHERE user_id = %s"
ANY_ACCOUNT = "SELECT EXISTS (SELECT 1 FROM users WHERE password_hash IS NOT NULL) AS any"
INSERT_ACCOUNT = """
INSERT INTO users (user_id, password_hash, role, email) VALUES (%s, %s, %s, %s)
ON CONFLICT (user_id) DO NOTHING
RETURNING user_id, role, email, created_at
"""
UPSERT_ACCOUNT = """
INSERT INTO users (user_id, password_hash, role, email) VALUES (%s, %s, %s, %s)
ON CONFLICT (user_id) DO UPDATE SET password_hash = coalesce(EXCLUDED.password_hash, users.password_hash),
    role = EXCLUDED.role, email = coalesce(EXCLUDED.email, users.email)
RETURNING user_id, role, email, created_at
"""
SET_PASSWORD_HASH = "UPDATE users SET password_hash = %s WHERE user_id = %s"
LIST_USERS = "SELECT user_id, role, email, created_at, password_hash IS NOT NULL AS has_password FROM users ORDER BY created_at"

ENSURE_USER = "INSERT INTO users (user_id) VALUES (%s) ON CONFLICT DO NOTHING"
INSERT_KEY = """
INSERT INTO api_keys (user_id, key_hash, name) VALUES (%s, %s, %s)
RETURNING key_id, user_id, name, created_at, revoked_at
"""
LIST_KEYS = """
SELECT key_id, user_id, name, created_at, revoked_at FROM api_keys WHERE user_id = %s ORDER BY created_at
"""
LIST_ALL_KEYS = "SELECT key_id, user_id, name, created_at, revoked_at FROM api_keys ORDER BY user_id, created_at"
REVOKE_KEY = """
UPDATE api_keys SET revoked_at = coalesce(revoked_at, now())
WHERE key_id = %s AND (user_id = %s OR %s::text IS NULL)
RETURNING key_id, user_id, name, created_at, revoked_at
"""

INSERT_REFRESH = "INSERT INTO refresh_tokens (token_id, family_id, user_id, expires_at) VALUES (%s, %s, %s, %s)"
LOCK_REFRESH = """
SELECT token_id, family_id, user_id, expires_at, used_at, revoked_at, expires_at < now() AS expired
FROM refresh_tokens WHERE token_id = %s FOR UPDATE
"""
USE_REFRESH = "UPDATE refresh_tokens SET used_at = now() WHERE token_id = %s"
REVOKE_FAMILY = "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE family_id = %s"
REVOKE_USER_FAMILIES = "UPDATE refresh_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE user_id = %s"

GET_SECRET = "SELECT value FROM clew_secrets WHERE name = %s"
PUT_SECRET = "INSERT INTO clew_secrets (name, value) VALUES (%s, %s) ON CONFLICT (name) DO NOTHING"


async def key_user(conn: Conn, key_hash: str) -> dict[str, Any] | None:
    cur = await conn.execute(KEY_USER, (key_hash,))
    return await cur.fetchone()


async def get_user(conn: Conn, user_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(USER_BY_ID, (user_id,))
    return await cur.fetchone()


async def create_account(conn: Conn, user_id: str, password_hash: str | None, email: str | None,
                         *, role: str | None = None) -> dict[str, Any] | None:
    """Insert a new account (inside the caller's transaction). ``role`` None: admin when it is the first
    account with a password, else user. Returns None when ``user_id`` is taken."""
    await channels.xact_lock(conn, channels.FIRST_ACCOUNT_LOCK)  # serialises "is this the first account?"
    if role is None:
        cur = await conn.execute(ANY_ACCOUNT)
        row = await cur.fetchone()
        role = "user" if row and row["any"] else "admin"
    cur = await conn.execute(INSERT_ACCOUNT, (user_id, password_hash, role, email))
    return await cur.fetchone()


async def upsert_account(conn: Conn, user_id: str, password_hash: str | None, email: str | None,
                         role: str) -> dict[str, Any]:
    """Create or update an account (the operator's ``clew users create``)."""
    cur = await conn.execute(UPSERT_ACCOUNT, (user_id, password_hash, role, email))
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_users(conn: Conn) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST_USERS)
    return await cur.fetchall()


async def insert_key(conn: Conn, user_id: str, key_hash: str, name: str) -> dict[str, Any]:
    await conn.execute(ENSURE_USER, (user_id,))
    cur = await conn.execute(INSERT_KEY, (user_id, key_hash, name))
    row = await cur.fetchone()
    assert row is not None
    return row


async def list_keys(conn: Conn, user_id: str | None) -> list[dict[str, Any]]:
    cur = await (conn.execute(LIST_KEYS, (user_id,)) if user_id is not None else conn.execute(LIST_ALL_KEYS))
    return await cur.fetchall()


async def revoke_key(conn: Conn, key_id: str, user_id: str | None) -> dict[str, Any] | None:
    """Revoke ``key_id`` if it belongs to ``user_id`` (any user's when None). None when there is no such key."""
    cur = await conn.execute(REVOKE_KEY, (key_id, user_id, user_id))
    return await cur.fetchone()


async def insert_refresh(conn: Conn, token_id: str, family_id: str, user_id: str, expires_at: datetime) -> None:
    await conn.execute(INSERT_REFRESH, (token_id, family_id, user_id, expires_at))


async def lock_refresh(conn: Conn, token_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(LOCK_REFRESH, (token_id,))
    return await cur.fetchone()


async def use_refresh(conn: Conn, token_id: str) -> None:
    await conn.execute(USE_REFRESH, (token_id,))


async def revoke_family(conn: Conn, family_id: str) -> None:
    await conn.execute(REVOKE_FAMILY, (family_id,))


async def shared_secret(conn: Conn, name: str, candidate: str) -> str:
    """The secret stored under ``name``, storing ``candidate`` first if there is none (first writer wins)."""
    await conn.execute(PUT_SECRET, (name, candidate))
    cur = await conn.execute(GET_SECRET, (name,))
    row = await cur.fetchone()
    assert row is not None
    return str(row["value"])
