"""Authentication: API keys (stored hashed), clew's own access tokens, and an identity provider's JWTs.

- ``CLEW_AUTH=none``: every request is the one local admin (and ``api/security.py`` serves loopback only).
- ``CLEW_AUTH=api_key``: API keys, and access tokens clew issued at ``/api/v1/auth/login`` (``api/accounts.py``).
- ``CLEW_AUTH=jwt``: the same, plus JWTs of an external identity provider: HS256 with ``CLEW_JWT_SECRET``,
  RS256 with ``CLEW_JWT_PUBLIC_KEY``, or any asymmetric algorithm with keys from ``CLEW_JWT_JWKS_URL``
  (``jwt.PyJWKClient``: keys cached, refetched when a token names an unknown ``kid``, so rotation works).

API keys (created and hashed in ``engine/accounts.py``) are looked up by their SHA-256. Admins are users whose
role is ``admin`` or who are listed in ``CLEW_ADMIN_USERS``.
"""

from __future__ import annotations

import asyncio
import weakref
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import jwt

from api.errors import ApiError
from domain.users import LOCAL_USER, User
from engine.accounts import hash_key
from persistence import accounts as accounts_repo

if TYPE_CHECKING:
    from engine.runtime import Runtime

JWKS_ALGORITHMS = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"]


def _unauthorized(detail: str) -> ApiError:
    return ApiError(401, "unauthorized", detail)


def bearer_token(headers: Mapping[str, str]) -> str | None:
    token = headers.get("x-api-key")
    if not token:
        auth = headers.get("authorization", "")
        scheme, _, value = auth.partition(" ")
        if scheme.lower() == "bearer" and value.strip():
            token = value.strip()
    return token or None


async def authenticate(runtime: Runtime, headers: Mapping[str, str]) -> User:
    settings = runtime.settings
    if settings.auth == "none":
        return User(user_id=LOCAL_USER, is_admin=True)
    token = bearer_token(headers)
    if not token:
        raise _unauthorized("missing credentials: send x-api-key or Authorization: Bearer")
    role = "user"
    if token.startswith("clew_"):
        async with runtime.db.connection() as conn:
            row = await accounts_repo.key_user(conn, hash_key(token))
        if row is None:
            raise _unauthorized("invalid API key")
        user_id, role = row["user_id"], row["role"]
    else:
        from api.accounts import decode_clew_token, is_clew_token

        if is_clew_token(token):
            claims = await decode_clew_token(runtime, token, "access")
            user_id, role = str(claims["sub"]), str(claims.get("role", "user"))
        elif settings.auth == "jwt":
            user_id = await _decode_jwt(runtime, token)
        else:
            raise _unauthorized("invalid API key")
    return User(user_id=user_id, is_admin=role == "admin" or user_id in settings.admin_users)


# per runtime (a process has one; tests start several): the JWKS client and its key cache
_JWKS_CLIENTS: weakref.WeakKeyDictionary[Any, jwt.PyJWKClient] = weakref.WeakKeyDictionary()


def _jwks_client(runtime: Runtime, url: str) -> jwt.PyJWKClient:
    client = _JWKS_CLIENTS.get(runtime)
    if client is None or client.uri != url:
        client = jwt.PyJWKClient(url, cache_keys=True, lifespan=300, timeout=10,
                                 cooldown_duration=runtime.settings.jwt_jwks_cooldown_seconds)
        _JWKS_CLIENTS[runtime] = client
    return client


async def _decode_jwt(runtime: Runtime, token: str) -> str:
    s = runtime.settings
    key: Any
    algorithms = [s.jwt_algorithm]
    if s.jwt_jwks_url:
        try:
            # PyJWKClient fetches with urllib (blocking): off the event loop
            signing = await asyncio.to_thread(_jwks_client(runtime, s.jwt_jwks_url).get_signing_key_from_jwt, token)
        except jwt.PyJWKClientError as exc:
            raise _unauthorized(f"invalid token: {exc}") from exc
        except jwt.PyJWTError as exc:
            raise _unauthorized(f"invalid token: {exc}") from exc
        key, algorithms = signing.key, JWKS_ALGORITHMS
    else:
        key = s.jwt_secret if s.jwt_algorithm == "HS256" else s.jwt_public_key
    if not key:
        raise ApiError(500, "misconfigured", "JWT auth is on but no key is configured")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=algorithms,
            audience=s.jwt_audience,
            issuer=s.jwt_issuer,
            options={"require": ["sub", "exp"], "verify_aud": s.jwt_audience is not None},
        )
    except jwt.PyJWTError as exc:
        raise _unauthorized(f"invalid token: {exc}") from exc
    return str(claims["sub"])
