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
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

import structlog
from langchain_core.messages import BaseMessageChunk, message_chunk_to_message
from langgraph.errors import GraphRecursionError
from langgraph.types import Command
from psycopg.types.json import Jsonb

from domain.errors import ClewError
from engine import metrics
from engine.accounting import check_run_budget, run_callbacks
from engine.context import AUTH_USER_ID, fit_to_graph, fresh_secrets
from engine.current import runtime_scope
from engine.events import EventWriter, write_events
from engine.serde import to_jsonable
from engine.user_store import UserStore
from persistence import checkpoint_sql
from persistence import runs as runs_repo
from persistence.channels import EVENTS_CHANNEL, RUNS_CHANNEL
from persistence.checkpointer import FencedOut, FencedSaver
from persistence.db import is_transient, retrying
from persistence.runs_sql import (
    FINISH_RUN_AND_THREAD,
    LOCK_THREAD,
    MAX_EVENT_SEQ,
    RENEW_LEASES,
    RESETTLE_STOPPED_THREAD,
    RETRY_RUN,
    SETTLE_THREAD,
    STOP_FOR_ROLLBACK,
)

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.executor")

ERROR_CHANNEL = "__error__"  # LangGraph's (private since 1.0) channel of a task's error write

STREAM_MODES = {"values", "updates", "messages", "messages-tuple", "custom", "debug", "tasks", "checkpoints", "events"}

# Custom stream chunks shaped ``{"event": <name>, "data": …}`` with one of these names are clew's own SSE events
# (human-in-the-loop, see nodes/interrupts.py and nodes/todos.py): always sent as ``event: <name>`` with
# ``data``, whatever the stream modes; the whole chunk is also sent as ``custom`` when that mode was requested.
NAMED_CUSTOM_EVENTS = frozenset({"interrupt", "todo"})


class AttemptsExhausted(Exception):
    """The run was claimed more often than its max_attempts allows."""


class _NodeTimeout(Exception):
    """Carries a ``TimeoutError`` a node raised (as opposed to the run exceeding its timeout)."""


class HandBack(Exception):
    """Raised at a super-step boundary of a draining worker: the step's checkpoint is durable, the next step
    must not start here (the run is handed back and continues elsewhere)."""


