"""Run lifecycle operations shared by every API route: create (with multitask strategies), cancel, join.

Creating a run locks the thread row, so concurrent requests on one thread are decided one at a time:
``reject`` answers 409 while a run is active, ``interrupt`` and ``rollback`` stop the active run and queue the
new one behind it, ``enqueue`` queues it. A resume is accepted only on an interrupted thread with no active
run, and marks the thread busy in the same transaction, so of two concurrent resumes exactly one applies.

The common case — a new thread, or an idle one with no run pending or running and no checkpoint to fork from, or
a resume of an interrupted thread whose answer checks out against the interrupts as read (no todo gate) — has
nothing to decide and is one statement (``persistence.runs.CREATE_IF_IDLE``) after one read (assistant, thread
and configuration generations together); that statement writes nothing when its thread turns out busy or
changed since it was read, and the general path above decides instead.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import structlog

from domain.errors import Conflict, InvalidInput, NotFound
from engine.accounting import check_run_budget
from engine.context import without_secrets
from engine.graphs import system_assistant_id
from engine.interrupts import check_resume, resume_acceptable
from engine.queue_cap import check_queued_runs, queued_runs_cap
from engine.run_models import RunCreate
from persistence import assistants as assistants_repo
from persistence import channels, checkpoint_sql
from persistence import runs as runs_repo
from persistence import threads as threads_repo
from persistence.channels import CANCEL_CHANNEL, EVENTS_CHANNEL, RUNS_CHANNEL
from persistence.rate_limits import lock_user_queue
from persistence.runs_sql import LOCK_THREAD, SETTLE_THREAD, TAKE_OVER_CANCELLED

if TYPE_CHECKING:
    from domain.users import User
    from engine.runtime import Runtime
    from persistence.db import Conn

log = structlog.get_logger("clew.lifecycle")

TERMINAL = {"success", "error", "timeout", "interrupted"}


def valid_uuid(value: str, kind: str) -> str:
    """``value`` as a canonical UUID string; a malformed one is a 422 (as the reference server answers)."""
    try:
        return str(uuid.UUID(str(value)))
    except ValueError as exc:
        raise InvalidInput(f"invalid {kind} ID {value!r}: must be a UUID") from exc


def assistant_ident(runtime: Runtime, assistant_id: str) -> str:
    """The assistant UUID ``assistant_id`` names: itself, or a graph name's system assistant. Neither a UUID nor a
    graph name: 422 listing the graphs."""
    if assistant_id in runtime.graphs:
        assistant_id = system_assistant_id(assistant_id)
    try:
        return str(uuid.UUID(assistant_id))
    except ValueError as exc:
        raise InvalidInput(
            f"invalid assistant {assistant_id!r}: must be an assistant UUID or one of the graphs {runtime.graphs.ids()}",
        ) from exc


def usable_assistant(runtime: Runtime, row: dict[str, Any] | None, ident: str) -> dict[str, Any]:
    """``row``, the assistant ``ident`` as read for the user: 404 if there is none, 409 if its graph is not loaded."""
    if row is None:
        raise NotFound.of("assistant", ident)
    if row["graph_id"] not in runtime.graphs:
        raise Conflict(f"graph {row['graph_id']!r} is not loaded on this server", code="graph_unavailable")
    return row


async def resolve_assistant(conn: Conn, runtime: Runtime, user: User, assistant_id: str) -> dict[str, Any]:
    """An assistant by id or by graph name (its system assistant), visible to ``user``.

    Neither a UUID nor a graph name: 422 listing the graphs; a UUID of no visible assistant: 404."""
    ident = assistant_ident(runtime, assistant_id)
    return usable_assistant(runtime, await assistants_repo.get(conn, user.user_id, ident), ident)


async def resolve_settings(
    runtime: Runtime, user_id: str, thread: dict[str, Any], assistant: dict[str, Any], context: dict[str, Any] | None,
    *, resuming: bool = False, generations: tuple[int, int] | None = None,
) -> dict[str, Any]:
    """The run's resolved configuration (system → user → session), snapshotted on the run.

    A resume of an interrupt keeps the interrupted run's snapshot (see ConfigService.resolve_for_run).
    ``generations``: the configuration layers' generations as just read (else the resolution reads them).
    """
    session = {**(assistant.get("context") or {}), **(thread.get("config") or {}), **(context or {})}
    resolved: dict[str, Any] = await runtime.config.resolve_for_run(
        user_id, str(thread["thread_id"]), session, resuming=resuming, run_context=context, generations=generations
    )
    return resolved


def check_run_nodes(runtime: Runtime, graph_id: str, body: RunCreate) -> None:
    """Refuse interrupt nodes the graph does not have (422)."""
    spec = runtime.graphs.get(graph_id)
    nodes = set(spec.graph.nodes) - {"__start__"} if spec is not None else set()
    for name in ("interrupt_before", "interrupt_after"):
        value = getattr(body, name)
        if isinstance(value, list) and (unknown := [n for n in value if n not in nodes]):
            raise InvalidInput(f"{name}: unknown node(s) {unknown}; graph {graph_id!r} has {sorted(nodes)}")


def _checkpoint_id(body: RunCreate) -> str | None:
    """The checkpoint the run is to start from, if the request names one."""
    return body.checkpoint_id or (body.checkpoint or {}).get("checkpoint_id")


async def check_run_targets(conn: Conn, runtime: Runtime, graph_id: str, thread_id: str, body: RunCreate) -> None:
    """Refuse at creation what the run would only trip over later: unknown interrupt nodes, an unknown checkpoint."""
    check_run_nodes(runtime, graph_id, body)
    checkpoint = body.checkpoint or {}
    checkpoint_id = _checkpoint_id(body)
    if checkpoint_id:
        if not await checkpoint_sql.checkpoint_exists(conn, thread_id, checkpoint.get("checkpoint_ns") or "",
                                                      checkpoint_id):
            raise NotFound.of("checkpoint", checkpoint_id)


async def create_run(
    runtime: Runtime, user: User, thread_id: str | None, body: RunCreate, *, temporary: bool = False
) -> dict[str, Any]:
    """Create a run (see the module docstring). A deadlock victim or a serialization failure is retried here,
    inside the request (its transaction rolled back, nothing was written), a few times."""
    for attempt in range(1, 6):
        try:
            return await _create_run_once(runtime, user, thread_id, body, temporary=temporary)
        except (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure) as exc:
            if attempt == 5:
                raise
            log.warning("run creation conflicted; retrying", thread_id=thread_id, error=str(exc)[:200])
            await asyncio.sleep(0.01 * attempt)
    raise AssertionError("unreachable")


async def _create_run_once(
    runtime: Runtime, user: User, thread_id: str | None, body: RunCreate, *, temporary: bool = False
) -> dict[str, Any]:
    if body.command is not None:
        # as the reference server: a command wins and the input is ignored (the JS SDK's useStream sends
        # ``"input": {}`` together with every ``command``)
        body = body.model_copy(update={"input": None})
    cancels: list[str] = []
    resuming = body.command is not None and body.command.resume is not None
    stateless = thread_id is None
    create = stateless or body.if_not_exists == "create"
    ident = assistant_ident(runtime, body.assistant_id)
    bad_thread: InvalidInput | None = None
    if thread_id is not None:
        try:
            thread_id = valid_uuid(thread_id, "thread")
        except InvalidInput as exc:  # reported after the assistant's errors, as before
            bad_thread = exc
    # Assistant, thread and configuration generations in one read. Configuration and budget are resolved before
    # the thread row is locked, because they may borrow pool connections of their own: a request holding one
    # connection while waiting for another deadlocks the pool as soon as every connection is held by a request
    # doing the same (N run creations on a pool of N).
    async with runtime.db.connection() as conn:
        row, seen, generations = await runs_repo.creation_context(
            conn, user.user_id, ident, None if bad_thread is not None else thread_id
        )
    assistant = usable_assistant(runtime, row, ident)
    if bad_thread is not None:
        raise bad_thread
    if thread_id is not None and seen is None and not create:
        raise NotFound.of("thread", thread_id)
    thread_id = thread_id or str(uuid.uuid4())
    context = await resolve_settings(runtime, user.user_id, seen or {"thread_id": thread_id, "config": {}},
                                     assistant, body.context, resuming=resuming, generations=generations)
    await check_run_budget(runtime.db, user.user_id, context)
    kwargs = body.model_dump(
        include={
            "input", "command", "config", "context", "stream_mode", "stream_subgraphs", "checkpoint_id",
            "interrupt_before", "interrupt_after", "durability", "stream_resumable", "on_completion",
        },
        exclude_none=True,
    )
    # the timeout counts from the run's start, with the limit in force when it was created
    kwargs["timeout_seconds"] = runtime.settings.run_timeout_seconds
    if body.checkpoint and not body.checkpoint_id and body.checkpoint.get("checkpoint_id"):
        kwargs["checkpoint_id"] = body.checkpoint["checkpoint_id"]
    if body.durability is None and body.checkpoint_during is False:
        kwargs["durability"] = "exit"
    fields: dict[str, Any] = {
        "run_id": str(uuid.uuid4()),
        "thread_id": thread_id,
        "user_id": user.user_id,
        "assistant_id": str(assistant["assistant_id"]),
        "graph_id": assistant["graph_id"],
        "kwargs": kwargs,
        "config_snapshot": {"config": assistant.get("config") or {}, "context": without_secrets(context)},
        "metadata": dict(body.metadata or {}),
        "multitask_strategy": body.multitask_strategy,
        "max_attempts": runtime.settings.max_attempts,
        "delay_seconds": body.after_seconds or 0.0,
        "thread_metadata": {"graph_id": assistant["graph_id"], "assistant_id": str(assistant["assistant_id"])},
        "channel": runtime.broker.channel(RUNS_CHANNEL),  # None: no other process listens, announced here
    }
    expect_version: str | None = None
    fast = not _checkpoint_id(body) and (seen is None or seen["status"] != "busy")
    if fast and resuming:
        # a resume of an interrupted thread whose answer checks out against the interrupts as just read: one
        # statement too, queued only if the thread is still in that very row version (else the general path)
        assert body.command is not None
        fast = seen is not None and seen["status"] == "interrupted" and resume_acceptable(seen, body.command.resume)
        expect_version = seen["version"] if fast and seen is not None else None
    if fast:
        # the common case, a new or idle thread: nothing to decide, one statement (else the general path below)
        check_run_nodes(runtime, assistant["graph_id"], body)
        run = await _create_if_idle(runtime, fields, create=create and not resuming, expect_version=expect_version,
                                    new_thread_metadata={"temporary": temporary} if stateless else {})
        if run is not None:
            if fields["channel"] is None:
                await runtime.broker.emit(RUNS_CHANNEL, str(run["run_id"]))
            log.info("run created", run_id=str(run["run_id"]), thread_id=thread_id, user_id=user.user_id)
            return run
    async with runtime.db.transaction() as conn:
        await check_queued_runs(conn, runtime.settings, user.user_id)  # first: it locks the user's queue
        if stateless:
            thread = await threads_repo.insert(conn, user.user_id, thread_id, {"temporary": temporary})
        else:
            thread = None
            if seen is None and create:
                # not there a moment ago: create it (the insert holds its row lock like FOR UPDATE would)
                thread = await threads_repo.insert(conn, user.user_id, thread_id, {})
            if thread is None:  # it existed, or was created meanwhile (by this user, or by someone else)
                thread = await threads_repo.get(conn, user.user_id, thread_id, for_update=True)
            if thread is None and seen is not None and create:  # deleted since the first read
                thread = await threads_repo.insert(conn, user.user_id, thread_id, {})
            if thread is None:  # the id belongs to someone else: do not reveal it
                raise NotFound.of("thread", thread_id)
        assert thread is not None
        await check_run_targets(conn, runtime, assistant["graph_id"], thread_id, body)
        active = await runs_repo.active_for_thread(conn, thread_id)
        if resuming and (thread["status"] != "interrupted" or active):
            raise Conflict(
                f"thread {thread_id} is not waiting on an interrupt (status {thread['status']})",
                thread_status=thread["status"],
            )
        if resuming:
            assert body.command is not None
            await check_resume(conn, thread, body.command.resume)  # typed interrupts: 422 on a bad answer
        if active:
            strategy = body.multitask_strategy
            if strategy == "reject":
                raise Conflict(f"thread {thread_id} has a run in progress", run_id=str(active[0]["run_id"]))
            if strategy in ("interrupt", "rollback"):
                for old in active:
                    old_id = str(old["run_id"])
                    if old["status"] == "pending":
                        if strategy == "rollback":
                            await runs_repo.delete(conn, old_id)
                        else:
                            await runs_repo.finish_unclaimed(conn, old_id, "interrupted")
                        await channels.notify(conn, EVENTS_CHANNEL, old_id)
                    else:
                        await runs_repo.mark_cancel(conn, old_id, strategy)
                        cancels.append(old_id)
        run = await runs_repo.insert_queued(conn, **fields)
        for old_id in cancels:
            await channels.notify(conn, CANCEL_CHANNEL, old_id)
    for old_id in cancels:
        if runtime.worker is not None:
            runtime.worker.cancel_run(old_id)
    # no local wake when it NOTIFYed: that reaches this process's workers too (once, so they claim once)
    if fields["channel"] is None:
        await runtime.broker.emit(RUNS_CHANNEL, str(run["run_id"]))
    log.info("run created", run_id=str(run["run_id"]), thread_id=thread_id, user_id=user.user_id)
    return run


async def _create_if_idle(
    runtime: Runtime, fields: dict[str, Any], *, create: bool, new_thread_metadata: dict[str, Any],
    expect_version: str | None = None,
) -> dict[str, Any] | None:
    """The run queued in one statement if its thread is new or idle (``persistence.runs.CREATE_IF_IDLE``), else
    None with nothing written. With a cap on queued runs, the user's queue lock is taken in the statement before,
    in the same transaction (lock order: user, then thread)."""
    cap = queued_runs_cap(runtime.settings)
    new_thread_metadata = {**new_thread_metadata, **fields["thread_metadata"]}
    if cap is None:
        async with runtime.db.connection() as conn:  # one statement: atomic on its own
            return await runs_repo.create_if_idle(conn, **fields, create=create, cap=None,
                                                  new_thread_metadata=new_thread_metadata,
                                                  expect_version=expect_version)
    async with runtime.db.transaction() as conn:
        await lock_user_queue(conn, fields["user_id"])
        return await runs_repo.create_if_idle(conn, **fields, create=create, cap=cap,
                                              new_thread_metadata=new_thread_metadata,
                                              expect_version=expect_version)


async def cancel_run(runtime: Runtime, user: User, thread_id: str, run_id: str, action: str) -> dict[str, Any]:
    thread_id = valid_uuid(thread_id, "thread")
    run_id = valid_uuid(run_id, "run")
    notify = False
    async with runtime.db.transaction() as conn:
        await conn.execute(LOCK_THREAD, (thread_id,))  # lock order: thread, then run (persistence/runs_sql.py)
        run = await runs_repo.lock_for_cancel(conn, user.user_id, thread_id, run_id)
        if run is None:
            raise NotFound.of("run", run_id)
        if run["status"] in TERMINAL:
            raise Conflict(f"run {run_id} is not active (status {run['status']})", run_status=run["status"])
        if run["status"] == "pending":
            if action == "rollback":
                await runs_repo.delete(conn, run_id)
            else:
                await runs_repo.finish_unclaimed(conn, run_id, "interrupted")
            await conn.execute(SETTLE_THREAD, {"thread_id": thread_id, "status": "idle", "error": None, "values": None, "interrupts": None})
            await channels.notify(conn, EVENTS_CHANNEL, run_id)
        else:
            await runs_repo.mark_cancel(conn, run_id, action)
            await channels.notify(conn, CANCEL_CHANNEL, run_id)
            notify = True
    if notify and runtime.worker is not None:
        runtime.worker.cancel_run(run_id)
    if notify:
        await take_over_cancelled(runtime, run_id)  # its worker died (lease lapsed) and no worker took it over
    if not notify:
        runtime.broker.wake(run_id)
        await runtime.refresh_thread_status(thread_id)
    return dict(run)


async def take_over_cancelled(runtime: Runtime, run_id: str) -> bool:
    """Apply the cancel of a run whose worker died (lease lapsed) here, when no worker took it over yet: claim it
    with a new fencing token and let the executor finish the cancel (it checks ``cancel_action`` before running
    anything). Answers whether this process did."""
    import os
    import socket
    import time

    from engine.execution import Execution
    from engine.executor import execute

    lease = runtime.settings.lease_seconds
    sent = time.monotonic()
    row = await runtime.db.fetchone(
        TAKE_OVER_CANCELLED,
        {"owner": f"{socket.gethostname()}:{os.getpid()}:cancel", "lease": lease, "run_id": run_id},
    )
    if row is None:
        return False
    log.info("applying the cancel of an orphaned run", run_id=run_id, thread_id=str(row["thread_id"]))
    await execute(runtime, Execution(row, lease_deadline=sent + lease))
    runtime.broker.wake(run_id)
    return True


async def wait_cancelled(runtime: Runtime, run_id: str) -> None:
    """Wait until a cancelled run ended (``cancel?wait=true``). If its worker is dead and no worker takes it over,
    this process applies the cancel itself once the lease lapsed, so the wait ends without a live worker."""
    lapse_check = max(0.2, min(2.0, runtime.settings.lease_seconds / 3))
    while True:
        try:
            await asyncio.wait_for(join_run(runtime, run_id), timeout=lapse_check)
            return
        except TimeoutError:
            pass
        async with runtime.db.connection() as conn:
            orphaned = await runs_repo.is_orphaned(conn, run_id)
        if orphaned:
            await take_over_cancelled(runtime, run_id)


async def join_run(runtime: Runtime, run_id: str, *, just_created: bool = False) -> dict[str, Any] | None:
    """Wait until the run is no longer pending or running; return its row, with its thread's values as
    ``thread_values`` / ``thread_interrupts`` (None if the run was deleted). For a run this process executed, the
    executor hands over what it committed as the run's end (``runtime.outcomes``: ``run_id``, ``thread_id``,
    ``status``, ``error``, ``thread_values``, ``thread_interrupts``) and nothing is read.

    ``just_created``: the caller queued the run a moment ago, so the first read is skipped; the wait starts
    at once (a run that ended before this subscribed is still found by the periodic re-read).
    """
    with runtime.broker.subscribe(run_id) as ev, runtime.outcomes.expect(run_id):
        check = not just_created
        while True:
            ev.clear()
            outcome = runtime.outcomes.get(run_id)
            if outcome is not None:
                return outcome
            if check:
                async with runtime.db.connection() as conn:
                    row = await runs_repo.with_thread_values(conn, run_id)
                if row is None or row["status"] in TERMINAL:
                    return row
            try:
                await asyncio.wait_for(ev.wait(), timeout=5.0)
                # Woken by a flush of events. A run this process executes cannot have ended before its
                # executor returned (the worker wakes the run once more then), so skip the read until then.
                check = runtime.worker is None or run_id not in runtime.worker.running
            except TimeoutError:
                check = True
