"""The data-question design's chat routes, as thin aliases over threads and runs of the ``data_query`` graph.

A conversation is a thread (``conversation_id`` = ``thread_id``) whose runs are turns; its title and
favourite flag live in the thread's metadata (``title``, ``is_favorite``), its turns in the graph state.

- ``POST /api/v1/chat/stream {query, connection_id?, conversation_id?, settings?}``: creates the thread
  (first turn) and a run through :func:`engine.lifecycle.create_run` (multitask ``reject``: one turn at a
  time), and answers with SSE: ``metadata``, then the stage events as their own event names (``analyzing``,
  ``generating_sql``, ``executing``, ``result``, ``visualization``, ``done``, ``error``), ``interrupt``
  when the SQL waits for approval, and ``end``. Event ids are the run's, so
  ``GET /threads/{id}/runs/{run_id}/stream`` with ``Last-Event-ID`` continues a dropped stream (in the
  Agent Server shape). ``connection_id`` defaults to the conversation's, then to the user's default one.
- ``POST /api/v1/chat/approve {conversation_id, decision: approve|edit|reject, sql?, comment?}``: answers
  the pending approval (a resume) and streams the rest of the turn like ``/chat/stream``.
- ``POST /api/v1/chat/stop {conversation_id}``: stops the running turn (cancel with ``interrupt``); 409
  when nothing runs.
- ``GET /api/v1/conversations`` (``limit``, ``offset``, ``favorite``), ``GET|PATCH|DELETE
  /api/v1/conversations/{id}`` (``PATCH {title?, is_favorite?}``), ``GET /api/v1/conversations/{id}/result.csv``
  (the latest result as CSV).

Everything is scoped to its owner; another user's conversation or connection is a 404.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, conflict, not_found
from api.responses import JSON
from api.routers.threads import delete_thread, load_thread
from api.streaming import HEARTBEAT_SECONDS, run_events
from engine import lifecycle
from engine.run_models import CommandBody, RunCreate
from engine.serde import to_jsonable
from nodes.data.flow import STAGES
from nodes.data.results import to_csv
from persistence import connections as connections_repo
from persistence import runs as runs_repo
from persistence import threads as threads_repo

GRAPH_ID = "data_query"
STREAM_MODES = ["custom"]
PASSED_THROUGH = ("metadata", "interrupt", "error", "end")

router = APIRouter(prefix="/api/v1", tags=["chat"])


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=20_000)
    connection_id: str | None = None
    conversation_id: str | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="session settings for this turn (data.*)")


class ApproveRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str
    decision: Literal["approve", "edit", "reject"]
    sql: str | None = Field(default=None, max_length=20_000, description="the edited SQL (decision edit)")
    comment: str | None = Field(default=None, max_length=2000)


class StopRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    conversation_id: str


class ConversationPatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str | None = Field(default=None, min_length=1, max_length=200)
    is_favorite: bool | None = None

    @model_validator(mode="after")
    def _no_nulls(self) -> ConversationPatch:
        """An absent field keeps its value; an explicit null is refused (neither field can be removed)."""
        for name in sorted(self.model_fields_set):
            if getattr(self, name) is None:
                raise ValueError(f"{name}: null is not allowed (leave the field out to keep it)")
        return self


# --- helpers ------------------------------------------------------------------------------------------------


def _is_conversation(thread: dict[str, Any]) -> bool:
    return (thread.get("metadata") or {}).get("graph_id") in (None, GRAPH_ID)


async def _conversation(runtime: Any, user: Any, conversation_id: str) -> dict[str, Any]:
    thread = await load_thread(runtime, user, conversation_id, "conversation")
    if not _is_conversation(thread):
        raise not_found("conversation", conversation_id)
    return thread


async def _connection_id(runtime: Any, user_id: str, requested: str | None, thread: dict[str, Any] | None) -> str:
    async with runtime.db.connection() as conn:
        if requested:
            try:
                cid = str(uuid.UUID(requested))
            except ValueError:
                raise not_found("connection", requested) from None
            if await connections_repo.get(conn, user_id, cid) is None:
                raise not_found("connection", requested)
            return cid
        earlier = ((thread or {}).get("metadata") or {}).get("connection_id")
        if earlier and await connections_repo.get(conn, user_id, str(earlier)) is not None:
            return str(earlier)
        default = await connections_repo.get_default(conn, user_id)
    if default is None:
        raise ApiError(422, "invalid", "connection_id: no connection given and no default connection set")
    return str(default["connection_id"])


def _translate(event: ServerSentEvent) -> ServerSentEvent | None:
    """A run event in the design's shape: stage events under their own names; others as they are."""
    if event.event == "custom":
        try:
            payload = json.loads(str(event.data))
        except ValueError:
            return None
        if isinstance(payload, dict) and payload.get("type") in STAGES:
            return ServerSentEvent(data=json.dumps(payload.get("data") or {}, default=str),
                                   event=str(payload["type"]), id=event.id)
        return None
    if event.event in PASSED_THROUGH:
        return event
    return None


