"""The per-run event log writer: batches stream events into ``run_events`` under the run's fencing token.

Token chunks arrive one per token; writing each with its own INSERT would cost a round trip per token. The
writer buffers serialized events and a background task flushes them in one ``INSERT … SELECT unnest(…)``
as soon as the previous flush is done, so under load batches grow by themselves and when idle an event waits
for at most one round trip. The insert only happens while the run's fencing token is current, so a
stalled former owner cannot append. After each flush local readers are woken directly and other processes
through NOTIFY.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

import structlog

from engine.broker import EVENTS_CHANNEL, Broker
from engine.serde import dumps
from persistence.checkpointer import FencedOut
from persistence.runs_sql import INSERT_EVENTS

if TYPE_CHECKING:
    from persistence.db import Conn, Database

log = structlog.get_logger("clew.events")


class EventWriter:
    def __init__(self, db: Database, broker: Broker, run_id: str, token: int, last_seq: int) -> None:
        self.db = db
        self.broker = broker
        self.run_id = run_id
        self.token = token
        self.seq = last_seq
        self._buffer: list[tuple[int, str, str]] = []
        self._pending = asyncio.Event()
        self._idle = asyncio.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name=f"clew-events-{self.run_id}")

    def add(self, event: str, data: Any) -> None:
        if self._error is not None:
            raise self._error
        self.seq += 1
        self._buffer.append((self.seq, event, data if isinstance(data, str) else dumps(data)))
        self._idle.clear()
        self._pending.set()

    def take(self) -> list[tuple[int, str, str]]:
        """Remove and return everything not yet written (used to write the last events in a transaction)."""
        batch, self._buffer = self._buffer, []
        return batch

    async def flush(self) -> None:
        """Wait until everything added so far is written (raises if a write failed)."""
        await self._idle.wait()
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await self._pending.wait()
            self._pending.clear()
            batch = self.take()
            if batch:
                try:
                    async with self.db.connection() as conn:  # a single statement: no transaction needed
                        await write_events(conn, self.run_id, self.token, batch)
                except BaseException as exc:  # noqa: BLE001 - surfaced to the executor via add/flush
                    if isinstance(exc, asyncio.CancelledError):
                        raise
                    self._error = exc
                    self._idle.set()
                    return
                self.broker.wake(self.run_id)
            if not self._buffer:
                self._idle.set()


async def write_events(conn: Conn, run_id: str, token: int, batch: list[tuple[int, str, str]]) -> None:
    """Append ``batch`` (on its own, or in the caller's transaction) if ``token`` still owns the run; the
    NOTIFY to other processes goes out with the same statement, on commit."""
    cur = await conn.execute(
        INSERT_EVENTS,
        {
            "run_id": run_id,
            "token": token,
            "seqs": [b[0] for b in batch],
            "events": [b[1] for b in batch],
            "datas": [b[2] for b in batch],
            "channel": EVENTS_CHANNEL,
        },
    )
    row = await cur.fetchone()
    written = int(row["written"] if isinstance(row, dict) else row[0]) if row else 0
    if written != len(batch):
        raise FencedOut(f"run {run_id}: lease lost while writing events")
