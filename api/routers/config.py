"""Configuration routes: definitions, the user layer, the session layer of a thread, the system layer.

- ``GET /api/v1/config/definitions``: every key a settings screen can show (type, default, bounds, options,
  scope), grouped by category.
- ``GET|PUT|DELETE /api/v1/users/settings[/{key}|/batch]``, ``GET …/history``, ``POST …/rollback``: the
  caller's user layer. An administrator may act on another user's layer with ``?user_id=`` (and may set system
  keys there, e.g. one user's budget); anyone else asking for another user gets 403.
- ``GET /api/v1/agents/{agent_name}/config``: effective values for a graph or assistant, each with its layer.
- ``GET|PUT /threads/{thread_id}/config`` (+ ``/history``): the thread's session layer.
- ``GET|PUT /api/v1/system/config[/{key}]``, ``DELETE …/{key}``, ``GET …/history``, ``POST …/rollback``:
  administrator overrides of the system layer.

Every write is all or nothing: a value that breaks a rule is a 422 naming the key and the rule, a key the
layer may not set a 403, and nothing is stored. Secret values are write-only (shown masked). How settings
are shown (masking, readability, sources) is ``api/config_views.py``.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Body, Query, Response
from pydantic import BaseModel, ConfigDict, Field

from api import config_views as views
from api.deps import AdminUser, CurrentUser, RuntimeDep
from api.errors import ApiError, not_found
from api.responses import JSON
from api.routers.threads import load_thread
from config_schema.resolver import SOURCE_LAYER, layer_allows, mask, readable
from domain.errors import NotFound
from engine import lifecycle
from persistence import threads as threads_repo

router = APIRouter(tags=["config"])

class SettingValue(BaseModel):
    model_config = ConfigDict(extra="forbid")

    value: Any = Field(description="the new value (null only where the setting allows it)")


class RollbackBody(BaseModel):
    model_config = ConfigDict(extra="forbid")

    version: int = Field(ge=0, description="restore the layer as it was right after this version (0: empty)")


def _target_user(user: Any, user_id: str | None) -> str:
    if user_id is None or user_id == user.user_id:
        return str(user.user_id)
    if not user.is_admin:
        raise ApiError(403, "forbidden", "only an administrator may read or change another user's settings")
    return user_id


# ---------------------------------------------------------------------------- definitions
@router.get("/api/v1/config/definitions")
async def definitions(user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(views.definitions(runtime.config, admin=user.is_admin))


# ---------------------------------------------------------------------------- user layer
@router.get("/api/v1/users/settings")
async def user_settings(user: CurrentUser, runtime: RuntimeDep, user_id: str | None = None) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    resolved = await service.user_resolved(target)
    version, stored = await service.stored("user", target)
    editable = [
        s.key
        for s in service.registry.all()
        if readable(s, admin=user.is_admin) and layer_allows(s, "user", admin=user.is_admin)
    ]
    return JSON(
        {
            "user_id": target,
            "version": version,
            **views.effective(service, resolved, admin=user.is_admin),
            "overrides": views.stored_out(service, stored, admin=user.is_admin),
            "editable": editable,
        }
    )


@router.put("/api/v1/users/settings/batch")
async def put_user_settings_batch(
    user: CurrentUser, runtime: RuntimeDep, body: Any = Body(...), user_id: str | None = None
) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    values = views.body_values(service, body)
    if not values:
        raise ApiError(422, "invalid", "no settings given")
    result = await service.set_values("user", target, values, actor=user.user_id, admin=user.is_admin)
    return JSON(await views.change_out(service, result, target, admin=user.is_admin))


@router.get("/api/v1/users/settings/history")
async def user_settings_history(
    user: CurrentUser,
    runtime: RuntimeDep,
    user_id: str | None = None,
    limit: int = Query(50, ge=1, le=1000),
    before: int | None = Query(None, ge=1),
    key: str | None = None,
) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    versions = await service.history("user", target, limit=limit, before=before, key=key)
    return JSON(views.readable_history(service, versions, admin=user.is_admin))


@router.post("/api/v1/users/settings/rollback")
async def rollback_user_settings(
    body: RollbackBody, user: CurrentUser, runtime: RuntimeDep, user_id: str | None = None
) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    result = await service.rollback("user", target, body.version, actor=user.user_id, admin=user.is_admin)
    return JSON(
        {**await views.change_out(service, result, target, admin=user.is_admin), "rolled_back_to": body.version}
    )


@router.put("/api/v1/users/settings/{key}")
async def put_user_setting(
    key: str, body: SettingValue, user: CurrentUser, runtime: RuntimeDep, user_id: str | None = None
) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    result = await service.set_values(
        "user", target, {key: body.value}, actor=user.user_id, admin=user.is_admin
    )
    resolved = await service.user_resolved(target)
    setting = service.registry.get(key)
    return JSON(
        {
            "key": key,
            "value": mask(setting, resolved.values.get(key)),
            "source": resolved.sources.get(key),
            "version": result.version,
            "changed": bool(result.changes),
        }
    )


@router.delete("/api/v1/users/settings/{key}")
async def delete_user_setting(
    key: str, user: CurrentUser, runtime: RuntimeDep, user_id: str | None = None
) -> Response:
    service = runtime.config
    target = _target_user(user, user_id)
    result = await service.delete_values("user", target, [key], actor=user.user_id, admin=user.is_admin)
    resolved = await service.user_resolved(target)
    setting = service.registry.get(key)
    value = mask(setting, resolved.values.get(key)) if readable(setting, admin=user.is_admin) else None
    return JSON(
        {
            "key": key,
            "value": value,
            "source": resolved.sources.get(key),
            "version": result.version,
            "changed": bool(result.changes),
        }
    )


# ---------------------------------------------------------------------------- effective config of an agent
@router.get("/api/v1/agents/{agent_name}/config")
async def agent_config(
    agent_name: str, user: CurrentUser, runtime: RuntimeDep, thread_id: str | None = None
) -> Response:
    """Effective values for a graph (by name) or an assistant (by id), optionally within a thread."""
    service = runtime.config
    async with runtime.db.connection() as conn:
        try:
            assistant = await lifecycle.resolve_assistant(conn, runtime, user, agent_name)
        except NotFound as exc:
            raise not_found("agent", agent_name) from exc
        thread_config: dict[str, Any] | None = None
        if thread_id is not None:
            tid = lifecycle.valid_uuid(thread_id, "thread")
            thread = await threads_repo.get(conn, user.user_id, tid)
            if thread is None:
                raise not_found("thread", thread_id)
            thread_config = thread.get("config") or {}
    resolved = await service.resolve(
        user.user_id, assistant=assistant.get("context") or {}, thread=thread_config
    )
    eff = views.effective(service, resolved, admin=user.is_admin)
    settings = [
        {
            "key": k,
            "value": v,
            "source": eff["sources"][k],
            "layer": SOURCE_LAYER.get(eff["sources"][k], "session"),
        }
        for k, v in sorted(eff["values"].items())
    ]
    return JSON(
        {
            "agent": agent_name,
            "graph_id": assistant["graph_id"],
            "assistant_id": str(assistant["assistant_id"]),
            "thread_id": thread_id,
            "settings": settings,
            **eff,
        }
    )


# ---------------------------------------------------------------------------- session layer of a thread
async def _own_thread(runtime: Any, user: Any, thread_id: str) -> dict[str, Any]:
    return await load_thread(runtime, user, thread_id)


@router.get("/threads/{thread_id}/config")
async def get_thread_config(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    service = runtime.config
    return JSON(await views.thread_view(service, user, await _own_thread(runtime, user, thread_id)))


@router.put("/threads/{thread_id}/config")
async def put_thread_config(
    thread_id: str, user: CurrentUser, runtime: RuntimeDep, body: Any = Body(...)
) -> Response:
    """Replace the thread's session layer; keys left out go back to the inherited value."""
    service = runtime.config
    tid = lifecycle.valid_uuid(thread_id, "thread")
    values = views.body_values(service, body)
    result = await service.set_thread_config(user.user_id, tid, values, actor=user.user_id)
    view = await views.thread_view(service, user, await _own_thread(runtime, user, tid))
    return JSON({**view, "changed": result.keys})


