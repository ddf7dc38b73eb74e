"""The design document's session routes, as thin aliases over threads, runs and todos.

A session is a thread (``session_id`` = ``thread_id``). ``GET /agent/sessions/{id}/state`` summarises it for a
chat UI (status, the pending interrupt, todos, current node, progress); ``restore`` resumes an interrupted
session with ``resume_data`` (the same rules as ``command.resume``: 409 when not interrupted, 422 when the
answer breaks the interrupt's schema); the todo routes are the ones of ``api/routers/todos.py`` under the
document's names and field names (``result_data``). All scoped to the owner.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError
from api.responses import JSON, run_out
from api.routers.threads import load_thread, thread_graph
from api.routers.todos import finished_out, thread_todos
from engine import lifecycle
from engine.run_models import CommandBody, RunCreate
from nodes.todos import complete_todo

router = APIRouter(prefix="/agent", tags=["sessions"])


class Restore(BaseModel):
    model_config = ConfigDict(extra="forbid")

    resume_data: Any = Field(description="the answer to the pending interrupt")
    stream_mode: list[str] | str | None = None


class TodoResult(BaseModel):
    model_config = ConfigDict(extra="forbid")

    result_data: Any = None


@router.get("/sessions/{thread_id}/state")
async def session_state(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await load_thread(runtime, user, thread_id)
    tid = str(thread["thread_id"])
    todos = await thread_todos(runtime, user.user_id, tid)
    graph = thread_graph(runtime, thread)
    values: Any = thread.get("state_values")
    next_nodes: list[str] = []
    interrupts: list[dict[str, Any]] = []
    step = None
    if graph is not None:
        state = await graph.aget_state({"configurable": {"thread_id": tid}})
        values = state.values
        next_nodes = list(state.next)
        step = (state.metadata or {}).get("step")
        if thread["status"] == "interrupted":
            interrupts = [{"value": i.value, "id": i.id} for i in state.interrupts or ()]
    counts = {s: sum(1 for t in todos if t["status"] == s) for s in ("pending", "completed", "cancelled")}
    progress: dict[str, Any] = {
        "step": step,
        "todos_total": len(todos),
        "todos_pending": counts["pending"],
        "todos_done": counts["completed"] + counts["cancelled"],
    }
    if isinstance(values, dict) and isinstance(values.get("progress"), dict):
        progress.update(values["progress"])  # a graph may report its own progress in its state
    body = {
        "session_id": tid,
        "thread_id": tid,
        "status": thread["status"],
        "agent": (thread["metadata"] or {}).get("graph_id"),
        "interrupt": interrupts[0] if interrupts else None,
        "interrupts": interrupts,
        "todos": todos,
        "current_node": next_nodes[0] if next_nodes else None,
        "next": next_nodes,
        "progress": progress,
        "values": values,
        "error": thread.get("error"),
        "created_at": thread["created_at"],
        "updated_at": thread["updated_at"],
    }
    return JSON(body)


@router.post("/sessions/{thread_id}/restore")
async def restore(thread_id: str, body: Restore, user: CurrentUser, runtime: RuntimeDep) -> Response:
    thread = await load_thread(runtime, user, thread_id)
    metadata = thread["metadata"] or {}
    assistant_id = metadata.get("assistant_id") or metadata.get("graph_id")
    if not assistant_id:
        raise ApiError(409, "conflict", f"session {thread['thread_id']} has never run: nothing to restore")
    if body.resume_data is None:
        raise ApiError(422, "invalid", "resume_data: an answer is required")
    try:
        request = RunCreate(
            assistant_id=str(assistant_id),
            command=CommandBody(resume=body.resume_data),
            stream_mode=body.stream_mode or ["values"],
            multitask_strategy="reject",
        )
    except ValidationError as exc:
        raise ApiError(422, "invalid", f"stream_mode: {exc.errors()[0]['msg']}") from exc
    run = await lifecycle.create_run(runtime, user, str(thread["thread_id"]), request)
    base = f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    return JSON(run_out(run), headers={"Content-Location": base, "Location": f"{base}/stream"})


@router.get("/sessions/{thread_id}/todos")
async def session_todos(thread_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(await thread_todos(runtime, user.user_id, thread_id))


@router.post("/todos/{todo_id}/complete")
async def complete(todo_id: str, body: TodoResult, user: CurrentUser, runtime: RuntimeDep) -> Response:
    todo, run_id = await complete_todo(runtime, user.user_id, todo_id, body.result_data)
    return JSON(finished_out(todo, run_id))
