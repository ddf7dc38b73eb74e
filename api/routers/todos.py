"""Todo routes (weak interrupts): list a thread's or the user's todos, complete or cancel one.

Completing or cancelling the last pending todo of a thread parked on its todo gate resumes the thread (see
``nodes/todos.py``); the answer then names the resume run in ``resumed_run_id``. Every route sees the
caller's todos only: another user's todo or thread is a 404, exactly like an unknown one.

``GET /todos/stream`` pushes the caller's pending todos (the web UI's todo panel): an SSE ``todos`` event with
the whole list at once and again after every change, in any process (a todo filed or finished NOTIFYs the
user's id, see ``persistence/todos.py``), checked again every ``TODO_RECHECK_SECONDS`` (a todo turning
overdue, a thread deleted with its todos) and after the LISTEN connection came back.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any, Literal

from fastapi import APIRouter, Query, Response
from pydantic import BaseModel, ConfigDict
from sse_starlette import EventSourceResponse, ServerSentEvent

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, not_found
from api.responses import JSON
from api.streaming import HEARTBEAT_SECONDS
from engine.broker import todo_key
from engine.lifecycle import valid_uuid
from nodes.todos import Todo, cancel_todo, complete_todo
from persistence import threads as threads_repo
from persistence import todos as todos_repo

router = APIRouter(tags=["todos"])

StatusFilter = Literal["pending", "completed", "cancelled"]
TODO_RECHECK_SECONDS = 30.0
PENDING_LIMIT = 1000


class TodoComplete(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result: Any = None


def finished_out(todo: Todo, resumed_run_id: str | None) -> dict[str, Any]:
    return {**todo.out(), "resumed_run_id": resumed_run_id}


async def thread_todos(
    runtime: Any, user_id: str, thread_id: str, status: str | None = None
) -> list[dict[str, Any]]:
    """The todos of one of the user's threads (404 if the thread is not theirs)."""
    tid = valid_uuid(thread_id, "thread")
    async with runtime.db.connection() as conn:
        if await threads_repo.get(conn, user_id, tid) is None:
            raise not_found("thread", thread_id)
        rows = await todos_repo.list_for_thread(conn, user_id, tid, status=status)
    return [Todo.from_row(r).out() for r in rows]


@router.get("/threads/{thread_id}/todos")
async def list_thread_todos(
    thread_id: str, user: CurrentUser, runtime: RuntimeDep, status: StatusFilter | None = None
) -> Response:
    return JSON(await thread_todos(runtime, user.user_id, thread_id, status))


@router.get("/todos")
async def list_todos(
    user: CurrentUser,
    runtime: RuntimeDep,
    status: StatusFilter | None = None,
    thread_id: str | None = None,
    limit: int = Query(100, ge=1, le=1000),
    offset: int = Query(0, ge=0),
) -> Response:
    try:
        tid = str(uuid.UUID(thread_id)) if thread_id else None
    except ValueError as exc:
        raise ApiError(422, "invalid", f"thread_id: {thread_id!r} is not a UUID") from exc
    async with runtime.db.connection() as conn:
        rows = await todos_repo.list_for_user(
            conn, user.user_id, status=status, thread_id=tid, limit=limit, offset=offset
        )
    return JSON([Todo.from_row(r).out() for r in rows])


async def _pending(runtime: Any, user_id: str) -> list[dict[str, Any]]:
    async with runtime.db.connection() as conn:
        rows = await todos_repo.list_for_user(
            conn, user_id, status="pending", thread_id=None, limit=PENDING_LIMIT, offset=0
        )
    return [Todo.from_row(r).out() for r in rows]


@router.get("/todos/stream")
async def stream_todos(user: CurrentUser, runtime: RuntimeDep) -> EventSourceResponse:
    """The caller's pending todos, pushed as ``todos`` events (now, then on every change) until they leave."""

    async def gen() -> AsyncIterator[ServerSentEvent]:
        with runtime.broker.subscribe(todo_key(user.user_id)) as changed:
            last: list[dict[str, Any]] | None = None
            while True:
                changed.clear()
                todos = await _pending(runtime, user.user_id)
                if todos != last:
                    yield ServerSentEvent(event="todos", data=json.dumps(todos))
                    last = todos
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(changed.wait(), TODO_RECHECK_SECONDS)

    return EventSourceResponse(
        gen(), ping=int(HEARTBEAT_SECONDS), ping_message_factory=lambda: ServerSentEvent(comment="heartbeat")
    )


@router.get("/todos/{todo_id}")
async def get_todo(todo_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    ident = valid_uuid(todo_id, "todo")
    async with runtime.db.connection() as conn:
        row = await todos_repo.get(conn, user.user_id, ident)
    if row is None:
        raise not_found("todo", todo_id)
    return JSON(Todo.from_row(row).out())


@router.post("/todos/{todo_id}/complete")
async def complete(todo_id: str, body: TodoComplete, user: CurrentUser, runtime: RuntimeDep) -> Response:
    todo, run_id = await complete_todo(runtime, user.user_id, todo_id, body.result)
    return JSON(finished_out(todo, run_id))


@router.post("/todos/{todo_id}/cancel")
async def cancel(todo_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    todo, run_id = await cancel_todo(runtime, user.user_id, todo_id)
    return JSON(finished_out(todo, run_id))
