"""Executing one claimed run: graph stream → event log → checkpoint → final status, in that order.

A run is executed by the worker that holds its lease. The graph runs with a :class:`FencedSaver`, so its
checkpoints only land while this worker still owns the run, and its stream output goes through an
:class:`EventWriter`, fenced the same way. The last events, the run's final status and the thread's status
are written in one transaction, so a reader never sees ``end`` without the status, or the status without
``end``.

A retry (after a crash or an error) resumes from the thread's last checkpoint if this run wrote one, and
starts over from the run's original input if it did not: finished nodes are not run again.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from langgraph.errors import GraphRecursionError
from psycopg.types.json import Jsonb

from domain.errors import ClewError
from engine import metrics
from engine.accounting import check_run_budget, run_callbacks
from engine.context import fit_to_graph, fresh_secrets
from engine.current import runtime_scope
from engine.events import EventWriter
from engine.execution import AttemptsExhausted, Execution, HandBack, StopReason, transient
from engine.interrupts import interrupts_by_task
from engine.rollback import rollback_run
from engine.run_input import build_config, prepare_input
from engine.run_stream import stream_run
from engine.serde import to_jsonable
from engine.user_store import UserStore
from persistence import runs as runs_repo
from persistence.channels import EVENTS_CHANNEL, RUNS_CHANNEL
from persistence.checkpointer import FencedOut, FencedSaver
from persistence.db import retrying
from persistence.runs_sql import (
    FINISH_RUN_AND_THREAD,
    MAX_EVENT_SEQ,
    RENEW_LEASES,
    RESETTLE_STOPPED_THREAD,
    RETRY_RUN,
)

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.executor")

ERROR_CHANNEL = "__error__"  # LangGraph's (private since 1.0) channel of a task's error write


class _NodeTimeout(Exception):
    """Carries a ``TimeoutError`` a node raised (as opposed to the run exceeding its timeout)."""


class _BoundarySaver(FencedSaver):
    """Calls ``on_root_checkpoint`` once a root checkpoint was committed (a super-step boundary). The executor
    runs graphs with ``sync`` durability, so LangGraph awaits this before it starts the next step: whatever the
    callback raises (a hand-back, a lost lease) stops the run there, with the finished step durable and no node
    of the next step started."""

    def __init__(self, *args: Any, on_root_checkpoint: Callable[[], Awaitable[None]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._on_root = on_root_checkpoint

    async def aput(self, config, checkpoint, metadata, new_versions):  # type: ignore[no-untyped-def]
        result = await super().aput(config, checkpoint, metadata, new_versions)
        if not config.get("configurable", {}).get("checkpoint_ns"):
            await self._on_root()
        return result

    async def aput_writes(self, config, writes, task_id, task_path=""):  # type: ignore[no-untyped-def]
        # LangGraph records a task stopped by cancellation (a cancel, a hand-back) as failed with CancelledError;
        # it did not fail, it was stopped: keep no error, so its state shows none and it simply runs again
        writes = [w for w in writes if not (w[0] == ERROR_CHANNEL and isinstance(w[1], asyncio.CancelledError))]
        if writes:
            await super().aput_writes(config, writes, task_id, task_path)


async def _step_boundary(runtime: Runtime, execution: Execution) -> None:
    """Before the next super-step starts: hand the run back if this worker is draining, and make sure the lease
    still holds — by the local clock, or else by renewing it now (a worker that was stalled past its lease must
    not start a step another worker may be running)."""
    if execution.drain_requested.is_set():
        execution.reason = execution.reason or StopReason.SHUTDOWN
        raise HandBack(execution.run_id)
    if time.monotonic() < execution.lease_deadline:
        return
    sent = time.monotonic()
    lease = runtime.settings.lease_seconds
    rows = await retrying(lambda: runtime.db.fetchall(
        RENEW_LEASES, {"lease": lease, "worker": execution.run.get("lease_owner"),
                       "run_ids": [execution.run_id], "tokens": [execution.token]},
    ), within=min(10.0, lease), what="lease renewal")
    if not rows:
        execution.reason = execution.reason or StopReason.FENCED
        raise FencedOut(f"run {execution.run_id}: lease expired before the next step")
    execution.lease_deadline = max(execution.lease_deadline, sent + lease)


async def execute(runtime: Runtime, execution: Execution) -> None:
    """Execute one claimed run; its nodes reach ``runtime`` through :func:`engine.current.current_runtime`."""
    with runtime_scope(runtime):
        await _execute(runtime, execution)


async def _execute(runtime: Runtime, execution: Execution) -> None:
    """Run ``execution`` to a final state, a retry, or a hand-back. Never raises (except cancellation)."""
    run = execution.run
    run_id, thread_id, token = execution.run_id, execution.thread_id, execution.token
    bound = log.bind(run_id=run_id, thread_id=thread_id, user_id=run["user_id"], attempt=run["attempt"])
    db = runtime.db
    row = {"seq": run["last_seq"]} if run.get("last_seq") is not None else await db.fetchone(MAX_EVENT_SEQ, (run_id,))
    writer = runtime.event_log.writer(run_id, token, int(row["seq"]) if row else 0)
    status = "error"
    error: dict[str, Any] | None = None
    graph = None
    config = build_config(run)
    try:
        writer.add("metadata", {"run_id": run_id, "attempt": run["attempt"]})
        spec = runtime.graphs.get(run["graph_id"])
        if spec is None:
            raise LookupError(f"graph {run['graph_id']!r} is not loaded in this process")
        saver = _BoundarySaver(db.pool, run_id, token, on_root_checkpoint=lambda: _step_boundary(runtime, execution),
                               lock=runtime.checkpoint_lock)
        built = await spec.build(config)  # a graph factory is called with the run's configuration
        graph = built.copy(update={"checkpointer": saver, "store": UserStore(runtime.store, run["user_id"])})
        if run.get("cancel_action"):
            # cancelled while no worker executed it (its worker died): nothing runs, the cancel is applied now
            execution.reason = StopReason.CANCEL
            raise asyncio.CancelledError
        if run["attempt"] > run["max_attempts"]:
            # every earlier attempt died with its worker (or was lost): give up rather than loop forever
            last = run.get("error") or {}
            raise AttemptsExhausted(
                f"run gave up after {run['max_attempts']} attempts" + (f": {last.get('message')}" if last else "")
            )
        stream_input = await prepare_input(execution, saver, config)
        if run.get("first_claim") and run.get("checkpoint_before") == "" and not run["kwargs"].get("checkpoint_id"):
            saver.expect_empty_thread(thread_id)  # the graph's first read of the thread needs no statement
        context = {**(run["config_snapshot"].get("context") or {}), **await fresh_secrets(runtime, run["user_id"])}
        execution.context = fit_to_graph(graph, context)
        await check_run_budget(db, run["user_id"], context)
        config["callbacks"] = [*(config.get("callbacks") or []), *run_callbacks(db, run, context)]
        if execution.drain_requested.is_set():
            execution.reason = StopReason.SHUTDOWN
            raise HandBack(run_id)
        hooks = runtime.run_hooks
        for hook in hooks.before_run:
            await hook(runtime, run)
        execution.stream_task = asyncio.create_task(
            stream_run(runtime, execution, graph, stream_input, config, writer), name=f"clew-run-{run_id}"
        )
        if execution.reason is not None:  # stopped (cancel, shutdown, fenced) while being set up
            execution.stream_task.cancel()
        timeout_at = run.get("timeout_at")
        remaining = None
        if timeout_at is not None:
            remaining = max(0.0, timeout_at.timestamp() - time.time())
        try:
            await asyncio.wait_for(asyncio.shield(execution.stream_task), timeout=remaining)
        except TimeoutError:
            if execution.stream_task.done():  # a node's own TimeoutError, not the run's timeout
                raise _NodeTimeout() from execution.stream_task.exception()
            execution.stop("timeout")
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await execution.stream_task
            raise
        if execution.streamed_final is not None and _values_are_state(graph):
            # the last root `values` chunk is the final state, and no interrupt was seen: no state read needed
            status, execution.final_values, execution.final_interrupts = "success", execution.streamed_final, {}
        else:
            state = await graph.aget_state(config)
            # waiting on an interrupt (``interrupt()``) or stopped by a static one (interrupt_before/after): the
            # thread is interrupted and a run with no input continues it
            status = "interrupted" if state.interrupts or state.next else "success"
            execution.final_values = state.values
            execution.final_interrupts = interrupts_by_task(state)
    except asyncio.CancelledError:
        reason = execution.reason
        if reason == StopReason.FENCED or reason is None:
            bound.warning("run lost its lease; stopping without writing")
            await writer.close()
            if reason is None:
                raise
            return
        if reason == StopReason.SHUTDOWN:
            await _hand_back(runtime, execution, writer, bound)
            return
        if reason == StopReason.CANCEL:
            await _cancelled(runtime, execution, writer, graph, config, bound)
            return
        raise
    except FencedOut:
        bound.warning("run lost its lease; stopped")
        metrics.FENCED_WRITES.labels("run").inc()
        await writer.close()
        return
    except TimeoutError:
        status, error = "timeout", {"error": "TimeoutError", "message": "run exceeded its timeout"}
    except Exception as exc:  # the graph failed
        reason = execution.reason
        if reason == StopReason.SHUTDOWN:
            await _hand_back(runtime, execution, writer, bound)
            return
        if isinstance(exc, FencedOut) or reason == StopReason.FENCED:
            await writer.close()
            return
        if isinstance(exc, _NodeTimeout) and exc.__cause__ is not None:
            exc = exc.__cause__  # type: ignore[assignment]
        error = {"error": type(exc).__name__, "message": str(exc)}
        if isinstance(exc, ClewError):
            error = {"error": exc.code, "message": exc.detail, **exc.extra}
        retryable = transient(exc) and not isinstance(exc, AttemptsExhausted | GraphRecursionError)
        if retryable and run["attempt"] < run["max_attempts"]:
            bound.warning("run attempt failed; will retry", error=error)
            await _retry(runtime, execution, writer, error, bound)
            return
        bound.error("run failed", error=error, exc_info=exc)
        status = "error"
    await _finish(runtime, execution, writer, status, error, bound)


def _values_are_state(graph: Any) -> bool:
    """Whether the graph's `values` chunks carry its whole state (no separate output schema), so the last one
    equals what ``aget_state`` would read."""
    out, state = graph.output_channels, graph.stream_channels_asis
    return bool(out == state or (isinstance(out, list | tuple) and isinstance(state, list | tuple)
                                 and set(out) == set(state)))


async def _finish(
    runtime: Runtime,
    execution: Execution,
    writer: EventWriter,
    status: str,
    error: dict[str, Any] | None,
    bound: Any,
    *,
    thread_status: str | None = None,
    publish: bool = True,
) -> None:
    """Write the last events, the run's status and the thread's status, all at once (one statement).

    ``thread_status``: the thread's status when no other run is queued (default: from the run's status).
    ``publish``: hand the committed outcome to joiners in this process (``runtime.outcomes``); not when the
    thread's values may still be settled again after this (a cancel)."""
    try:
        await writer.flush()
    except FencedOut:
        await writer.close()
        return
    except Exception:
        bound.exception("event write failed before finishing")
    if error is not None:
        writer.add("error", error)
    writer.add("end", None)
    batch = writer.take()
    await writer.close()
    thread_status = thread_status or {"success": "idle", "interrupted": "interrupted"}.get(status, "error")
    values = to_jsonable(execution.final_values) if execution.final_values is not None else None
    interrupts = to_jsonable(execution.final_interrupts or {})
    # retried after a transient error: a repetition after a commit whose answer was lost finds the run no longer
    # owned and writes nothing
    row = await retrying(lambda: runtime.db.fetchone(
        FINISH_RUN_AND_THREAD,
        {
            "run_id": execution.run_id,
            "token": execution.token,
            "thread_id": execution.thread_id,
            "seqs": [b[0] for b in batch],
            "events": [b[1] for b in batch],
            "datas": [b[2] for b in batch],
            "status": status,
            "thread_status": thread_status,
            "error": Jsonb(error) if error else None,
            "values": Jsonb(values) if values is not None else None,
            "interrupts": Jsonb(interrupts),
            "channel": runtime.broker.channel(EVENTS_CHANNEL),  # local joiners are woken below
        },
    ), what="final statement")
    if row and row["owned"] and not row["finished"]:
        # a rollback cancel committed while the run was ending: undo it rather than let it finish
        await rollback_run(runtime, execution, None, bound, last_events=batch)
        return
    if not row or not row["finished"]:
        bound.warning("run lost its lease before finishing; nothing written")
        metrics.FENCED_WRITES.labels("finish").inc()
        return
    execution.next_queued = row["thread_status"] == "busy"
    if publish and (values is not None or status in ("error", "timeout")):
        # what was just committed, for a joiner in this process (runs/wait): it need not read it back
        runtime.outcomes.publish(execution.run_id, {
            "run_id": execution.run_id, "thread_id": execution.thread_id, "status": status, "error": error,
            "thread_values": values, "thread_interrupts": interrupts,
        })
    runtime.broker.wake(execution.run_id)
    bound.info("run finished", status=status)
    for hook in runtime.run_hooks.after_run:
        try:
            await hook(runtime, execution.run, status)
        except Exception:
            bound.exception("after-run hook failed")


