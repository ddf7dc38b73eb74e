"""The content pipeline's session API (seed 004), as thin routes over threads and runs.

A session is a thread running the ``content_pipeline`` graph (``sessionId`` = ``thread_id``); the
``content_sessions`` table adds its article id and expiry. Every decision is the graph's pending interrupt,
so ``availableActions`` is read from it (``nodes.content.actions.actions_of``) and is empty while a stage is
processing; an action resumes the interrupt through :func:`engine.lifecycle.create_run` (same locking,
multitask and validation rules as ``command.resume``).

- ``POST /api/v1/sessions`` ``{articleId, initialStage?: topic | research, context?: {category, keywords,
  topic, angle, sourceMode, preset, settings}}`` -> 201 ``{sessionId, articleId, progress: {stage, status,
  progress}, availableActions, capabilities, expiresAt}``; the first run starts at once.
- ``GET /api/v1/sessions/{id}`` -> the same plus ``lastMessage``, ``offline`` (per stage) and, once done,
  ``article``.
- ``POST /api/v1/sessions/{id}/actions`` ``{action, parameters}`` -> 202 ``{actionId, status, progress}``
  (``actionId`` is the run's id). 409 ``action_unavailable`` (with ``availableActions``) when the action is
  not offered now, 422 ``invalid_parameters`` when the parameters break the action's schema, 410
  ``session_expired`` after ``content.session_ttl_hours`` without an action.
- ``GET /api/v1/sessions/{id}/events`` -> SSE of the session's runs, one after the other, under the
  design's event names (:mod:`nodes.content.events`); ids are ``<run_id>:<seq>``, so ``Last-Event-ID``
  replays exactly what a client missed, across runs and API processes. The stream ends with ``end`` once the
  session is finished (done, failed with nothing left to run, or expired while waiting).
- ``GET /api/v1/sessions/{id}/export/{md|html|pdf|docx}`` -> the final article (``reports.export``).

Another user's session, like an unknown one, is a 404. Expiry is enforced when a session is used (actions
are refused; reading and streaming stay possible until the retention job removes it).
"""

from __future__ import annotations

import asyncio
import uuid
import weakref
from collections.abc import AsyncIterator, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any, Literal

from fastapi import APIRouter, Header, Response
from pydantic import BaseModel, ConfigDict, Field, StringConstraints
from sse_starlette import EventSourceResponse, ServerSentEvent

from api import streaming
from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, not_found
from api.responses import JSON
from api.routers.threads import load_thread, thread_graph
from config_schema.access import setting
from domain.errors import Conflict
from domain.values import Metadata
from engine import lifecycle
from engine.interrupts import answer_errors, pending_interrupts
from engine.run_models import CommandBody, RunCreate
from engine.serde import to_jsonable
from graphs.content_pipeline import CAPABILITIES, GRAPH_ID
from nodes.content.actions import actions_of, is_content_interrupt
from nodes.content.events import STAGE_PROGRESS, session_event
from persistence import content_sessions as sessions_repo
from persistence import threads as threads_repo
from persistence.channels import RUNS_CHANNEL
from reports.export import content_disposition, content_type, export_report, parse_format

if TYPE_CHECKING:
    from api.auth import User
    from engine.runtime import Runtime

router = APIRouter(prefix="/api/v1/sessions", tags=["content sessions"])

STREAM_MODES = ["custom"]  # the design's events are custom chunks; interrupts and errors are always sent
RECURSION_LIMIT = 400
RECHECK_SECONDS = 5.0


