"""Exactly-once side effects for nodes: an effect runs once per (thread, checkpoint, task, key).

A node that crashed half-way runs again from its checkpoint after recovery; without care it would send the
e-mail, file the todo or export the report a second time. LangGraph derives a task's id from the checkpoint
it runs from, so ``(thread_id, task namespace, key)`` names "this effect of this execution step" and stays the
same when the step is re-executed.

Two forms:

- :func:`once_in_transaction` runs ``fn(conn)`` inside the transaction that records the key, for effects
  that live in Postgres (todos, counters, notifications rows): truly exactly once.
- :func:`once` runs an arbitrary async ``fn()`` (an HTTP call, a file export) and records its result: a
  re-execution after the result was recorded returns the recorded result. If the process dies between the
  effect and the record, the effect may run again — the unavoidable window for effects outside the database,
  so such effects should be idempotent at their target where possible.

Both check the run's fencing token in the same transaction, so a worker that lost its lease performs nothing.
They use the database of the runtime executing the run (:func:`engine.current.current_runtime`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from langchain_core.runnables import RunnableConfig
from langgraph.config import get_config

from engine.current import current_runtime
from engine.serde import to_jsonable
from persistence import side_effects
from persistence.checkpointer import FencedOut
from persistence.runs_sql import CHECK_FENCE

T = TypeVar("T")

def _coordinates(config: RunnableConfig | None) -> tuple[str, str, str | None, int | None]:
    config = config or get_config()
    conf = config.get("configurable", {})
    thread_id = str(conf.get("thread_id"))
    task_ns = str(conf.get("checkpoint_ns") or "")
    if not task_ns:
        raise RuntimeError("side effects must be performed inside a graph node")
    run_id = conf.get("run_id")
    token = conf.get("clew_fencing_token")
    return thread_id, task_ns, str(run_id) if run_id else None, int(token) if token is not None else None


async def _check_fence(conn: Any, run_id: str | None, token: int | None) -> None:
    if run_id is None or token is None:
        return
    cur = await conn.execute(CHECK_FENCE, (run_id, token))
    if await cur.fetchone() is None:
        raise FencedOut(f"run {run_id}: lease lost; side effect not performed")


async def once_in_transaction(
    key: str, fn: Callable[[Any], Awaitable[T]], *, config: RunnableConfig | None = None
) -> T | Any:
    """Run ``fn(conn)`` and record ``key`` in one transaction; a repeat returns the recorded result."""
    thread_id, task_ns, run_id, token = _coordinates(config)
    async with current_runtime().db.transaction() as conn:
        await _check_fence(conn, run_id, token)
        if not await side_effects.claim(conn, thread_id, task_ns, key, run_id):
            row = await side_effects.get(conn, thread_id, task_ns, key)
            return row["result"] if row else None
        result = await fn(conn)
        await side_effects.set_result(conn, thread_id, task_ns, key, to_jsonable(result))
        return result


async def once(key: str, fn: Callable[[], Awaitable[T]], *, config: RunnableConfig | None = None) -> T | Any:
    """Run ``fn()`` unless this (thread, task, key) already recorded a result; record the result."""
    thread_id, task_ns, run_id, token = _coordinates(config)
    db = current_runtime().db
    async with db.connection() as conn:
        row = await side_effects.get(conn, thread_id, task_ns, key)
    if row is not None and row["state"] == "done":
        return row["result"]
    async with db.transaction() as conn:
        await _check_fence(conn, run_id, token)
        await side_effects.start(conn, thread_id, task_ns, key, run_id)
    result = await fn()
    async with db.transaction() as conn:
        await _check_fence(conn, run_id, token)
        await side_effects.finish(conn, thread_id, task_ns, key, to_jsonable(result))
    return result
