"""Thread routes of the Agent Server protocol: CRUD, search, state, history, copy."""

from __future__ import annotations

import contextlib
import uuid
from typing import Any

from fastapi import APIRouter, Query, Request, Response
from langgraph.errors import InvalidUpdateError
from langgraph.types import StateUpdate as LgStateUpdate
from sse_starlette import EventSourceResponse

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, conflict, not_found
from api.responses import JSON, empty_state, snapshot_out, thread_out
from api.schemas import (
    HistoryQuery,
    StateAtCheckpoint,
    StateUpdate,
    ThreadCount,
    ThreadCreate,
    ThreadPatch,
    ThreadSearch,
)
from api.streaming import parse_thread_event_id, thread_sse_response
from engine.interrupts import interrupts_by_task
from engine.lifecycle import valid_uuid
from engine.run_input import to_command
from engine.serde import to_jsonable
from persistence import runs as runs_repo
from persistence import threads as threads_repo

router = APIRouter(tags=["threads"])


async def load_thread(runtime: Any, user: Any, thread_id: str, kind: str = "thread") -> dict[str, Any]:
    """The caller's thread, or 404 naming it as ``kind`` (another user's thread does not exist for them)."""
    tid = valid_uuid(thread_id, kind)
    async with runtime.db.connection() as conn:
        row = await threads_repo.get(conn, user.user_id, tid)
    if row is None:
        raise not_found(kind, thread_id)
    return row


def thread_graph(runtime: Any, thread: dict[str, Any]) -> Any | None:
    spec = runtime.graphs.get((thread["metadata"] or {}).get("graph_id", ""))
    if spec is None:
        return None
    return spec.graph.copy(update={"checkpointer": runtime.saver, "store": runtime.store})


