"""Database connections of data questions: ``/api/v1/connections`` (list, create, get, update, delete, test,
schema), each scoped to its owner (another user's id is a 404, exactly like an unknown one).

A connection is ``{name, driver: sqlite | postgresql | mysql, host, port, database, username, password,
options, allowed_tables, is_default}``; for SQLite ``database`` is the file path. The password is encrypted
before it is stored (:mod:`persistence.secret_box`) and never returned: responses say ``has_password``.
On update, an absent ``password`` keeps the stored one, ``null`` removes it. A new default connection
clears the previous default. Changing where or how to connect drops the cached schema.

- ``POST /api/v1/connections/{id}/test`` → ``{reachable, server_version, error, elapsed_ms}`` (200 either
  way: an unreachable database is an answer, not an API error).
- ``GET /api/v1/connections/{id}/schema?refresh=false`` → the cached introspection (tables, columns, keys,
  row estimates, samples), introspected now when missing or when ``refresh=true``; 502 when the database
  cannot be read.
"""

from __future__ import annotations

import re
import uuid
from pathlib import Path
from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, not_found
from api.responses import JSON
from engine.current import runtime_scope
from engine.serde import to_jsonable
from nodes.data.connect import (
    ConnectionUnavailable,
    check_options,
    check_reach,
    forget,
    load_spec,
    test_connection,
)
from nodes.data.reach import TargetRefused
from nodes.data.schema import SchemaUnavailable, get_schema
from persistence import connections as repo
from persistence.secret_box import encrypt

router = APIRouter(prefix="/api/v1/connections", tags=["connections"])

Driver = Literal["sqlite", "postgresql", "mysql"]
_TABLE_NAME = r"^[^\s;'\"`]{1,200}$"


def _table_names(value: list[str] | None) -> list[str] | None:
    if value is None:
        return None
    for name in value:
        if not re.match(_TABLE_NAME, name):
            raise ValueError(f"invalid table name {name!r}")
    return [n.lower() for n in value]


class ConnectionFields(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    driver: Driver
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str = Field(min_length=1, max_length=1000, description="database name, or the SQLite file path")
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=1000)
    options: dict[str, Any] = Field(default_factory=dict)
    allowed_tables: list[str] | None = Field(default=None, max_length=1000)
    is_default: bool = False

    @field_validator("allowed_tables")
    @classmethod
    def _tables(cls, value: list[str] | None) -> list[str] | None:
        return _table_names(value)


class ConnectionPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    driver: Driver | None = None
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    database: str | None = Field(default=None, min_length=1, max_length=1000)
    username: str | None = Field(default=None, max_length=255)
    password: str | None = Field(default=None, max_length=1000)
    options: dict[str, Any] | None = None
    allowed_tables: list[str] | None = None
    is_default: bool | None = None

    @field_validator("allowed_tables")
    @classmethod
    def _tables(cls, value: list[str] | None) -> list[str] | None:
        return _table_names(value)


def _out(row: dict[str, Any]) -> dict[str, Any]:
    out = {k: v for k, v in row.items() if k != "user_id"}
    out["connection_id"] = str(row["connection_id"])
    out["id"] = out["connection_id"]
    return to_jsonable(out)


async def _check(values: dict[str, Any], runtime: Any) -> None:
    """422 for options a driver does not take, a relative SQLite path, and any target that is clew's own
    database or data directory or that the administrator does not allow (:mod:`nodes.data.reach`)."""
    data_dir = Path(runtime.settings.data_dir)
    try:
        check_options(values["driver"], values.get("options") or {})
    except ValueError as exc:
        raise ApiError(422, "invalid", f"options: {exc}") from None
    if values["driver"] == "sqlite":
        if values.get("host") or values.get("port"):
            raise ApiError(422, "invalid", "host and port do not apply to sqlite: give the file path as database")
        if not str(values["database"]).startswith(("/", "~/")):
            raise ApiError(422, "invalid", "database: an absolute path to the SQLite file is required")
    try:
        with runtime_scope(runtime):  # the reach check reads the runtime's settings and database (node code)
            await check_reach(values, runtime.db.url, data_dir)
    except TargetRefused as exc:
        field = "database" if values["driver"] == "sqlite" else "host"
        raise ApiError(422, "invalid", f"{field}: {exc}") from None