def transient(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another one: a lost lease, a database connection or serialization
    failure, a network connection failure (``ConnectionError``, httpx's transport errors, and anything raised
    *from* one, as SDK clients wrap them). Any other exception a node raises will recur: the run ends ``error``
    at once. A node's own LangGraph ``RetryPolicy`` has already been applied inside the attempt (LangGraph retries
    the node as the policy says before the exception reaches clew), so clew does not multiply it."""
    try:
        import httpx

        network: tuple[type[BaseException], ...] = (ConnectionError, httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency of the SDKs clew uses
        network = (ConnectionError,)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (FencedOut, *network)) or is_transient(current):
            return True
        current = current.__cause__
    return False


class StopReason:
    CANCEL = "cancel"
    SHUTDOWN = "shutdown"
    FENCED = "fenced"


class Execution:
    """Handle on a run being executed, so the worker can stop it for a reason."""

    def __init__(self, run: dict[str, Any], *, lease_deadline: float = 0.0) -> None:
        self.run = run
        self.run_id = str(run["run_id"])
        self.thread_id = str(run["thread_id"])
        self.token = int(run["fencing_token"])
        self.reason: str | None = None
        self.drain_requested = asyncio.Event()
        # until when (time.monotonic()) this worker's lease is known to hold: the claim and each renewal set it
        # (from the moment the statement was sent, so it is never later than the database's own expiry)
        self.lease_deadline = lease_deadline
        self.stream_task: asyncio.Task[None] | None = None
        self.context: Any = None
        self.final_values: Any = None
        self.final_interrupts: dict[str, Any] | None = None
        # the last root `values` chunk of the stream, while no interrupt has been seen (else None)
        self.streamed_final: Any = None
        self.saw_interrupt = False
        # whether another run of the thread may be waiting for this one (so the worker claims again)
        self.next_queued = True

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if self.stream_task is not None and not self.stream_task.done():
            self.stream_task.cancel()


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


def build_config(run: dict[str, Any]) -> dict[str, Any]:
    kwargs = run["kwargs"]
    base: dict[str, Any] = dict(run["config_snapshot"].get("config") or {})
    user_config: dict[str, Any] = dict(kwargs.get("config") or {})
    configurable = {**(base.get("configurable") or {}), **(user_config.get("configurable") or {})}
    config = {**base, **user_config}
    ids = {
        "thread_id": str(run["thread_id"]),
        "run_id": str(run["run_id"]),
        "assistant_id": str(run["assistant_id"]),
        "graph_id": run["graph_id"],
    }
    # the client's keys reach the graph untouched (a ``user_id`` of its own included); the run's identity
    # travels in keys of the reference server's names, which overwrite anything a client sent under them
    configurable.update(ids)
    configurable[AUTH_USER_ID] = run["user_id"]
    configurable["langgraph_auth_permissions"] = []
    configurable["clew_fencing_token"] = int(run["fencing_token"])
    configurable.pop("checkpoint_ns", None)
    config["configurable"] = configurable
    config["metadata"] = {**(config.get("metadata") or {}), **(run.get("metadata") or {}), **ids,
                          "user_id": run["user_id"]}
    config["run_id"] = run["run_id"]
    config.setdefault("recursion_limit", 150)
    for key in ("tags",):
        if key in config and not isinstance(config[key], list):
            config.pop(key)
    return config


def to_command(cmd: dict[str, Any]) -> Command[Any]:
    goto = cmd.get("goto")
    if isinstance(goto, dict):
        from langgraph.types import Send

        goto = Send(goto["node"], goto.get("input"))
    elif isinstance(goto, list):
        from langgraph.types import Send

        goto = [Send(g["node"], g.get("input")) if isinstance(g, dict) else g for g in goto]
    return Command(resume=cmd.get("resume"), update=cmd.get("update"), goto=goto or ())


def _event_name(mode: str, ns: tuple[str, ...]) -> str:
    return mode if not ns else mode + "|" + "|".join(ns)


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
        stream_input = await _prepare_input(runtime, execution, saver, config)
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
            _stream(runtime, execution, graph, stream_input, config, writer), name=f"clew-run-{run_id}"
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


def _note_final(execution: Execution, ns: tuple[str, ...], mode: str, chunk: Any) -> None:
    """Track the root `values` chunks and any interrupt, for the final state (see execute)."""
    if execution.saw_interrupt:
        return
    if isinstance(chunk, dict) and "__interrupt__" in chunk:
        execution.saw_interrupt = True
        execution.streamed_final = None
    elif mode == "values" and not ns:
        execution.streamed_final = chunk


def interrupts_by_task(state: Any) -> dict[str, Any]:
    """``{task_id: [interrupt, …]}`` as the Agent Server's thread ``interrupts`` field."""
    out: dict[str, Any] = {}
    for task in state.tasks or ():
        if task.interrupts:
            out[task.id] = [{"value": i.value, "id": i.id} for i in task.interrupts]
    return out


async def _prepare_input(runtime: Runtime, execution: Execution, saver: FencedSaver, config: dict[str, Any]) -> Any:
    """The graph input of this attempt: the run's input or command, or None to continue from the checkpoints
    this run already wrote (a retry after a crash or an error).

    ``checkpoint_before`` (the thread's latest checkpoint when the run was first claimed) is set by the claim.
    """
    run = execution.run
    kwargs = run["kwargs"]
    if run["attempt"] > 1:
        latest = await saver.aget_tuple({"configurable": {"thread_id": execution.thread_id, "checkpoint_ns": ""}})
        latest_id = latest.checkpoint["id"] if latest else ""
        if latest_id and latest_id > (run["checkpoint_before"] or ""):
            return None
    if kwargs.get("checkpoint_id"):
        config["configurable"]["checkpoint_id"] = kwargs["checkpoint_id"]
    if kwargs.get("command"):
        return to_command(kwargs["command"])
    return kwargs.get("input")