async def _retry(runtime: Runtime, execution: Execution, writer: EventWriter, error: dict[str, Any], bound: Any) -> None:
    with contextlib.suppress(Exception):
        await writer.flush()
    await writer.close()
    delay = min(0.2 * (2 ** (execution.run["attempt"] - 1)), 5.0)
    params = {"error": Jsonb(error), "delay": delay, "run_id": execution.run_id, "token": execution.token}
    await retrying(lambda: runtime.db.execute(RETRY_RUN, params), what="retry")
    runtime.wake_workers()


async def _hand_back(runtime: Runtime, execution: Execution, writer: EventWriter, bound: Any) -> None:
    from persistence.runs_sql import RELEASE_RUN

    with contextlib.suppress(Exception):
        await writer.flush()
    await writer.close()
    await retrying(lambda: runtime.db.execute(RELEASE_RUN, (execution.run_id, execution.token)), what="hand-back")
    await runtime.db.notify(RUNS_CHANNEL, execution.run_id)
    bound.info("run handed back")


async def _cancelled(
    runtime: Runtime, execution: Execution, writer: EventWriter, graph: Any, config: dict[str, Any], bound: Any
) -> None:
    async with runtime.db.connection() as conn:
        action = await runs_repo.cancel_action(conn, execution.run_id) or "interrupt"
    if action == "rollback":
        await rollback_run(runtime, execution, writer, bound)
        return
    # cancel with action=interrupt stops the graph where it was, like a static interrupt (as the reference
    # server): the thread is interrupted with ``next`` naming the stopped tasks, and a run with no input
    # continues it (the stopped tasks carry no error: see _BoundarySaver.aput_writes).
    thread_status, seen = "idle", None
    if graph is not None:
        state = await graph.aget_state(config)
        execution.final_values = state.values
        execution.final_interrupts = interrupts_by_task(state)
        thread_status = "interrupted" if state.next else "idle"
        seen = (state.config or {}).get("configurable", {}).get("checkpoint_id")
    await _finish(runtime, execution, writer, "interrupted", None, bound, thread_status=thread_status, publish=False)
    if graph is None:
        return
    # a checkpoint write in flight when the graph was stopped may land after the read above; none can after the
    # run ended (writes are fenced on a running run), so a second read is final
    state = await graph.aget_state(config)
    if (state.config or {}).get("configurable", {}).get("checkpoint_id") != seen:
        await runtime.db.execute(RESETTLE_STOPPED_THREAD, {
            "thread_id": execution.thread_id, "status": "interrupted" if state.next else "idle",
            "values": Jsonb(to_jsonable(state.values)), "interrupts": Jsonb(to_jsonable(interrupts_by_task(state))),
        })