@router.get("/threads/{thread_id}/config/history")
async def thread_config_history(
    thread_id: str,
    user: CurrentUser,
    runtime: RuntimeDep,
    limit: int = Query(50, ge=1, le=1000),
    before: int | None = Query(None, ge=1),
) -> Response:
    service = runtime.config
    thread = await _own_thread(runtime, user, thread_id)
    versions = await service.history("session", str(thread["thread_id"]), limit=limit, before=before)
    return JSON(views.readable_history(service, versions, admin=user.is_admin))


# ---------------------------------------------------------------------------- system layer (administrators)
@router.get("/api/v1/system/config")
async def get_system_config(user: AdminUser, runtime: RuntimeDep) -> Response:
    return JSON(await views.system_view(runtime.config))


@router.put("/api/v1/system/config")
async def put_system_config(user: AdminUser, runtime: RuntimeDep, body: Any = Body(...)) -> Response:
    """Set administrator overrides, all or nothing: ``{key: value, …}`` (nested tables are accepted)."""
    service = runtime.config
    values = views.body_values(service, body)
    if not values:
        raise ApiError(422, "invalid", "no settings given")
    result = await service.set_values("system", "", values, actor=user.user_id, admin=True)
    return JSON({**await views.system_view(service), "changed": result.keys})


@router.get("/api/v1/system/config/history")
async def system_config_history(
    user: AdminUser,
    runtime: RuntimeDep,
    limit: int = Query(50, ge=1, le=1000),
    before: int | None = Query(None, ge=1),
    key: str | None = None,
) -> Response:
    return JSON(await runtime.config.history("system", "", limit=limit, before=before, key=key))


@router.post("/api/v1/system/config/rollback")
async def rollback_system_config(body: RollbackBody, user: AdminUser, runtime: RuntimeDep) -> Response:
    service = runtime.config
    result = await service.rollback("system", "", body.version, actor=user.user_id, admin=True)
    return JSON(
        {
            **await views.system_view(service),
            "changed": result.keys,
            "skipped": result.skipped,
            "rolled_back_to": body.version,
        }
    )


@router.put("/api/v1/system/config/{key}")
async def put_system_setting(key: str, body: SettingValue, user: AdminUser, runtime: RuntimeDep) -> Response:
    service = runtime.config
    result = await service.set_values("system", "", {key: body.value}, actor=user.user_id, admin=True)
    return JSON({**await views.system_view(service), "changed": result.keys})


@router.delete("/api/v1/system/config/{key}")
async def delete_system_setting(key: str, user: AdminUser, runtime: RuntimeDep) -> Response:
    service = runtime.config
    result = await service.delete_values("system", "", [key], actor=user.user_id, admin=True)
    return JSON({**await views.system_view(service), "changed": result.keys})