@router.post("/threads")
async def create_thread(body: ThreadCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread_id = body.thread_id or str(uuid.uuid4())  # validated as a UUID by ThreadCreate
    config = runtime.config.check_session(body.config)
    graph = None
    if body.supersteps:
        graph_id = (body.metadata or {}).get("graph_id")
        spec = runtime.graphs.get(graph_id) if isinstance(graph_id, str) else None
        if spec is None:
            raise ApiError(422, "invalid", "supersteps: the thread's graph must be named by metadata.graph_id "
                           f"(one of {runtime.graphs.ids()})")
        graph = spec.graph.copy(update={"checkpointer": runtime.saver, "store": runtime.store})
    async with runtime.db.transaction() as conn:
        row = await threads_repo.insert(conn, user.user_id, thread_id, body.metadata or {}, config)
        if row is None:
            existing = await threads_repo.get(conn, user.user_id, thread_id)
            if existing is not None and body.if_exists == "do_nothing":
                return JSON(thread_out(existing))
            raise conflict(f"thread {thread_id} already exists")
    if graph is not None and body.supersteps:
        await _prefill(runtime, user, graph, thread_id, body)
        row = await load_thread(runtime, user, thread_id)
    return JSON(thread_out(row))


async def _prefill(runtime: Any, user: Any, graph: Any, thread_id: str, body: ThreadCreate) -> None:
    """Apply ``supersteps`` (each a list of state updates applied together) to the new thread; on a bad update
    the thread is deleted again and the caller gets a 422 naming it."""
    assert body.supersteps is not None
    steps = []
    for i, step in enumerate(body.supersteps):
        updates = []
        for update in step.updates:
            if update.as_node not in graph.nodes and update.as_node not in ("__input__", "__copy__"):
                await _drop(runtime, user, thread_id)
                raise ApiError(422, "invalid", f"supersteps[{i}]: node {update.as_node!r} does not exist")
            values = to_command(update.command.model_dump(exclude_none=True)) if update.command else update.values
            updates.append(LgStateUpdate(values, update.as_node))
        steps.append(updates)
    try:
        await graph.abulk_update_state({"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}, steps)
    except (ValueError, KeyError, InvalidUpdateError) as exc:
        await _drop(runtime, user, thread_id)
        raise ApiError(422, "invalid", f"supersteps: {exc}") from exc
    await _settle_from_state(runtime, graph, thread_id)


async def _drop(runtime: Any, user: Any, thread_id: str) -> None:
    async with runtime.db.transaction() as conn:
        await threads_repo.delete(conn, user.user_id, thread_id)


@router.post("/threads/search")
async def search_threads(body: ThreadSearch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        rows = await threads_repo.search(
            conn, user.user_id, metadata=body.metadata, status=body.status, ids=body.ids,
            limit=body.limit, offset=body.offset, sort_by=body.sort_by, sort_order=body.sort_order,
            values=body.values,
        )
    out = [thread_out(r) for r in rows]
    if body.extract:
        for t in out:
            t["extracted"] = {alias: extract_path(t, path) for alias, path in body.extract.items()}
    if body.select:
        out = [{k: t[k] for k in body.select} for t in out]
    return JSON(out)


def extract_path(data: Any, path: str) -> Any:
    """The value at ``path`` (dots for keys, ``[n]`` / ``[-n]`` for list items) in ``data``, or None."""
    for part in path.split("."):
        key, _, rest = part.partition("[")
        data = data.get(key) if isinstance(data, dict) else None
        for index in filter(None, rest.replace("]", "").split("[")) if rest else ():
            if not isinstance(data, list):
                return None
            i = int(index)
            data = data[i] if -len(data) <= i < len(data) else None
    return data


@router.post("/threads/count")
async def count_threads(body: ThreadCount, user: CurrentUser, runtime: RuntimeDep) -> Response:
    async with runtime.db.connection() as conn:
        n = await threads_repo.count(conn, user.user_id, metadata=body.metadata, status=body.status,
                                     values=body.values)
    return JSON(n)


@router.get("/threads/{thread_id}")
async def get_thread(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(thread_out(await load_thread(runtime, user, thread_id)))


@router.patch("/threads/{thread_id}")
async def patch_thread(thread_id: str, body: ThreadPatch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread_id = valid_uuid(thread_id, "thread")
    async with runtime.db.transaction() as conn:
        row = await threads_repo.update_metadata(conn, user.user_id, thread_id, body.metadata)
    if row is None:
        raise not_found("thread", thread_id)
    return JSON(thread_out(row))


@router.delete("/threads/{thread_id}")
async def delete_thread(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread_id = valid_uuid(thread_id, "thread")
    async with runtime.db.transaction() as conn:
        row = await threads_repo.get(conn, user.user_id, thread_id, for_update=True)
        if row is None:
            raise not_found("thread", thread_id)
        if await runs_repo.has_active(conn, thread_id):
            raise conflict(f"thread {thread_id} has an active run; cancel it first")
        await threads_repo.delete(conn, user.user_id, thread_id)
    return Response(status_code=204)


async def _state(runtime: Any, user: Any, thread_id: str, checkpoint_id: str | None, subgraphs: bool,
                 checkpoint_ns: str = "") -> Any:
    thread = await load_thread(runtime, user, thread_id)
    graph = thread_graph(runtime, thread)
    if graph is None:
        if checkpoint_id:
            raise not_found("checkpoint", checkpoint_id)
        return empty_state(str(thread["thread_id"]))
    config: dict[str, Any] = {"configurable": {"thread_id": str(thread["thread_id"]), "checkpoint_ns": checkpoint_ns}}
    if checkpoint_id:
        config["configurable"]["checkpoint_id"] = checkpoint_id
    state = await graph.aget_state(config, subgraphs=subgraphs)
    if checkpoint_id and state.config is None or (checkpoint_id and not state.created_at):
        raise not_found("checkpoint", checkpoint_id)
    return snapshot_out(state)


@router.get("/threads/{thread_id}/stream")
async def join_thread_stream(thread_id: str, request: Request, user: CurrentUser, runtime: RuntimeDep,
                             stream_mode: list[str] | None = Query(None)) -> EventSourceResponse:
    """The thread's runs as one stream (the SDK's ``threads.join_stream``): replay after ``Last-Event-ID``
    (``-1``: from the first run), then live, open until the client leaves. ``stream_mode`` is accepted and
    not applied: every event a run stored is sent."""
    thread = await load_thread(runtime, user, thread_id)
    try:
        position = parse_thread_event_id(request.headers.get("last-event-id"))
    except ValueError as exc:
        raise ApiError(422, "invalid", "Last-Event-ID: expected '<run_id>:<seq>' (as sent), or -1") from exc
    return thread_sse_response(runtime, str(thread["thread_id"]), position)


@router.get("/threads/{thread_id}/state")
async def get_state(thread_id: str, user: CurrentUser, runtime: RuntimeDep, subgraphs: bool = False) -> Response:
    return JSON(await _state(runtime, user, thread_id, None, subgraphs))


@router.get("/threads/{thread_id}/state/{checkpoint_id}")
async def get_state_at(thread_id: str, checkpoint_id: str, user: CurrentUser, runtime: RuntimeDep,
                       subgraphs: bool = False) -> Response:
    return JSON(await _state(runtime, user, thread_id, checkpoint_id, subgraphs))


@router.post("/threads/{thread_id}/state/checkpoint")
async def get_state_at_checkpoint(thread_id: str, body: StateAtCheckpoint, user: CurrentUser, runtime: RuntimeDep
                                  ) -> Response:
    return JSON(await _state(runtime, user, thread_id, body.checkpoint.get("checkpoint_id"), body.subgraphs,
                             body.checkpoint.get("checkpoint_ns") or ""))


@router.post("/threads/{thread_id}/state")
async def update_state(thread_id: str, body: StateUpdate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await load_thread(runtime, user, thread_id)
    tid = str(thread["thread_id"])
    if thread["status"] == "busy":
        raise conflict(f"thread {tid} has an active run")
    graph = thread_graph(runtime, thread)
    if graph is None:
        raise ApiError(409, "no_graph", f"thread {tid} has no graph yet: start a run on it first")
    # a subgraph's state is addressed by its checkpoint namespace (``"<node>:<task_id>"``, as get_state shows it)
    checkpoint_ns = (body.checkpoint or {}).get("checkpoint_ns") or ""
    config: dict[str, Any] = {"configurable": {"thread_id": tid, "checkpoint_ns": checkpoint_ns}}
    checkpoint_id = body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")
    if checkpoint_id:
        config["configurable"]["checkpoint_id"] = checkpoint_id
    target = graph
    if checkpoint_ns:
        path = "|".join(part.split(":")[0] for part in checkpoint_ns.split("|"))
        target = next((sub for _, sub in graph.get_subgraphs(namespace=path, recurse=True)), None)
        if target is None:
            raise ApiError(422, "invalid", f"checkpoint_ns {checkpoint_ns!r} names no subgraph of this graph")
    if body.as_node is not None and body.as_node not in target.nodes:
        # 400, as the reference server answers
        raise ApiError(400, "unknown_node",
                       f"node {body.as_node!r} does not exist; graph has {sorted(set(target.nodes) - {'__start__'})}")
    if isinstance(body.values, dict) and (unknown := sorted(k for k in body.values if k not in target.channels)):
        raise ApiError(422, "invalid", f"values: unknown state key(s) {unknown}")
    try:
        new_config = await graph.aupdate_state(config, body.values, as_node=body.as_node)
    except (ValueError, KeyError, InvalidUpdateError) as exc:
        raise ApiError(422, "invalid", f"cannot update state: {exc}") from exc
    await _settle_from_state(runtime, graph, tid)
    conf = new_config["configurable"]
    checkpoint = {"thread_id": tid, "checkpoint_ns": conf.get("checkpoint_ns", ""),
                  "checkpoint_id": conf.get("checkpoint_id")}
    if conf.get("checkpoint_map"):
        checkpoint["checkpoint_map"] = conf["checkpoint_map"]
    return JSON({"checkpoint": checkpoint, "configurable": checkpoint, "checkpoint_id": checkpoint["checkpoint_id"]})


async def _settle_from_state(runtime: Any, graph: Any, thread_id: str) -> None:
    """The thread's values, interrupts and status from its latest checkpoint, after a state update: interrupted
    when it waits on an interrupt or has tasks to run (a run with no input continues it), as the reference."""
    state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
    interrupts = interrupts_by_task(state)
    async with runtime.db.connection() as conn:
        await threads_repo.settle_at_rest(conn, thread_id, to_jsonable(state.values), to_jsonable(interrupts),
                                          "interrupted" if interrupts or state.next else "idle")


@router.post("/threads/{thread_id}/history")
async def history(thread_id: str, body: HistoryQuery, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await load_thread(runtime, user, thread_id)
    graph = thread_graph(runtime, thread)
    if graph is None:
        return JSON([])
    config: dict[str, Any] = {"configurable": {"thread_id": str(thread["thread_id"]), "checkpoint_ns": ""}}
    if body.checkpoint and body.checkpoint.get("checkpoint_id"):
        config["configurable"]["checkpoint_id"] = body.checkpoint["checkpoint_id"]
    before = body.before
    before_cfg = None
    if isinstance(before, str):
        before_cfg = {"configurable": {"checkpoint_id": before}}
    elif isinstance(before, dict):
        before_cfg = {"configurable": before.get("configurable", before)}
    out = []
    async for state in graph.aget_state_history(config, limit=body.limit, before=before_cfg, filter=body.metadata):
        out.append(snapshot_out(state))
    return JSON(out)


@router.get("/threads/{thread_id}/history")
async def history_get(thread_id: str, user: CurrentUser, runtime: RuntimeDep,
                      limit: int = Query(10, ge=1, le=1000), before: str | None = None) -> Response:
    return await history(thread_id, HistoryQuery(limit=limit, before=before), user, runtime)


@router.post("/threads/{thread_id}/copy")
async def copy_thread(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await load_thread(runtime, user, thread_id)
    src = str(thread["thread_id"])
    new_id = str(uuid.uuid4())
    # the checkpoints first (LangGraph's copy, one transaction), then the thread row: the copy is never visible
    # without its state; a failed row insert leaves no checkpoints behind
    await runtime.saver.acopy_thread(src, new_id)
    try:
        async with runtime.db.transaction() as conn:
            row = await threads_repo.copy(conn, src, new_id)
    except BaseException:
        with contextlib.suppress(Exception):
            await runtime.saver.adelete_thread(new_id)
        raise
    assert row is not None
    return JSON(thread_out(row))
