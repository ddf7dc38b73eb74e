"""Authentication: API keys (stored hashed) and JWTs (HS256 / RS256) resolve to a :class:`User`.

API keys are random 32-byte tokens prefixed ``clew_``; only their SHA-256 is stored, so a database leak does
not leak keys (a fast hash is right here: the key has 256 bits of entropy, unlike a password).
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping
from typing import TYPE_CHECKING

import jwt
from pydantic import BaseModel

from api.errors import ApiError

if TYPE_CHECKING:
    from engine.runtime import Runtime

LOCAL_USER = "local"


class User(BaseModel):
    user_id: str
    is_admin: bool = False


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "clew_" + secrets.token_urlsafe(32)


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


async def authenticate(runtime: Runtime, headers: Mapping[str, str]) -> User:
    settings = runtime.settings
    if settings.auth == "none":
        return User(user_id=LOCAL_USER, is_admin=True)
    token = headers.get("x-api-key")
    if not token:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    if not token:
        raise _unauthorized("missing credentials: send x-api-key or Authorization: Bearer")
    if token.startswith("clew_"):
        row = await runtime.db.fetchone(
            "SELECT user_id FROM api_keys WHERE key_hash = %s AND revoked_at IS NULL", (hash_key(token),)
        )
        if row is None:
            raise _unauthorized("invalid API key")
        user_id = row["user_id"]
    elif settings.auth == "jwt":
        user_id = _decode_jwt(runtime, token)
    else:
        raise _unauthorized("invalid API key")
    return User(user_id=user_id, is_admin=user_id in settings.admin_users)


def _decode_jwt(runtime: Runtime, token: str) -> str:
    s = runtime.settings
    key = s.jwt_secret if s.jwt_algorithm == "HS256" else s.jwt_public_key
    if not key:
        raise ApiError(500, "misconfigured", "JWT auth is on but no key is configured")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=[s.jwt_algorithm],
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["sub", "exp"], "verify_aud": s.jwt_audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    return str(claims["sub"])


async def create_api_key(runtime: Runtime, user_id: str, name: str = "") -> str:
    """Create a key for ``user_id`` (creating the user if needed) and return it; it is shown only once."""
    key = new_key()
    async with runtime.db.transaction() as conn:
        await conn.execute("INSERT INTO users (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user_id,))
        await conn.execute(
            "INSERT INTO api_keys (user_id, key_hash, name) VALUES (%s, %s, %s)",
            (user_id, hash_key(key), name),
        )
    return key
