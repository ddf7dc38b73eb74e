"""SSE delivery of a run's persisted events.

A reader subscribes to the run's wake-ups first, then reads ``run_events`` after the last id it sent, so an
event committed between the read and the wait still wakes it: no gap, no duplicate, no sleep-polling. The
stream ends after the ``end`` event, or when the run is gone (rolled back). ``Last-Event-ID`` resumes after
that id (``-1`` or nothing: from the start), in any API process, since events live in Postgres.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from sse_starlette import EventSourceResponse, ServerSentEvent

from engine import metrics
from persistence import runs as runs_repo

if TYPE_CHECKING:
    from engine.runtime import Runtime

HEARTBEAT_SECONDS = 5.0
RECHECK_SECONDS = 5.0


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
    service = runtime.services.get("config") if user_id else None
    if service is None:
        return contextlib.nullcontext(None)
    return service.watch(user_id, woken)


async def run_events(
    runtime: Runtime, run_id: str, after: int, user_id: str | None = None
) -> AsyncIterator[ServerSentEvent]:
    """The run's events after ``after``; with ``user_id``, also a ``config_updated`` event (not persisted,
    no id) whenever that user's configuration changes while the stream is open."""
    last = after
    first = True
    with runtime.broker.subscribe(run_id) as woken, _config_watch(runtime, user_id, woken) as config:
        while True:
            woken.clear()
            async with runtime.db.connection() as conn:
                rows = await runs_repo.read_events(conn, run_id, last)
                if first and not rows and await runs_repo.has_ended(conn, run_id):
                    # joined at or after its `end` (a run writes `end` with its final status): nothing follows
                    return
            first = False
            for row in rows:
                last = int(row["seq"])
                yield ServerSentEvent(data=row["data"], event=row["event"], id=str(last))
                if row["event"] == "end":
                    return
            if config is not None:
                for change in config.drain():
                    yield ServerSentEvent(data=json.dumps(change, default=str), event="config_updated")
            if rows:
                continue
            try:
                await asyncio.wait_for(woken.wait(), timeout=RECHECK_SECONDS)
            except TimeoutError:
                # belt and braces: a run deleted (rolled back) without a final event still ends the stream
                async with runtime.db.connection() as conn:
                    run = await runs_repo.get_any(conn, run_id)
                if run is None:
                    yield ServerSentEvent(data="null", event="end", id=str(last + 1))
                    return


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
