"""clew's own accounts: password sign-in, access + refresh JWTs with rotation and reuse detection, API keys.

- Passwords are hashed with argon2id through ``pwdlib`` (``engine/accounts.py``, shared with the CLI).
- Access tokens: HS256 JWTs issued by clew (``iss`` = ``clew``, ``typ`` = ``access``, ``role`` claim), valid
  ``CLEW_ACCESS_TOKEN_MINUTES``; signed with ``CLEW_JWT_SECRET`` or, when unset, a random secret stored once in
  the database (``clew_secrets``) so every process agrees.
- Refresh tokens: JWTs (``typ`` = ``refresh``) naming a row of ``refresh_tokens`` (``jti``) and its family
  (``fam``). A refresh marks the token used and issues the next of the family; a used token presented again
  means a copy leaked, so the whole family is revoked (OAuth 2.0 Security BCP, RFC 9700 §4.14.2).
- Login attempts are counted per account and per client address (``api/rate_limits.py``) before the password is
  checked, so guessing is slow whichever of the two an attacker varies.
"""

from __future__ import annotations

import secrets
import uuid
import weakref
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import jwt

from api.errors import ApiError
from engine.accounts import check_username, hash_password, verify_password
from persistence import accounts as repo
from persistence.db import Conn

if TYPE_CHECKING:
    from engine.runtime import Runtime

ISSUER = "clew"
AUDIENCE = "clew"
# per runtime (a process has one; tests start several): the secret once read
_SIGNING_SECRETS: weakref.WeakKeyDictionary[Any, str] = weakref.WeakKeyDictionary()


async def signing_secret(runtime: Runtime) -> str:
    cached = _SIGNING_SECRETS.get(runtime)
    if cached:
        return cached
    secret = runtime.settings.jwt_secret
    if not secret:
        async with runtime.db.connection() as conn:
            secret = await repo.shared_secret(conn, "jwt_signing_secret", secrets.token_urlsafe(48))
    _SIGNING_SECRETS[runtime] = secret
    return secret


def is_clew_token(token: str) -> bool:
    """Whether ``token`` claims to be one clew issued (decides which key verifies it; nothing is trusted yet)."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return False
    return claims.get("iss") == ISSUER


async def decode_clew_token(runtime: Runtime, token: str, typ: str) -> dict[str, Any]:
    try:
        claims: dict[str, Any] = jwt.decode(
            token, await signing_secret(runtime), algorithms=["HS256"], audience=AUDIENCE, issuer=ISSUER,
            options={"require": ["sub", "exp", "typ", "jti"]},
        )
    except jwt.PyJWTError as exc:
        raise ApiError(401, "unauthorized", f"invalid token: {exc}") from exc
    if claims.get("typ") != typ:
        raise ApiError(401, "unauthorized", f"invalid token: a {claims.get('typ')} token where a {typ} token "
                       "is needed")
    return claims


async def issue_tokens(runtime: Runtime, conn: Conn, user_id: str, role: str,
                       family_id: str | None = None) -> dict[str, Any]:
    """A new access token and the next refresh token of ``family_id`` (a new family when None)."""
    s = runtime.settings
    now = datetime.now(UTC)
    access_exp = now + timedelta(minutes=s.access_token_minutes)
    refresh_exp = now + timedelta(days=s.refresh_token_days)
    token_id, family = str(uuid.uuid4()), family_id or str(uuid.uuid4())
    await repo.insert_refresh(conn, token_id, family, user_id, refresh_exp)
    secret = await signing_secret(runtime)
    common = {"iss": ISSUER, "aud": AUDIENCE, "sub": user_id, "iat": now}
    access = jwt.encode({**common, "exp": access_exp, "typ": "access", "role": role,
                         "jti": str(uuid.uuid4())}, secret, algorithm="HS256")
    refresh = jwt.encode({**common, "exp": refresh_exp, "typ": "refresh", "jti": token_id, "fam": family},
                         secret, algorithm="HS256")
    return {"access_token": access, "refresh_token": refresh, "token_type": "bearer",
            "expires_in": int(s.access_token_minutes * 60), "user_id": user_id, "role": role}


async def register(runtime: Runtime, username: str, password: str, email: str | None) -> dict[str, Any]:
    user_id = check_username(username)
    password_hash = await hash_password(password)
    async with runtime.db.transaction() as conn:
        row = await repo.create_account(conn, user_id, password_hash, email)
    if row is None:
        raise ApiError(409, "conflict", f"user {user_id} already exists")
    return row


async def login(runtime: Runtime, username: str, password: str) -> dict[str, Any]:
    user_id = username.strip().lower()
    async with runtime.db.connection() as conn:
        row = await repo.get_user(conn, user_id)
    ok = await verify_password(password, row["password_hash"] if row else None)
    if row is None or not ok or row["disabled_at"] is not None:
        raise ApiError(401, "unauthorized", "wrong username or password")
    async with runtime.db.transaction() as conn:
        return await issue_tokens(runtime, conn, user_id, row["role"])


async def refresh(runtime: Runtime, token: str) -> dict[str, Any]:
    """Rotate: the presented refresh token is spent and a new pair returned. A spent token presented again
    revokes its family (every token descended from the same login) and is refused."""
    claims = await decode_clew_token(runtime, token, "refresh")
    reused = False
    async with runtime.db.transaction() as conn:
        row = await repo.lock_refresh(conn, str(claims["jti"]))
        if row is None or row["revoked_at"] is not None or row["expired"]:
            raise ApiError(401, "unauthorized", "refresh token revoked or expired: sign in again")
        if row["used_at"] is not None:
            await repo.revoke_family(conn, str(row["family_id"]))
            reused = True
        else:
            user = await repo.get_user(conn, row["user_id"])
            if user is None or user["disabled_at"] is not None:
                raise ApiError(401, "unauthorized", "account disabled")
            await repo.use_refresh(conn, str(row["token_id"]))
            return await issue_tokens(runtime, conn, row["user_id"], user["role"], str(row["family_id"]))
    assert reused  # the family's revocation is committed before the refusal
    raise ApiError(401, "refresh_reused", "refresh token already used: every session of this sign-in is "
                   "revoked, sign in again")


async def logout(runtime: Runtime, token: str) -> None:
    claims = await decode_clew_token(runtime, token, "refresh")
    async with runtime.db.transaction() as conn:
        row = await repo.lock_refresh(conn, str(claims["jti"]))
        if row is not None:
            await repo.revoke_family(conn, str(row["family_id"]))