async def _stream(
    runtime: Runtime, execution: Execution, graph: Any, stream_input: Any, config: dict[str, Any], writer: EventWriter
) -> None:
    run = execution.run
    kwargs = run["kwargs"]
    requested = list(kwargs.get("stream_mode") or ["values"])
    subgraphs = bool(kwargs.get("stream_subgraphs"))
    to_lg = {"messages-tuple": "messages"}
    lg_modes = sorted({to_lg.get(m, m) for m in requested if m != "events"} | {"custom"})
    names = {to_lg.get(m, m): ("messages" if m in ("messages-tuple", "messages") else m) for m in requested}
    context = execution.context
    extra: dict[str, Any] = {}
    if kwargs.get("interrupt_before"):
        extra["interrupt_before"] = kwargs["interrupt_before"]
    if kwargs.get("interrupt_after"):
        extra["interrupt_after"] = kwargs["interrupt_after"]
    # A step's checkpoint must be durable before the next step starts (LangGraph's "async" mode starts it while
    # the write is in flight, so a write lost with the connection would let finished nodes run again, and a
    # lost lease would only be noticed after the next node started): "async" runs as "sync". "exit" (the
    # client asked for no checkpoints during the run) stays: such a run starts over after a crash.
    extra["durability"] = "exit" if kwargs.get("durability") == "exit" else "sync"
    if (extra.get("interrupt_before") or extra.get("interrupt_after") or getattr(graph, "interrupt_before_nodes", None)
            or getattr(graph, "interrupt_after_nodes", None)):
        execution.saw_interrupt = True  # a static interrupt may stop the graph: read the final state
    partials: dict[str, Any] = {}  # the `messages` mode's messages so far, by id
    async for ns, mode, chunk in _chunks(graph, stream_input, config, context, lg_modes, extra,
                                         "events" in requested, writer):
        _note_final(execution, ns, mode, chunk)
        if mode == "custom":
            if isinstance(chunk, dict) and chunk.get("event") in NAMED_CUSTOM_EVENTS and "data" in chunk:
                writer.add(chunk["event"], chunk["data"])
            if "custom" not in names:
                continue
        if ns and not subgraphs:
            continue
        if mode == "messages":
            message, meta = chunk
            if "messages-tuple" in requested:
                writer.add(_event_name("messages", ns), [message, meta])
            if "messages" in requested:
                for name, data in messages_events(partials, message, meta):
                    writer.add(_event_name(name, ns), data)
        elif mode == "debug":
            writer.add(_event_name("debug", ns), debug_event(chunk))
        else:
            writer.add(_event_name(names.get(mode, mode), ns), chunk)


def messages_events(partials: dict[str, Any], message: Any, meta: Any) -> list[tuple[str, Any]]:
    """The ``messages`` stream mode from LangGraph's ``(message, metadata)`` pairs, as the reference server
    sends it: ``messages/metadata`` ``{id: {"metadata": …}}`` the first time a message id is seen, then
    ``messages/partial`` ``[message so far]`` for each streamed chunk (accumulated in ``partials``), or
    ``messages/complete`` ``[message]`` for a message that arrives whole."""
    out: list[tuple[str, Any]] = []
    ident = getattr(message, "id", None) or ""
    if ident not in partials:
        out.append(("messages/metadata", {ident: {"metadata": meta}}))
        partials[ident] = None
    if isinstance(message, BaseMessageChunk):
        partials[ident] = message if partials[ident] is None else partials[ident] + message
        out.append(("messages/partial", [message_chunk_to_message(partials[ident])]))
    else:
        out.append(("messages/complete", [message]))
    return out


def debug_event(chunk: Any) -> Any:
    """LangGraph's debug chunk with, on ``checkpoint`` events, the ``checkpoint`` / ``parent_checkpoint`` ids the
    reference server adds (and clew's own configurable keys left out)."""
    if not isinstance(chunk, dict) or chunk.get("type") != "checkpoint" or not isinstance(chunk.get("payload"), dict):
        return chunk
    payload = dict(chunk["payload"])
    for key, ref in (("config", "checkpoint"), ("parent_config", "parent_checkpoint")):
        conf = (payload.get(key) or {}).get("configurable") if isinstance(payload.get(key), dict) else None
        if conf is None:
            payload.setdefault(ref, None)
            continue
        conf = {k: v for k, v in conf.items() if k != "clew_fencing_token"}
        payload[key] = {**payload[key], "configurable": conf}
        payload[ref] = {"checkpoint_id": conf.get("checkpoint_id"), "thread_id": conf.get("thread_id"),
                        "checkpoint_ns": conf.get("checkpoint_ns", "")}
    return {**chunk, "payload": payload}


