"""Account routes: register, login, refresh, logout, me (``/api/v1/auth``), API keys (``/api/v1/keys``), users.

Request bodies are strict (``extra="forbid"``). Every failure is a JSON 4xx: 401 for bad credentials or
tokens, 403 when registration is closed, 409 for a taken username, 429 (with ``Retry-After``) when login
attempts for the account or the address are over their limit. Keys are listed and revoked only by their owner
(another user's key id is 404).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from api import accounts
from api.deps import AdminUser, CurrentUser, RuntimeDep
from api.errors import ApiError, not_found
from api.rate_limits import limiter
from api.responses import JSON
from engine.accounts import create_api_key_row
from persistence import accounts as repo

router = APIRouter(tags=["accounts"])


class Credentials(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=1, max_length=1024)


class Registration(BaseModel):
    model_config = ConfigDict(extra="forbid")
    username: str = Field(min_length=2, max_length=64)
    password: str = Field(min_length=8, max_length=1024)
    email: str | None = Field(default=None, max_length=320)


class RefreshBody(BaseModel):
    model_config = ConfigDict(extra="forbid")
    refresh_token: str = Field(min_length=1, max_length=4096)


class KeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str = Field(default="", max_length=200)


def _when(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _key_out(row: dict[str, Any]) -> dict[str, Any]:
    return {"key_id": str(row["key_id"]), "name": row["name"], "created_at": _when(row["created_at"]),
            "revoked_at": _when(row["revoked_at"])}


def _address(request: Request) -> str:
    return request.client.host if request.client else "unknown"


@router.post("/api/v1/auth/register", status_code=201)
async def register(body: Registration, request: Request, runtime: RuntimeDep) -> Response:
    if not runtime.settings.auth_registration:
        raise ApiError(403, "registration_closed", "registration is turned off (CLEW_AUTH_REGISTRATION): "
                       "an administrator creates accounts with `clew users create`")
    await limiter(runtime).hit("login_address", _address(request))
    row = await accounts.register(runtime, body.username, body.password, body.email)
    return JSON({"user_id": row["user_id"], "role": row["role"], "email": row["email"],
                 "created_at": _when(row["created_at"])}, status_code=201)


@router.post("/api/v1/auth/login")
async def login(body: Credentials, request: Request, runtime: RuntimeDep) -> Response:
    await limiter(runtime).check_login(body.username, _address(request))
    return JSON(await accounts.login(runtime, body.username, body.password))


@router.post("/api/v1/auth/refresh")
async def refresh(body: RefreshBody, runtime: RuntimeDep) -> Response:
    return JSON(await accounts.refresh(runtime, body.refresh_token))


@router.post("/api/v1/auth/logout", status_code=204)
async def logout(body: RefreshBody, runtime: RuntimeDep) -> Response:
    await accounts.logout(runtime, body.refresh_token)
    return Response(status_code=204)


@router.get("/api/v1/auth/me")
async def me(user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        row = await repo.get_user(conn, user.user_id)
    return JSON({"user_id": user.user_id, "is_admin": user.is_admin,
                 "role": "admin" if user.is_admin else "user",
                 "email": row["email"] if row else None,
                 "created_at": _when(row["created_at"]) if row else None,
                 "auth": runtime.settings.auth})


@router.get("/api/v1/keys")
async def list_keys(user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        rows = await repo.list_keys(conn, user.user_id)
    return JSON([_key_out(r) for r in rows])


@router.post("/api/v1/keys", status_code=201)
async def create_key(body: KeyCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    key, row = await create_api_key_row(runtime.db, user.user_id, body.name)
    return JSON({**_key_out(row), "key": key}, status_code=201)


@router.delete("/api/v1/keys/{key_id}")
async def revoke_key(key_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    import uuid

    try:
        uuid.UUID(key_id)
    except ValueError:
        raise not_found("API key", key_id) from None
    async with runtime.db.connection() as conn:
        row = await repo.revoke_key(conn, key_id, user.user_id)
    if row is None:
        raise not_found("API key", key_id)
    return JSON(_key_out(row))


@router.get("/api/v1/users")
async def list_users(_: AdminUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        rows = await repo.list_users(conn)
    return JSON([{"user_id": r["user_id"], "role": r["role"], "email": r["email"],
                  "has_password": r["has_password"], "created_at": _when(r["created_at"])} for r in rows])
