"""The event log writer: stream events of every run of this process appended to ``run_events`` in shared batches.

Token chunks arrive one per token and a graph step yields several events, so writing each event, or even each
run's events, with its own statement would cost a round trip (and a commit) per event. One :class:`EventLog`
per process buffers the serialized events of all its runs and a single background task writes whatever has
accumulated in one statement, as soon as the previous write is done: when idle an event waits for at most one
round trip, and under load the batches grow by themselves across runs. A run's events are only ever in one
write at a time, so they commit in order and a reader that saw event n never misses event n-1.

Each run writes through its :class:`EventWriter`. The insert of a run's events only happens while that run's
fencing token is current (the run rows are locked ``FOR SHARE`` in run-id order, so a takeover waits for a
write in flight), so a stalled former owner cannot append; such a run's writer then raises
:class:`FencedOut`. After each write local readers are woken directly and other processes through NOTIFY (sent
only while another clew process listens, see ``engine/broker.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

import structlog

from engine import metrics
from engine.broker import Broker
from engine.serde import dumps
from persistence.channels import EVENTS_CHANNEL
from persistence.checkpointer import FencedOut
from persistence.db import retrying
from persistence.runs_sql import INSERT_EVENTS_BATCH, INSERT_RUN_EVENTS

if TYPE_CHECKING:
    from persistence.db import Conn, Database

log = structlog.get_logger("clew.events")


class EventWriter:
    """One run's view of the event log: numbers its events and waits for them to be written."""

    def __init__(self, log_: EventLog, run_id: str, token: int, last_seq: int) -> None:
        self._log = log_
        self.run_id = run_id
        self.token = token
        self.seq = last_seq
        self._buffer: list[tuple[int, str, str]] = []
        self._idle = asyncio.Event()
        self._idle.set()
        self._error: BaseException | None = None
        self._closed = False
        self._first_at = 0.0  # when the oldest event not yet handed to the log was added (metrics)

    def add(self, event: str, data: Any) -> None:
        if self._error is not None:
            raise self._error
        self.seq += 1
        if not self._buffer:
            self._first_at = time.monotonic()
        self._buffer.append((self.seq, event, data if isinstance(data, str) else dumps(data)))
        self._idle.clear()
        self._log.ready(self)

    def take(self) -> list[tuple[int, str, str]]:
        """Remove and return everything not yet handed to the log (written by the caller in its own statement)."""
        batch, self._buffer = self._buffer, []
        return batch

    async def flush(self) -> None:
        """Wait until everything added so far is written (raises if a write failed or the run was fenced out)."""
        await self._idle.wait()
        if self._error is not None:
            raise self._error

    async def close(self) -> None:
        """Stop writing: events not yet handed to the log are dropped (call :meth:`flush` first to keep them)."""
        self._closed = True
        self._buffer = []
        self._idle.set()

    # called by the log
    def _written(self) -> None:
        if not self._buffer:
            self._idle.set()

    def _failed(self, exc: BaseException) -> None:
        self._error = exc
        self._buffer = []
        self._idle.set()


class EventLog:
    """The process's event-log writer task (see the module docstring)."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker
        self._ready: dict[str, EventWriter] = {}
        self._signal = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def writer(self, run_id: str, token: int, last_seq: int) -> EventWriter:
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._loop(), name="clew-event-log")
        return EventWriter(self, run_id, token, last_seq)

    def ready(self, writer: EventWriter) -> None:
        self._ready[writer.run_id] = writer
        self._signal.set()

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _loop(self) -> None:
        while True:
            await self._signal.wait()
            self._signal.clear()
            writers, self._ready = self._ready, {}
            batch: list[tuple[EventWriter, list[tuple[int, str, str]]]] = []
            for w in writers.values():
                if not w._closed and w._error is None and (events := w.take()):
                    batch.append((w, events))
                else:
                    w._written()
            if batch:
                await self._write(batch)

    async def _write(self, batch: list[tuple[EventWriter, list[tuple[int, str, str]]]]) -> None:
        params: dict[str, Any] = {"run_ids": [], "tokens": [], "seqs": [], "events": [], "datas": [],
                                  "channel": self.broker.channel(EVENTS_CHANNEL)}
        for w, events in batch:
            for seq, event, data in events:
                params["run_ids"].append(w.run_id)
                params["tokens"].append(w.token)
                params["seqs"].append(seq)
                params["events"].append(event)
                params["datas"].append(data)

        async def once() -> set[str]:
            async with self.db.connection() as conn:  # a single statement: atomic on its own
                cur = await conn.execute(INSERT_EVENTS_BATCH, params)
                return {str(r["run_id"]) for r in await cur.fetchall()}

        started = min(w._first_at for w, _ in batch)  # the batch's delay: oldest event added → written
        try:
            # a connection lost with a restarted Postgres is retried on a fresh one until the database is back
            # (bounded); repeating is harmless: rows already committed are skipped (ON CONFLICT DO NOTHING)
            owned: set[str] | None = await retrying(once, within=30.0, what="event write")
        except Exception as exc:  # noqa: BLE001 - surfaced to each run via add/flush
            log.exception("event write failed", runs=[w.run_id for w, _ in batch])
            for w, _ in batch:
                w._failed(exc)
            return
        assert owned is not None
        metrics.event_batch(len(params["seqs"]), started)
        for w, _ in batch:
            if w.run_id in owned:
                self.broker.wake(w.run_id)
                w._written()
            else:
                metrics.FENCED_WRITES.labels("events").inc()
                w._failed(FencedOut(f"run {w.run_id}: lease lost while writing events"))


async def write_events(conn: Conn, run_id: str, token: int, batch: list[tuple[int, str, str]]) -> None:
    """Append one run's ``batch`` in the caller's transaction (a rollback's last events), if ``token`` still
    owns the run; raises :class:`FencedOut` if it does not."""
    cur = await conn.execute(
        INSERT_RUN_EVENTS,
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