def _stream(runtime: Any, user_id: str, run: dict[str, Any]) -> EventSourceResponse:
    run_id, thread_id = str(run["run_id"]), str(run["thread_id"])

    async def gen() -> AsyncIterator[ServerSentEvent]:
        async for event in run_events(runtime, run_id, 0, user_id):
            out = _translate(event)
            if out is not None:
                yield out

    base = f"/threads/{thread_id}/runs/{run_id}"
    return EventSourceResponse(
        gen(),
        headers={"Content-Location": base, "Location": f"{base}/stream", "X-Conversation-Id": thread_id},
        ping=int(HEARTBEAT_SECONDS),
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
    )


def _title(thread: dict[str, Any]) -> str:
    meta = thread.get("metadata") or {}
    if meta.get("title"):
        return str(meta["title"])
    values = thread.get("state_values") or {}
    turns = values.get("turns") or [] if isinstance(values, dict) else []
    first = turns[0].get("question") if turns else (values.get("question") if isinstance(values, dict) else None)
    return str(first or "Untitled conversation")[:200]


def _summary(thread: dict[str, Any]) -> dict[str, Any]:
    meta = thread.get("metadata") or {}
    values = thread.get("state_values") if isinstance(thread.get("state_values"), dict) else {}
    return to_jsonable({
        "conversation_id": str(thread["thread_id"]),
        "title": _title(thread),
        "is_favorite": bool(meta.get("is_favorite", False)),
        "connection_id": meta.get("connection_id") or (values or {}).get("connection_id"),
        "status": thread["status"],
        "turns": len((values or {}).get("turns") or []),
        "created_at": thread["created_at"],
        "updated_at": thread["updated_at"],
    })


async def _values(runtime: Any, thread: dict[str, Any]) -> dict[str, Any]:
    spec = runtime.graphs.get(GRAPH_ID)
    if spec is None:
        return dict(thread.get("state_values") or {})
    graph = spec.graph.copy(update={"checkpointer": runtime.saver, "store": runtime.store})
    snapshot = await graph.aget_state({"configurable": {"thread_id": str(thread["thread_id"])}})
    return dict(snapshot.values or {})


# --- chat ---------------------------------------------------------------------------------------------------


