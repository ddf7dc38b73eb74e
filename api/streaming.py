"""SSE delivery of a run's persisted events.

A run's stream is the event log's reader (``engine.event_reader.follow_run``: subscribe to the run's wake-ups,
then read ``run_events`` after the last id sent; no gap, no duplicate, no sleep-polling) as SSE. The stream
ends after the ``end`` event, or when the run is gone (rolled back). ``Last-Event-ID`` resumes after that id
(``-1`` or nothing: from the start), in any API process, since events live in Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from engine import metrics
from engine.event_reader import RECHECK_SECONDS, follow_run
from persistence import runs as runs_repo
from persistence.channels import RUNS_CHANNEL

if TYPE_CHECKING:
    from engine.runtime import Runtime

HEARTBEAT_SECONDS = 5.0


def parse_last_event_id(value: str | None) -> int:
    if not value:
        return 0
    try:
        seq = int(value)
    except ValueError:
        return 0
    return max(seq, 0)


def _config_watch(runtime: Runtime, user_id: str | None, woken: asyncio.Event) -> Any:
    """The configuration service's watch for ``user_id`` (sets ``woken`` on a change), or nothing."""
    if not user_id:
        return contextlib.nullcontext(None)
    return runtime.config.watch(user_id, woken)


async def run_events(
    runtime: Runtime, run_id: str, after: int, user_id: str | None = None
) -> AsyncIterator[ServerSentEvent]:
    """The run's events after ``after``; with ``user_id``, also a ``config_updated`` event (not persisted,
    no id) whenever that user's configuration changes while the stream is open."""
    woken = asyncio.Event()
    with _config_watch(runtime, user_id, woken) as config:
        async for rows in follow_run(runtime.db, runtime.broker, run_id, after, woken=woken):
            for row in rows:
                yield ServerSentEvent(data=row["data"], event=row["event"], id=str(row["seq"]))
                if row["event"] == "end":
                    return
            if config is not None:
                for change in config.drain():
                    yield ServerSentEvent(data=json.dumps(change, default=str), event="config_updated")


# --- the thread's stream: every run of the thread, in order, replayed and live -------------------------------

NEW_RUN_KEY = "clew:new-run"  # woken by every run announcement (RUNS_CHANNEL), for thread streams
_hooked: weakref.WeakSet[Any] = weakref.WeakSet()


def _watch_new_runs(runtime: Runtime) -> None:
    if runtime.broker not in _hooked:
        broker = runtime.broker
        broker.on(RUNS_CHANNEL, lambda _payload: broker.wake(NEW_RUN_KEY))
        _hooked.add(broker)


def parse_thread_event_id(value: str | None) -> tuple[str, int] | None:
    """A thread stream's ``Last-Event-ID``: ``"<run_id>:<seq>"`` resumes after that event; ``-1`` or ``0``
    replays every run of the thread; nothing means "from now on". Raises ValueError when malformed."""
    if value is None or value == "":
        return None
    if value in ("-1", "0"):
        return ("", 0)
    run_id, sep, seq = value.rpartition(":")
    if not sep:
        raise ValueError(value)
    return (str(uuid.UUID(run_id)), int(seq))


async def thread_events(
    runtime: Runtime, thread_id: str, position: tuple[str, int] | None
) -> AsyncIterator[ServerSentEvent]:
    """The events of the thread's runs in order, each with id ``"<run_id>:<seq>"``; a run's ``end`` becomes
    ``metadata {"status": "run_done", "run_id"}`` (as the reference server sends) and the stream stays open
    for the next run. ``position``: see :func:`parse_thread_event_id`."""
    _watch_new_runs(runtime)
    sent: dict[str, int] = {}  # run_id -> last seq sent (or skipped)
    done: set[str] = set()
    first = True
    woken = asyncio.Event()
    with contextlib.ExitStack() as subscriptions:
        subscriptions.enter_context(runtime.broker.subscribe(NEW_RUN_KEY, woken))
        watched: set[str] = set()
        while True:
            woken.clear()
            async with runtime.db.connection() as conn:
                runs = await runs_repo.list_for_stream(conn, thread_id)
            if first:
                first = False
                if position is None:  # from now on: what the runs already sent is skipped
                    for r in runs:
                        sent[r["run_id"]] = int(r["last_seq"])
                        if r["status"] not in ("pending", "running"):
                            done.add(r["run_id"])
                elif position[0]:
                    ids = [r["run_id"] for r in runs]
                    before = ids[: ids.index(position[0])] if position[0] in ids else []
                    done.update(before)
                    sent[position[0]] = position[1]
            progressed = False
            for r in runs:
                run_id = r["run_id"]
                if run_id in done:
                    continue
                if run_id not in watched:
                    subscriptions.enter_context(runtime.broker.subscribe(run_id, woken))
                    watched.add(run_id)
                async with runtime.db.connection() as conn:
                    rows = await runs_repo.read_events(conn, run_id, sent.get(run_id, 0))
                ended = False
                for row in rows:
                    seq = int(row["seq"])
                    sent[run_id] = seq
                    progressed = True
                    ident = f"{run_id}:{seq}"
                    if row["event"] == "end":
                        ended = True
                        yield ServerSentEvent(data=json.dumps({"status": "run_done", "run_id": run_id}),
                                              event="metadata", id=ident)
                        break
                    yield ServerSentEvent(data=row["data"], event=row["event"], id=ident)
                if ended or (not rows and r["status"] not in ("pending", "running")
                             and sent.get(run_id, 0) >= int(r["last_seq"])):
                    done.add(run_id)
                    continue
                break  # this run is still going: later runs wait their turn
            if progressed:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=RECHECK_SECONDS)


def thread_sse_response(runtime: Runtime, thread_id: str, position: tuple[str, int] | None) -> EventSourceResponse:
    async def gen() -> AsyncIterator[ServerSentEvent]:
        metrics.SSE_STREAMS.inc()
        try:
            async for event in thread_events(runtime, thread_id, position):
                yield event
        finally:
            metrics.SSE_STREAMS.dec()

    return EventSourceResponse(
        gen(),
        ping=int(HEARTBEAT_SECONDS),
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
    )


def sse_response(
    runtime: Runtime,
    run_id: str,
    after: int,
    *,
    headers: dict[str, str] | None = None,
    on_disconnect: Callable[[], Awaitable[None]] | None = None,
    user_id: str | None = None,
) -> EventSourceResponse:
    async def gen() -> AsyncIterator[ServerSentEvent]:
        finished = False
        metrics.SSE_STREAMS.inc()
        try:
            async for event in run_events(runtime, run_id, after, user_id):
                yield event
            finished = True
        finally:
            metrics.SSE_STREAMS.dec()
            if not finished and on_disconnect is not None:
                # the client went away mid-run: fire and forget (the request's task is being torn down)
                task = asyncio.get_running_loop().create_task(on_disconnect())
                _background.add(task)
                task.add_done_callback(_background.discard)

    return EventSourceResponse(
        gen(),
        headers=headers,
        ping=int(HEARTBEAT_SECONDS),
        ping_message_factory=lambda: ServerSentEvent(comment="heartbeat"),
    )


_background: set[asyncio.Task[None]] = set()