async def _chunks(
    graph: Any, stream_input: Any, config: dict[str, Any], context: Any, modes: list[str], extra: dict[str, Any],
    with_events: bool, writer: EventWriter,
) -> AsyncIterator[tuple[tuple[str, ...], str, Any]]:
    """The graph's ``(namespace, mode, chunk)`` stream; with the ``events`` mode, taken from ``astream_events``
    (which runs the same ``astream`` underneath: the root's ``on_chain_stream`` events carry its chunks), so
    a client asking for events and other modes together gets both from one execution."""
    if not with_events:
        async for item in graph.astream(stream_input, config, context=context, stream_mode=modes,
                                        subgraphs=True, **extra):
            yield item
        return
    async for ev in graph.astream_events(stream_input, config, version="v2", context=context, stream_mode=modes,
                                         subgraphs=True, **extra):
        writer.add("events", ev)
        if ev.get("event") == "on_chain_stream" and not ev.get("parent_ids"):
            chunk = ev.get("data", {}).get("chunk")
            if isinstance(chunk, tuple) and len(chunk) == 3:
                yield chunk


async def _finish(
    runtime: Runtime,
    execution: Execution,
    writer: EventWriter,
    status: str,
    error: dict[str, Any] | None,
    bound: Any,
    *,
    thread_status: str | None = None,
) -> None:
    """Write the last events, the run's status and the thread's status, all at once (one statement).

    ``thread_status``: the thread's status when no other run is queued (default: from the run's status)."""
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
            "values": Jsonb(to_jsonable(execution.final_values)) if execution.final_values is not None else None,
            "interrupts": Jsonb(to_jsonable(execution.final_interrupts or {})),
            "channel": EVENTS_CHANNEL,
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
    await _finish(runtime, execution, writer, "interrupted", None, bound, thread_status=thread_status)
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


async def rollback_run(
    runtime: Runtime, execution: Execution, writer: EventWriter | None, bound: Any,
    *, last_events: list[tuple[int, str, str]] | None = None,
) -> None:
    """Undo a run: its checkpoints go, the run and its events go, the thread is as before the run.

    ``last_events``: events not written yet (ending with ``end``) when the writer is already closed.
    """
    if writer is not None:
        with contextlib.suppress(Exception):
            await writer.flush()
        writer.add("end", None)
        batch = writer.take()
        await writer.close()
    else:
        batch = list(last_events or [])
    before = execution.run.get("checkpoint_before")
    async with runtime.db.connection() as conn:
        row = await runs_repo.checkpoint_before(conn, execution.run_id)
    if row is not None:
        before = row["checkpoint_before"]
    try:
        async with runtime.db.transaction() as conn:
            await conn.execute(LOCK_THREAD, (execution.thread_id,))  # lock order: thread, then run
            if batch:
                await write_events(conn, execution.run_id, execution.token, batch)
            cur = await conn.execute(STOP_FOR_ROLLBACK, (execution.run_id, execution.token))
            if await cur.fetchone() is None:
                raise FencedOut(execution.run_id)
            await checkpoint_sql.delete_after(conn, execution.thread_id, before)
    except FencedOut:
        return
    runtime.broker.wake(execution.run_id)
    await asyncio.sleep(0)
    await finalize_rollback(runtime, execution.run_id, execution.thread_id)
    bound.info("run rolled back")


async def finalize_rollback(runtime: Runtime, run_id: str, thread_id: str) -> None:
    """Delete the rolled-back run (after readers got its ``end``) and settle the thread's status."""
    async with runtime.db.transaction() as conn:
        await conn.execute(LOCK_THREAD, (thread_id,))  # lock order: thread, then run
        await runs_repo.delete(conn, run_id)
        await conn.execute(SETTLE_THREAD, {"thread_id": thread_id, "status": "idle", "error": None, "values": None, "interrupts": None})
    await runtime.refresh_thread_status(thread_id)