class SessionContext(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    category: str | None = Field(default=None, max_length=200)
    # each keyword bounded like the discover_topics action's (nodes/content/actions.py: 2000 characters)
    keywords: list[Annotated[str, StringConstraints(max_length=2000)]] = Field(default_factory=list, max_length=20)
    topic: str | None = Field(default=None, max_length=500)
    angle: str | None = Field(default=None, max_length=500)
    source_mode: Literal["web", "local", "hybrid"] | None = Field(default=None, alias="sourceMode")
    preset: str | None = Field(default=None, max_length=100)
    settings: Metadata = Field(default_factory=dict, description="session settings (content.*, research.*)")


class SessionCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    articleId: str = Field(min_length=1, max_length=200)  # noqa: N815 - the design's field name
    initialStage: Literal["topic", "research"] = "topic"  # noqa: N815
    context: SessionContext = Field(default_factory=SessionContext)


class ActionRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: str = Field(min_length=1, max_length=100)
    parameters: dict[str, Any] = Field(default_factory=dict)


# --- reading a session --------------------------------------------------------------------------------
async def _session(runtime: Runtime, user: User, session_id: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The caller's thread and session row (404 for unknown ids, other users' sessions, other threads)."""
    thread = await load_thread(runtime, user, session_id, "session")
    async with runtime.db.connection() as conn:
        row = await sessions_repo.get(conn, user.user_id, str(thread["thread_id"]))
    if row is None:
        raise not_found("session", session_id)
    return thread, row


def _pending(thread: dict[str, Any]) -> dict[str, Any] | None:
    if thread["status"] != "interrupted":
        return None
    return next((i for i in pending_interrupts(thread) if is_content_interrupt(i.get("value"))), None)


def _status(thread: dict[str, Any], row: dict[str, Any], values: dict[str, Any]) -> str:
    """processing | waiting | done | error | expired | idle."""
    if row["expired"] and values.get("content_stage") != "done":
        return "expired"
    if thread["status"] == "busy":
        return "processing"
    if thread["status"] == "interrupted":
        return "waiting"
    if thread["status"] == "error":
        return "error"
    return "done" if values.get("content_stage") == "done" else "idle"


def _progress(stage: str, status: str, step: str | None = None) -> dict[str, Any]:
    return {"stage": stage, "status": status, "progress": STAGE_PROGRESS.get(stage, 0), "currentStep": step}


def _last_message(values: dict[str, Any]) -> dict[str, Any] | None:
    messages = values.get("messages") or []
    if not messages:
        return None
    m = messages[-1]
    content = getattr(m, "content", None) if not isinstance(m, dict) else m.get("content")
    kind = getattr(m, "type", None) if not isinstance(m, dict) else m.get("type")
    return {"role": "assistant" if kind in ("ai", "AIMessageChunk") else kind, "content": content}


async def session_view(runtime: Runtime, thread: dict[str, Any], row: dict[str, Any]) -> dict[str, Any]:
    tid = str(thread["thread_id"])
    graph = thread_graph(runtime, thread)
    values: dict[str, Any] = {}
    if graph is not None:
        snapshot = await graph.aget_state({"configurable": {"thread_id": tid}})
        values = dict(snapshot.values or {})
    pending = _pending(thread)
    status = _status(thread, row, values)
    value = (pending or {}).get("value") or {}
    stage = str((value.get("data") or {}).get("stage") or values.get("content_stage")
                or values.get("initial_stage") or "topic")
    available = actions_of(value) if status == "waiting" else []
    body: dict[str, Any] = {
        "sessionId": tid,
        "articleId": row["article_id"],
        "progress": _progress(stage, status, value.get("message") if pending else None),
        "availableActions": available,
        "capabilities": CAPABILITIES.get(stage, []),
        "expiresAt": row["expires_at"],
        "lastActionAt": row["last_action_at"],
        "createdAt": row["created_at"],
        "lastMessage": _last_message(values),
        "offline": values.get("engine") or {},
        "topic": values.get("topic"),
        "error": thread.get("error"),
    }
    if values.get("content_stage") == "done":
        body["article"] = values.get("final_article")
    return to_jsonable(body)


# --- routes -------------------------------------------------------------------------------------------
@router.post("", status_code=201)
async def create_session(body: SessionCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    ctx = body.context
    if body.initialStage == "topic" and not ((ctx.category or "").strip() or any(k.strip() for k in ctx.keywords)):
        raise ApiError(422, "invalid", "context: the topic stage needs a category or keywords to discover topics")
    if body.initialStage == "research" and not (ctx.topic or "").strip():
        raise ApiError(422, "invalid", "context.topic: a session starting at the research stage needs a topic")
    if GRAPH_ID not in runtime.graphs:
        raise ApiError(409, "graph_unavailable", f"graph {GRAPH_ID!r} is not loaded on this server")
    graph_input: dict[str, Any] = {"article_id": body.articleId, "initial_stage": body.initialStage}
    for key, value in (("category", ctx.category), ("keywords", ctx.keywords), ("topic", ctx.topic),
                       ("angle", ctx.angle), ("source_mode", ctx.source_mode)):
        if value:
            graph_input[key] = value
    settings = dict(ctx.settings)
    if ctx.preset:
        settings["content.default_preset"] = ctx.preset
    thread_id = str(uuid.uuid4())
    async with runtime.db.transaction() as conn:
        await threads_repo.insert(conn, user.user_id, thread_id, {"content_session": True, "article_id": body.articleId})
    try:
        run = await lifecycle.create_run(
            runtime,
            user,
            thread_id,
            RunCreate(
                assistant_id=GRAPH_ID,
                input=graph_input,
                context=settings or None,
                config={"recursion_limit": RECURSION_LIMIT},
                metadata={"content_session": True},
                stream_mode=STREAM_MODES,
                multitask_strategy="reject",
            ),
        )
    except Exception:
        async with runtime.db.transaction() as conn:
            await threads_repo.delete(conn, user.user_id, thread_id)
        raise
    snapshot = (run.get("config_snapshot") or {}).get("context") or {}
    ttl = float(snapshot.get("content.session_ttl_hours") or setting(None, "content.session_ttl_hours"))
    async with runtime.db.transaction() as conn:
        row = await sessions_repo.insert(conn, user.user_id, thread_id, body.articleId, ttl)
    out = {
        "sessionId": thread_id,
        "articleId": body.articleId,
        "progress": _progress(body.initialStage, "processing"),
        "availableActions": [],
        "capabilities": CAPABILITIES.get(body.initialStage, []),
        "expiresAt": row["expires_at"],
        "runId": str(run["run_id"]),
    }
    return JSON(to_jsonable(out), status_code=201, headers={"Location": f"/api/v1/sessions/{thread_id}"})


@router.get("/{session_id}")
async def get_session(session_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread, row = await _session(runtime, user, session_id)
    return JSON(await session_view(runtime, thread, row))


@router.post("/{session_id}/actions", status_code=202)
async def perform_action(session_id: str, body: ActionRequest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread, row = await _session(runtime, user, session_id)
    tid = str(thread["thread_id"])
    if row["expired"]:
        raise ApiError(410, "session_expired", f"session {tid} expired at {row['expires_at'].isoformat()}",
                       expiresAt=row["expires_at"].isoformat())
    pending = _pending(thread)
    value = (pending or {}).get("value") or {}
    available = actions_of(value)
    stage = str((value.get("data") or {}).get("stage") or "")
    action = next((a for a in available if a["id"] == body.action), None)
    if action is None:
        state = "processing" if thread["status"] == "busy" else thread["status"]
        detail = (
            f"action {body.action!r} is not available now"
            + (f" at stage {stage!r}: available are {[a['id'] for a in available]}" if available
               else f": the session is {state}, no action is available")
        )
        raise ApiError(409, "action_unavailable", detail, availableActions=available, stage=stage or None)
    errors = answer_errors(action.get("parameters") or {}, body.parameters)
    if errors:
        first = errors[0]
        raise ApiError(422, "invalid_parameters",
                       f"parameters of {body.action!r}: {first['message']} at {first['path']}", errors=errors)
    try:
        run = await lifecycle.create_run(
            runtime,
            user,
            tid,
            RunCreate(
                assistant_id=GRAPH_ID,
                command=CommandBody(resume={"action": body.action, "parameters": body.parameters}),
                config={"recursion_limit": RECURSION_LIMIT},
                metadata={"content_session": True, "action": body.action},
                stream_mode=STREAM_MODES,
                multitask_strategy="reject",
            ),
        )
    except Conflict as exc:
        # another action resumed the interrupt between our read and the thread lock: it won
        raise ApiError(409, "action_unavailable", f"action {body.action!r} is not available now: {exc.detail}",
                       availableActions=[], stage=stage or None) from exc
    async with runtime.db.transaction() as conn:
        touched = await sessions_repo.touch(conn, user.user_id, tid)
    out = {
        "actionId": str(run["run_id"]),
        "status": "processing",
        "progress": _progress(stage, "processing"),
        "expiresAt": (touched or row)["expires_at"],
    }
    return JSON(to_jsonable(out), status_code=202)


@router.get("/{session_id}/events")
async def session_events(
    session_id: str,
    user: CurrentUser,
    runtime: RuntimeDep,
    last_event_id: str | None = Header(default=None, alias="Last-Event-ID"),
) -> EventSourceResponse:
    thread, _ = await _session(runtime, user, session_id)
    tid = str(thread["thread_id"])
    return EventSourceResponse(
        _stream(runtime, user.user_id, tid, _parse_event_id(last_event_id)),
        ping=int(streaming.HEARTBEAT_SECONDS),
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
    )


@router.get("/{session_id}/export/{fmt}")
async def export(session_id: str, fmt: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    export_format = parse_format(fmt)
    thread, row = await _session(runtime, user, session_id)
    view = await session_view(runtime, thread, row)
    article = view.get("article")
    if not article:
        raise ApiError(409, "not_done", f"session {session_id} has no final article yet (stage "
                       f"{view['progress']['stage']}, {view['progress']['status']})")
    title = next((line[2:].strip() for line in article.splitlines() if line.startswith("# ")), None)
    data = await export_report(article, export_format, title)
    return Response(
        content=data,
        media_type=content_type(export_format),
        headers={"Content-Disposition": content_disposition(title, export_format)},
    )


# --- the session's event stream -----------------------------------------------------------------------
def _parse_event_id(value: str | None) -> tuple[str | None, int]:
    """``<run_id>:<seq>`` -> ``(run_id, seq)``; anything else replays from the start."""
    if not value or ":" not in value:
        return None, 0
    run_id, _, seq = value.rpartition(":")
    try:
        return str(uuid.UUID(run_id)), max(0, int(seq))
    except ValueError:
        return None, 0


# Every open session stream of a process waits on one of these events; a new run anywhere (NOTIFY clew_runs)
# sets them all, and each stream looks whether its session got a new run. Only session streams pay for it.
_watchers: weakref.WeakKeyDictionary[Any, set[asyncio.Event]] = weakref.WeakKeyDictionary()


@contextmanager
def _new_runs(runtime: Runtime) -> Iterator[asyncio.Event]:
    waiters = _watchers.get(runtime)
    if waiters is None:
        waiters = set()
        _watchers[runtime] = waiters
        targets = waiters

        def wake(_payload: str) -> None:
            for ev in list(targets):
                ev.set()

        runtime.broker.on(RUNS_CHANNEL, wake)
    ev = asyncio.Event()
    waiters.add(ev)
    try:
        yield ev
    finally:
        waiters.discard(ev)


async def _stream(
    runtime: Runtime, user_id: str, thread_id: str, after: tuple[str | None, int]
) -> AsyncIterator[ServerSentEvent]:
    resume_run, resume_seq = after
    done: set[str] = set()
    with _new_runs(runtime) as woken:
        while True:
            woken.clear()
            async with runtime.db.connection() as conn:
                runs = await sessions_repo.session_runs(conn, user_id, thread_id)
            ids = [str(r["run_id"]) for r in runs]
            if resume_run is not None and resume_run in ids:
                done.update(ids[: ids.index(resume_run)])
            for run_id in ids:
                if run_id in done:
                    continue
                start = resume_seq if run_id == resume_run else 0
                async for ev in streaming.run_events(runtime, run_id, start):
                    mapped = session_event(str(ev.event), str(ev.data))
                    if mapped is not None:
                        yield ServerSentEvent(data=mapped[1], event=mapped[0], id=f"{run_id}:{ev.id}")
                done.add(run_id)
            async with runtime.db.connection() as conn:
                thread = await threads_repo.get(conn, user_id, thread_id)
                runs = await sessions_repo.session_runs(conn, user_id, thread_id)
                row = await sessions_repo.get(conn, user_id, thread_id)
            if thread is None or row is None:
                return
            if any(str(r["run_id"]) not in done for r in runs):
                continue
            # finished: done, failed with nothing left to run, or waiting on a session that can no longer act
            if thread["status"] not in ("interrupted", "busy") or (thread["status"] == "interrupted" and row["expired"]):
                yield ServerSentEvent(data="null", event="end")
                return
            try:
                await asyncio.wait_for(woken.wait(), timeout=RECHECK_SECONDS)
            except TimeoutError:
                pass