@router.post("/chat/stream")
async def chat_stream(body: ChatRequest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    if GRAPH_ID not in runtime.graphs:
        raise ApiError(409, "graph_unavailable", f"graph {GRAPH_ID!r} is not loaded on this server")
    thread = await _conversation(runtime, user, body.conversation_id) if body.conversation_id else None
    connection_id = await _connection_id(runtime, user.user_id, body.connection_id, thread)
    thread_id = str(thread["thread_id"]) if thread is not None else str(uuid.uuid4())
    request = RunCreate(
        assistant_id=GRAPH_ID,
        input={"question": body.query, "connection_id": connection_id},
        context=body.settings or None,
        stream_mode=STREAM_MODES,
        multitask_strategy="reject",
        if_not_exists="create" if thread is None else "reject",
    )
    # the run first (it creates a new thread in the same transaction): a refused turn changes nothing
    run = await lifecycle.create_run(runtime, user, thread_id, request)
    meta = (thread or {}).get("metadata") or {}
    patch: dict[str, Any] = {} if meta.get("connection_id") == connection_id else {"connection_id": connection_id}
    if thread is None:
        patch.update(title=" ".join(body.query.split())[:80], is_favorite=False)
    if patch:
        async with runtime.db.connection() as conn:
            await threads_repo.update_metadata(conn, user.user_id, thread_id, patch)
    return _stream(runtime, user.user_id, run)


@router.post("/chat/approve")
async def chat_approve(body: ApproveRequest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, body.conversation_id)
    if thread["status"] != "interrupted":
        raise conflict(f"conversation {body.conversation_id} does not wait for an approval", status=thread["status"])
    answer: dict[str, Any] = {"decision": body.decision}
    if body.decision == "edit":
        if not body.sql or not body.sql.strip():
            raise ApiError(422, "invalid", "sql: the edited SQL is required with decision edit")
        answer["edited"] = body.sql
    if body.comment:
        answer["comment"] = body.comment
    request = RunCreate(assistant_id=GRAPH_ID, command=CommandBody(resume=answer), stream_mode=STREAM_MODES,
                        multitask_strategy="reject")
    run = await lifecycle.create_run(runtime, user, str(thread["thread_id"]), request)
    return _stream(runtime, user.user_id, run)


@router.post("/chat/stop", status_code=202)
async def chat_stop(body: StopRequest, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, body.conversation_id)
    thread_id = str(thread["thread_id"])
    async with runtime.db.connection() as conn:
        active = await runs_repo.active_for_thread(conn, thread_id)
    if not active:
        raise conflict(f"conversation {thread_id} has no turn in progress", status=thread["status"])
    run_id = str(active[0]["run_id"])
    await lifecycle.cancel_run(runtime, user, thread_id, run_id, "interrupt")
    return JSON({"conversation_id": thread_id, "run_id": run_id, "status": "stopping"}, status_code=202)


# --- conversations ------------------------------------------------------------------------------------------


@router.get("/conversations")
async def list_conversations(
    user: CurrentUser,
    runtime: RuntimeDep,
    limit: int = Query(default=50, ge=1, le=500),
    offset: int = Query(default=0, ge=0),
    favorite: bool | None = None,
) -> Response:
    metadata: dict[str, Any] = {"graph_id": GRAPH_ID}
    if favorite:
        metadata["is_favorite"] = True
    async with runtime.db.connection() as conn:
        rows = await threads_repo.search(conn, user.user_id, metadata=metadata, status=None, ids=None,
                                         limit=limit, offset=offset, sort_by="updated_at")
    if favorite is False:  # threads started through the Agent Server routes have no flag: not favourites
        rows = [r for r in rows if not (r["metadata"] or {}).get("is_favorite")]
    return JSON([_summary(r) for r in rows])


@router.get("/conversations/{conversation_id}")
async def get_conversation(conversation_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, conversation_id)
    values = await _values(runtime, thread)
    interrupts = [i for items in (thread.get("interrupts") or {}).values() for i in (items or [])]
    body = {
        **_summary({**thread, "state_values": values}),
        "turns": values.get("turns") or [],
        "question": values.get("question"),
        "sql": values.get("checked_sql") or values.get("sql"),
        "result": values.get("result"),
        "chart": values.get("chart"),
        "answer": values.get("answer"),
        "turn_status": values.get("status"),
        "error": values.get("error"),
        "interrupt": interrupts[0] if interrupts else None,
    }
    return JSON(to_jsonable(body))


@router.patch("/conversations/{conversation_id}")
async def patch_conversation(conversation_id: str, body: ConversationPatch, user: CurrentUser,
                             runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, conversation_id)
    patch = body.model_dump(exclude_none=True)
    if patch:
        async with runtime.db.connection() as conn:
            updated = await threads_repo.update_metadata(conn, user.user_id, str(thread["thread_id"]), patch)
        thread = updated or thread
    return JSON(_summary(thread))


@router.delete("/conversations/{conversation_id}", status_code=204)
async def delete_conversation(conversation_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, conversation_id)
    return await delete_thread(str(thread["thread_id"]), user, runtime)


@router.get("/conversations/{conversation_id}/result.csv")
async def conversation_csv(conversation_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await _conversation(runtime, user, conversation_id)
    values = await _values(runtime, thread)
    result = values.get("result")
    if not result:
        raise conflict(f"conversation {conversation_id} has no result yet", status=thread["status"])
    return Response(
        content=to_csv(result),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="conversation-{thread["thread_id"]}.csv"'},
    )
