"""Weak interrupts: todos a node files for a human while the graph keeps going, and a gate that waits for them.

- :func:`file_todo` (in a node) records a todo (kind approval | input | selection, message, data, optional
  due time) and returns at once. Its id is ``uuid5(thread_id, task_id, key)``: LangGraph gives a task the same
  id when it runs again (resumed after an interrupt, or retried from the last checkpoint after a worker
  crash), so filing again finds the row already there (``ON CONFLICT DO NOTHING``) and nothing is duplicated.
  Filing goes through ``nodes.effects.once_in_transaction``, which also refuses it from a worker that lost its
  lease (fencing token).
  The ``key`` defaults to a hash of the todo's content; pass one when a node files several alike.
- :func:`await_todos` (the gate, in a later node) returns every todo of its group once none is pending. If
  some are, it stops the run with a typed interrupt of kind ``todos`` (:mod:`nodes.interrupts`).
- Completing or cancelling the last pending todo (:func:`complete_todo`, :func:`cancel_todo`, behind the
  HTTP routes) resumes the thread automatically: one resume run whose ``command.resume`` is
  ``{"todos": [...all results...]}``. Exactly once, even when two todos are completed at the same moment:
  the resume goes through ``engine.lifecycle.create_run``, which locks the thread row and accepts a resume only
  on an interrupted thread with no active run (and, via ``check_resume``, only when nothing is pending), so
  of two simultaneous attempts one creates the run and the other gets a 409 that is ignored here. A todo
  completed while the run is still going (before it reached the gate) is caught by an after-run hook when
  that run stops at the gate, and a process that died between the last completion and the resume is
  caught up by a sweep at start-up. A cancelled todo counts as done, with no result.

SSE ``todo`` events carry ``{"action": "created" | "completed" | "cancelled", "todo": {...}}``. ``created``
is emitted by the filing node in its run's stream. Completion and cancellation happen outside any run, so
they are delivered in the stream of the run that passes the gate: the gate emits one event per finished
todo, so the automatic resume run starts with them (a client following the thread sees the results arrive
with the run that uses them). The todo list (``GET /threads/{id}/todos``) is always authoritative.

Nodes reach the database through the runtime executing the run (:mod:`engine.current`). The process-wide
part (the after-run hook and the start-up sweep) is :class:`TodoGates`, a runtime extension
(``nodes/extensions.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, Literal

import structlog
from langgraph.config import get_config, get_stream_writer
from langgraph.runtime import get_runtime
from pydantic import BaseModel, ConfigDict, Field

from domain.errors import ClewError, Conflict, InvalidInput, NotFound
from engine.context import AUTH_USER_ID
from engine.current import current_runtime
from engine.interrupts import (
    InterruptRequest,
    answer_errors,
    check_schema,
    default_schema,
    is_typed,
    pending_interrupts,
)
from nodes.effects import once_in_transaction
from nodes.interrupts import ask
from persistence import runs as runs_repo
from persistence import threads as threads_repo
from persistence import todos as todos_repo

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.todos")

TODO_NAMESPACE = uuid.UUID("0b8f5e36-6f0e-4d53-9d1c-2a3b1f0c7d21")

TodoKind = Literal["approval", "input", "selection"]
TodoStatus = Literal["pending", "completed", "cancelled"]

GATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"todos": {"type": "array", "items": {"type": "object"}}},
    "required": ["todos"],
}

class Todo(BaseModel):
    """A todo as nodes and the API see it."""

    model_config = ConfigDict(populate_by_name=True)

    todo_id: str
    thread_id: str
    run_id: str | None = None
    graph_id: str | None = None
    node: str | None = None
    group: str = "default"
    kind: TodoKind
    message: str
    data: dict[str, Any] = Field(default_factory=dict)
    options: list[Any] = Field(default_factory=list)
    answer_schema: dict[str, Any] | None = Field(default=None, alias="schema")
    status: TodoStatus
    result: Any = None
    due_at: datetime | None = None
    created_at: datetime
    updated_at: datetime
    completed_at: datetime | None = None

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Todo:
        return cls(
            todo_id=str(row["todo_id"]),
            thread_id=str(row["thread_id"]),
            run_id=str(row["run_id"]) if row.get("run_id") else None,
            graph_id=row.get("graph_id"),
            node=row.get("node"),
            group=row["todo_group"],
            kind=row["kind"],
            message=row["message"],
            data=row.get("data") or {},
            options=row.get("options") or [],
            schema=row.get("answer_schema"),
            status=row["status"],
            result=row.get("result"),
            due_at=row.get("due_at"),
            created_at=row["created_at"],
            updated_at=row["updated_at"],
            completed_at=row.get("completed_at"),
        )

    @property
    def done(self) -> bool:
        return self.status != "pending"

    def out(self) -> dict[str, Any]:
        """The JSON shape of the API and the SSE events."""
        body = self.model_dump(mode="json", by_alias=True)
        body["overdue"] = bool(self.due_at and self.status == "pending" and self.due_at < datetime.now(UTC))
        return body


def _emit(action: str, todo: Todo) -> None:
    get_stream_writer()({"event": "todo", "data": {"action": action, "todo": todo.out()}})


def _due(due: datetime | timedelta | None) -> datetime | None:
    if due is None or isinstance(due, datetime):
        if isinstance(due, datetime) and due.tzinfo is None:
            return due.replace(tzinfo=UTC)
        return due
    return datetime.now(UTC) + due


# --- node helpers -----------------------------------------------------------------------------------------
async def file_todo(
    kind: TodoKind,
    message: str,
    *,
    data: dict[str, Any] | None = None,
    options: list[Any] | None = None,
    schema: dict[str, Any] | None = None,
    due: datetime | timedelta | None = None,
    key: str | None = None,
    group: str = "default",
) -> Todo:
    """File a todo for the thread's owner and return at once (idempotent when the node runs again).

    ``schema`` is the JSON schema a completion's ``result`` must match (default per kind, as for strong
    interrupts: approval ``{"decision", "edited", "comment"}``, input ``{"text"}``, selection ``{"selected"}``).
    """
    runtime = current_runtime()
    config = get_config()
    conf = config.get("configurable") or {}
    thread_id, user_id = str(conf["thread_id"]), str(conf[AUTH_USER_ID])
    info = get_runtime().execution_info
    task_id = info.task_id if info is not None else str(conf.get("checkpoint_ns", ""))
    data, options = dict(data or {}), list(options or [])
    answer_schema = schema or default_schema(kind, options)
    check_schema(answer_schema)
    if key is None:
        content = json.dumps([kind, message, data, options], sort_keys=True, default=str)
        key = hashlib.sha256(content.encode()).hexdigest()[:32]
    todo_id = str(uuid.uuid5(TODO_NAMESPACE, f"{thread_id}|{task_id}|{key}"))
    filed: dict[str, Any] = {}

    async def _insert(conn: Any) -> str:
        row, created = await todos_repo.insert(
            conn,
            todo_id=todo_id,
            thread_id=thread_id,
            user_id=user_id,
            run_id=conf.get("run_id"),
            graph_id=conf.get("graph_id"),
            node=(config.get("metadata") or {}).get("langgraph_node"),
            group=group,
            kind=kind,
            message=message,
            data=data,
            options=options,
            answer_schema=answer_schema,
            due_at=_due(due),
        )
        filed.update(row=row, created=created)
        return todo_id

    # the crash-safety helper records the effect per (thread, task, key) and checks the run's fencing token in
    # the same transaction, so a worker that lost its lease files nothing; the deterministic id with
    # ON CONFLICT DO NOTHING keeps filing idempotent even without that record
    await once_in_transaction(f"todo:{todo_id}", _insert, config=config)
    row = filed.get("row")
    if row is None:  # filed by an earlier execution of this task
        async with runtime.db.connection() as conn:
            row = await todos_repo.get(conn, user_id, todo_id)
        if row is None:
            raise RuntimeError(f"todo {todo_id} was recorded as filed but is gone (its thread was deleted?)")
    created = bool(filed.get("created"))
    todo = Todo.from_row(row)
    if created:
        _emit("created", todo)
        log.info("todo filed", todo_id=todo_id, thread_id=thread_id, kind=kind)
    return todo


async def await_todos(
    message: str = "Waiting for your todos", *, group: str | None = "default"
) -> list[Todo]:
    """The gate: every todo of ``group`` (None: all the thread's) once none is pending, else stop and wait.

    Resumed by the todo pipeline when the last one is completed or cancelled. The todos are read from the
    database, where finished todos never change again, so the result is the same as the resume value.
    """
    runtime = current_runtime()
    conf = get_config().get("configurable") or {}
    thread_id, user_id = str(conf["thread_id"]), str(conf[AUTH_USER_ID])
    async with runtime.db.connection() as conn:
        rows = await todos_repo.list_for_thread(conn, user_id, thread_id, group=group)
    todos = [Todo.from_row(r) for r in rows]
    pending = [t for t in todos if not t.done]
    if pending:
        ask(
            InterruptRequest(
                kind="todos",
                message=message,
                schema=GATE_SCHEMA,
                data={"group": group, "pending": [t.todo_id for t in pending], "total": len(todos)},
            )
        )
    for todo in todos:
        _emit(todo.status, todo)
    return todos


# --- the pipeline (API side) ------------------------------------------------------------------------------
def _todo_uuid(todo_id: str) -> str:
    try:
        return str(uuid.UUID(str(todo_id)))
    except ValueError as exc:
        raise NotFound.of("todo", todo_id) from exc


async def _finish(
    runtime: Runtime, user_id: str, todo_id: str, status: str, result: Any
) -> tuple[Todo, str | None]:
    ident = _todo_uuid(todo_id)
    async with runtime.db.transaction() as conn:
        row = await todos_repo.get(conn, user_id, ident, for_update=True)
        if row is None:
            raise NotFound.of("todo", todo_id)
        if row["status"] != "pending":
            raise Conflict(f"todo {ident} is already {row['status']}", status=row["status"])
        if status == "completed":
            errors = answer_errors(row.get("answer_schema"), result)
            if errors:
                first = errors[0]
                raise InvalidInput(
                    f"the result does not match the todo's schema: {first['message']} at {first['path']}",
                    code="invalid_result",
                    errors=errors,
                )
        done = await todos_repo.finish(conn, ident, status, result if status == "completed" else None)
        assert done is not None  # the row is locked and was pending
    todo = Todo.from_row(done)
    log.info("todo finished", todo_id=ident, thread_id=todo.thread_id, status=status)
    return todo, await resume_if_ready(runtime, todo.thread_id)


async def complete_todo(runtime: Runtime, user_id: str, todo_id: str, result: Any) -> tuple[Todo, str | None]:
    """Complete a pending todo with ``result`` (validated against its schema: 422); ``(todo, resume_run_id)``."""
    return await _finish(runtime, user_id, todo_id, "completed", result)


async def cancel_todo(runtime: Runtime, user_id: str, todo_id: str) -> tuple[Todo, str | None]:
    """Cancel a pending todo (done, no result); ``(todo, resume_run_id)``."""
    return await _finish(runtime, user_id, todo_id, "cancelled", None)


async def resume_if_ready(runtime: Runtime, thread_id: str) -> str | None:
    """Resume a thread parked on todo gates whose todos are all done; the new run's id, or None.

    Safe to call any number of times from anywhere: ``create_run`` decides under the thread lock, so at
    most one resume is created for one interruption.
    """
    from domain.users import User
    from engine import lifecycle
    from engine.run_models import CommandBody, RunCreate

    async with runtime.db.connection() as conn:
        thread = await threads_repo.get_any(conn, thread_id)
    if thread is None or thread["status"] != "interrupted":
        return None
    pending = pending_interrupts(thread)
    gates = [i for i in pending if is_typed(i.get("value")) and i["value"]["kind"] == "todos"]
    if not gates:
        return None
    answers: dict[str, Any] = {}
    async with runtime.db.connection() as conn:
        for gate in gates:
            group = (gate["value"].get("data") or {}).get("group")
            rows = await todos_repo.list_for_thread(conn, str(thread["user_id"]), thread_id, group=group)
            if any(r["status"] == "pending" for r in rows):
                return None
            answers[str(gate["id"])] = {"todos": [Todo.from_row(r).out() for r in rows]}
        prev = await runs_repo.latest_kwargs(conn, thread_id)
    resume: Any = next(iter(answers.values())) if len(pending) == 1 else answers
    metadata = thread["metadata"] or {}
    assistant_id = metadata.get("assistant_id") or metadata.get("graph_id")
    if not assistant_id:
        return None
    stream_mode = ((prev or {}).get("kwargs") or {}).get("stream_mode") or ["values"]
    body = RunCreate(
        assistant_id=str(assistant_id),
        command=CommandBody(resume=resume),
        stream_mode=stream_mode,
        metadata={"resumed_by": "todos"},
        multitask_strategy="reject",
    )
    try:
        run = await lifecycle.create_run(runtime, User(user_id=str(thread["user_id"])), thread_id, body)
    except ClewError as exc:
        # 409: another completion (or the after-run hook) resumed it first, or something is pending again
        if isinstance(exc, Conflict):
            log.debug("todo resume not applied", thread_id=thread_id, error=exc.code)
        else:
            log.warning(
                "todo resume refused",
                thread_id=thread_id,
                error=exc.code,
                detail=exc.detail,
            )
        return None
    run_id = str(run["run_id"])
    log.info("thread resumed by its todos", thread_id=thread_id, run_id=run_id)
    return run_id


# --- the process's part ------------------------------------------------------------------------------------
async def _after_run(runtime: Runtime, run: dict[str, Any], status: str) -> None:
    # the last todo may have been completed while this run was still on its way to the gate
    if status == "interrupted":
        await resume_if_ready(runtime, str(run["thread_id"]))


async def _sweep(runtime: Runtime) -> None:
    try:
        async with runtime.db.connection() as conn:
            threads = await todos_repo.stranded_gates(conn)
        for thread_id in threads:
            await resume_if_ready(runtime, thread_id)
    except Exception as exc:  # best effort: the next start-up tries again
        log.warning("todo gate sweep failed", error=str(exc))


class TodoGates:
    """The runtime extension of todo gates: resumes a gate whose todos were all finished while its run was
    still going (after-run hook), and sweeps at start-up for gates a stopped process left waiting."""

    def __init__(self) -> None:
        self._tasks: set[asyncio.Task[None]] = set()

    async def start(self, runtime: Runtime) -> None:
        runtime.run_hooks.after_run.append(_after_run)
        task = asyncio.create_task(_sweep(runtime), name="clew-todo-sweep")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def stop(self, runtime: Runtime) -> None:
        for task in list(self._tasks):
            task.cancel()
