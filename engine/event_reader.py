"""Following a run's persisted events: the one loop that the SSE stream and ``clew research`` both use.

A reader subscribes to the run's wake-ups first, then reads ``run_events`` after the last seq it saw, so an
event committed between the read and the wait still wakes it: no gap, no duplicate, no sleep-polling (the
writer, ``engine/events.py``, wakes local readers directly and other processes through NOTIFY). The loop ends
after the ``end`` event; joined at or after its ``end`` it ends at once; and a run deleted without a final
event (rolled back) is noticed at the next re-check and ends with a stand-in ``end``. Since events live in
Postgres, a reader in any process can start after any seq (a reconnect's ``Last-Event-ID``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from persistence import runs as runs_repo

if TYPE_CHECKING:
    from engine.broker import Broker
    from persistence.db import Database

# How long a reader waits for a wake-up before it checks that the run still exists.
RECHECK_SECONDS = 5.0
# Events per read.
READ_LIMIT = 500


async def follow_run(
    db: Database,
    broker: Broker,
    run_id: str,
    after: int = 0,
    *,
    woken: asyncio.Event | None = None,
    recheck: float = RECHECK_SECONDS,
) -> AsyncIterator[list[dict[str, Any]]]:
    """The run's events after seq ``after``, one batch (rows ``{seq, event, data}``, ``data`` as stored JSON
    text) per read, until the batch that ends with ``end``.

    ``woken``: an event the caller also hands to other sources of wake-ups (a configuration watch, say);
    a read after such a wake-up may find nothing new, and its empty batch is yielded too, so the caller gets
    control after each wake-up. A run that is gone is ended with ``{seq: last + 1, event: "end", data: "null"}``."""
    last = after
    first = True
    with broker.subscribe(run_id, woken) as wake:
        while True:
            wake.clear()
            async with db.connection() as conn:
                rows = await runs_repo.read_events(conn, run_id, last, READ_LIMIT)
                if first and not rows and await runs_repo.has_ended(conn, run_id):
                    # joined at or after its `end` (a run writes `end` with its final status): nothing follows
                    return
            first = False
            for i, row in enumerate(rows):
                last = int(row["seq"])
                if row["event"] == "end":
                    yield rows[: i + 1]
                    return
            yield rows
            if len(rows) >= READ_LIMIT:  # a full page: more may be there without a wake-up
                continue
            # else wait: every commit after this read's `clear` has set `wake` (the writer wakes after its commit),
            # so a wait that returns at once replaces the re-read that would find nothing (one statement fewer
            # per batch of events)
            try:
                await asyncio.wait_for(wake.wait(), timeout=recheck)
            except TimeoutError:
                # belt and braces: a run deleted (rolled back) without a final event still ends the loop
                async with db.connection() as conn:
                    run = await runs_repo.get_any(conn, run_id)
                if run is None:
                    yield [{"seq": last + 1, "event": "end", "data": "null"}]
                    return
