"""Assistant routes: the system assistant of each graph plus users' own presets over a graph."""

from __future__ import annotations

import uuid
import warnings
from typing import Any

import structlog
from fastapi import APIRouter, Response
from langchain_core.runnables.graph import Graph as DrawableGraph
from pydantic import TypeAdapter

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, conflict, not_found
from api.responses import JSON, assistant_out
from api.schemas import (
    AssistantCount,
    AssistantCreate,
    AssistantLatest,
    AssistantPatch,
    AssistantSearch,
    AssistantVersions,
)
from engine.lifecycle import resolve_assistant
from persistence import assistants as repo

router = APIRouter(tags=["assistants"])
log = structlog.get_logger("clew.api")


@router.post("/assistants")
async def create(body: AssistantCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    if body.graph_id not in runtime.graphs:
        raise ApiError(422, "invalid", f"graph_id: unknown graph {body.graph_id!r}; known: {runtime.graphs.ids()}")
    assistant_id = str(uuid.uuid4())
    if body.assistant_id:
        try:
            assistant_id = str(uuid.UUID(body.assistant_id))
        except ValueError as exc:
            raise ApiError(422, "invalid", "assistant_id: not a UUID") from exc
    async with runtime.db.transaction() as conn:
        if await repo.exists_any(conn, assistant_id):
            existing = await repo.get(conn, user.user_id, assistant_id)
            if existing is not None and body.if_exists == "do_nothing":
                return JSON(assistant_out(existing))
            raise conflict(f"assistant {assistant_id} already exists")
        row = await repo.insert(conn, user.user_id, assistant_id, {
            "graph_id": body.graph_id, "name": body.name or "Untitled", "description": body.description,
            "config": body.config, "context": body.context, "metadata": body.metadata,
        })
    return JSON(assistant_out(row))


@router.post("/assistants/search")
async def search(body: AssistantSearch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        rows = await repo.search(conn, user.user_id, metadata=body.metadata, graph_id=body.graph_id, name=body.name,
                                 limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=body.sort_order)
    out = [assistant_out(r) for r in rows]
    if body.select:
        out = [{k: a[k] for k in body.select} for a in out]
    return JSON(out)


@router.post("/assistants/count")
async def count(body: AssistantCount, user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        n = await repo.count(conn, user.user_id, metadata=body.metadata, graph_id=body.graph_id, name=body.name)
    return JSON(n)


async def _get(runtime: Any, user: Any, assistant_id: str) -> dict[str, Any]:
    async with runtime.db.connection() as conn:
        return await resolve_assistant(conn, runtime, user, assistant_id)


@router.get("/assistants/{assistant_id}")
async def get(assistant_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(assistant_out(await _get(runtime, user, assistant_id)))


@router.patch("/assistants/{assistant_id}")
async def patch(assistant_id: str, body: AssistantPatch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _get(runtime, user, assistant_id)
    if row["user_id"] is None:
        raise ApiError(403, "forbidden", "system assistants cannot be changed; create your own assistant")
    if body.graph_id is not None and body.graph_id not in runtime.graphs:
        raise ApiError(422, "invalid", f"graph_id: unknown graph {body.graph_id!r}")
    async with runtime.db.transaction() as conn:
        out = await repo.update(conn, user.user_id, str(row["assistant_id"]), body.model_dump(exclude_none=True))
    if out is None:
        raise not_found("assistant", assistant_id)
    return JSON(assistant_out(out))


@router.delete("/assistants/{assistant_id}")
async def delete(assistant_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _get(runtime, user, assistant_id)
    if row["user_id"] is None:
        raise ApiError(403, "forbidden", "system assistants cannot be deleted")
    async with runtime.db.transaction() as conn:
        await repo.delete(conn, user.user_id, str(row["assistant_id"]))
    return Response(status_code=204)


@router.post("/assistants/{assistant_id}/versions")
async def versions(assistant_id: str, body: AssistantVersions, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _get(runtime, user, assistant_id)
    async with runtime.db.connection() as conn:
        rows = await repo.versions(conn, user.user_id, str(row["assistant_id"]), body.metadata, body.limit, body.offset)
    return JSON([{**r, "assistant_id": str(r["assistant_id"])} for r in rows])


@router.post("/assistants/{assistant_id}/latest")
async def latest(assistant_id: str, body: AssistantLatest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _get(runtime, user, assistant_id)
    if row["user_id"] is None:
        raise ApiError(403, "forbidden", "system assistants have a single version")
    async with runtime.db.transaction() as conn:
        out = await repo.set_latest(conn, user.user_id, str(row["assistant_id"]), body.version)
    if out is None:
        raise not_found("assistant version", body.version)
    return JSON(assistant_out(out))


def _graph_json(graph: Any, xray: bool | int) -> dict[str, Any]:
    drawable: DrawableGraph = graph.get_graph(xray=xray)
    data: dict[str, Any] = drawable.to_json()
    return data


async def _built(runtime: Any, row: dict[str, Any]) -> Any:
    """The assistant's variant of its graph: a graph factory built with the assistant's configuration."""
    spec = runtime.graphs.get(row["graph_id"])
    assert spec is not None
    return await spec.build(row.get("config") or {})


@router.get("/assistants/{assistant_id}/graph")
async def graph(assistant_id: str, user: CurrentUser, runtime: RuntimeDep, xray: bool | int = False) -> Response:
    row = await _get(runtime, user, assistant_id)
    return JSON(_graph_json(await _built(runtime, row), xray))


def _configurable_schema(g: Any) -> Any:
    """The schema of ``config["configurable"]`` (the reference's ``config_schema``): since LangGraph 1.0 the
    fields of the context schema, which LangGraph nests under ``configurable`` in its config schema."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        schema = g.get_config_jsonschema()
    inner = (schema.get("properties") or {}).get("configurable")
    if not isinstance(inner, dict):
        return None
    ref = inner.get("$ref", "")
    if ref.startswith("#/$defs/"):
        defs = schema.get("$defs") or {}
        found = dict(defs[ref.removeprefix("#/$defs/")])
        others = {k: v for k, v in defs.items() if k != ref.removeprefix("#/$defs/")}
        if others:
            found["$defs"] = others
        return found
    return inner


def _state_schema(g: Any) -> Any:
    """The JSON schema of the state type the graph was built with, as declared (not its input or output)."""
    declared = getattr(getattr(g, "builder", None), "state_schema", None)
    if declared is None:
        return g.get_output_jsonschema()
    return TypeAdapter(declared).json_schema()


@router.get("/assistants/{assistant_id}/schemas")
async def schemas(assistant_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    row = await _get(runtime, user, assistant_id)
    g = await _built(runtime, row)
    out = {
        "graph_id": row["graph_id"],
        "input_schema": _safe(lambda: g.get_input_jsonschema()),
        "output_schema": _safe(lambda: g.get_output_jsonschema()),
        "state_schema": _safe(lambda: _state_schema(g)),
        "config_schema": _safe(lambda: _configurable_schema(g)),
        "context_schema": _safe(lambda: g.get_context_jsonschema()),
    }
    return JSON(out)


def _safe(fn: Any) -> Any:
    try:
        return fn()
    except Exception:
        log.warning("schema not derivable", exc_info=True)
        return None


@router.get("/assistants/{assistant_id}/subgraphs")
@router.get("/assistants/{assistant_id}/subgraphs/{namespace}")
async def subgraphs(assistant_id: str, user: CurrentUser, runtime: RuntimeDep, namespace: str | None = None,
                    recurse: bool = False) -> Response:
    row = await _get(runtime, user, assistant_id)
    spec = runtime.graphs.get(row["graph_id"])
    assert spec is not None
    out: dict[str, Any] = {}
    async for ns, sub in (await _built(runtime, row)).aget_subgraphs(namespace=namespace, recurse=recurse):
        out[ns] = {"input_schema": _safe(lambda s=sub: s.get_input_jsonschema()),
                   "output_schema": _safe(lambda s=sub: s.get_output_jsonschema()),
                   "state_schema": _safe(lambda s=sub: _state_schema(s)),
                   "config_schema": _safe(lambda s=sub: _configurable_schema(s)),
                   "context_schema": _safe(lambda s=sub: s.get_context_jsonschema())}
    return JSON(out)