def _uuid(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        raise ApiError(422, "invalid", f"connection_id: {value!r} is not a UUID") from None


async def _load(runtime: Any, user_id: str, connection_id: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        row = await repo.get(conn, user_id, _uuid(connection_id))
    if row is None:
        raise not_found("connection", connection_id)
    return row


@router.get("")
async def list_connections(user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        rows = await repo.list_for_user(conn, user.user_id)
    return JSON([_out(r) for r in rows])


@router.post("", status_code=201)
async def create_connection(body: ConnectionFields, user: CurrentUser, runtime: RuntimeDep) -> Response:
    values = body.model_dump()
    await _check(values, runtime)
    password = values.pop("password")
    values.update(
        connection_id=str(uuid.uuid4()),
        user_id=user.user_id,
        password_enc=encrypt(runtime.settings.data_dir, password) if password else None,
    )
    async with runtime.db.transaction() as conn:
        row = await repo.insert(conn, values)
    return JSON(_out(row), status_code=201)


@router.get("/{connection_id}")
async def get_connection(connection_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(_out(await _load(runtime, user.user_id, connection_id)))


async def _update(connection_id: str, body: ConnectionPatch, user: Any, runtime: Any) -> Response:
    cid = _uuid(connection_id)
    patch = body.model_dump(exclude_unset=True)
    for key in ("name", "driver", "database", "options", "is_default"):
        if key in patch and patch[key] is None:
            raise ApiError(422, "invalid", f"{key}: null is not allowed")
    async with runtime.db.transaction() as conn:
        row = await repo.get(conn, user.user_id, cid)
        if row is None:
            raise not_found("connection", connection_id)
        token = await repo.get_secret(conn, user.user_id, cid)
        values = {k: row[k] for k in ("name", "driver", "host", "port", "database", "username", "options",
                                      "allowed_tables", "is_default")}
        values.update({k: v for k, v in patch.items() if k != "password"})
        await _check(values, runtime)
        if "password" in patch:
            token = encrypt(runtime.settings.data_dir, patch["password"]) if patch["password"] else None
        reconnect = any(k in patch for k in ("driver", "host", "port", "database", "username", "password",
                                             "options", "allowed_tables"))
        values.update(connection_id=cid, user_id=user.user_id, password_enc=token)
        updated = await repo.update(conn, values, reconnect=reconnect)
    assert updated is not None
    await forget(cid)
    return JSON(_out(updated))


@router.patch("/{connection_id}")
async def patch_connection(connection_id: str, body: ConnectionPatch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return await _update(connection_id, body, user, runtime)


@router.put("/{connection_id}")
async def put_connection(connection_id: str, body: ConnectionPatch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return await _update(connection_id, body, user, runtime)


@router.delete("/{connection_id}", status_code=204)
async def delete_connection(connection_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    cid = _uuid(connection_id)
    async with runtime.db.transaction() as conn:
        if not await repo.delete(conn, user.user_id, cid):
            raise not_found("connection", connection_id)
    await forget(cid)
    return Response(status_code=204)


@router.post("/{connection_id}/test")
async def test(connection_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _load(runtime, user.user_id, connection_id)
    with runtime_scope(runtime):  # node code: the reach check and the own-database refusal use the runtime
        try:
            spec = await load_spec(runtime.db, runtime.settings.data_dir, user.user_id, str(row["connection_id"]))
        except ConnectionUnavailable as exc:
            return JSON({"connection_id": str(row["connection_id"]), "reachable": False, "server_version": None,
                         "error": str(exc), "elapsed_ms": 0.0})
        return JSON({"connection_id": spec.connection_id, **await test_connection(spec)})


@router.get("/{connection_id}/schema")
async def schema(connection_id: str, user: CurrentUser, runtime: RuntimeDep, refresh: bool = False) -> Response:
    row = await _load(runtime, user.user_id, connection_id)
    try:
        with runtime_scope(runtime):  # node code: the reach check and the own-database refusal use the runtime
            spec = await load_spec(runtime.db, runtime.settings.data_dir, user.user_id, str(row["connection_id"]))
            body = await get_schema(runtime.db, spec, refresh=refresh)
    except (ConnectionUnavailable, SchemaUnavailable) as exc:
        raise ApiError(502, "database_unavailable", f"the database cannot be read: {exc}") from None
    return JSON(to_jsonable({"connection_id": spec.connection_id, **body}))
