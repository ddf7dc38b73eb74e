"""Workers: claim runs from Postgres, keep their leases alive, execute them, hand them back on shutdown.

A worker process (``clew worker``, or the in-process workers of ``clew serve``) runs one :class:`Worker`
with N slots. It claims with ``FOR UPDATE SKIP LOCKED`` whenever a slot is free and something may be
claimable: once per run announced by NOTIFY (a run was created or handed back) or queued behind a run that
ended here, and every ``poll`` seconds until nothing is left, to pick up runs whose worker died (their lease
lapsed) and delayed retries. Claims that cannot succeed are statements the database runs for nothing, so
the worker does not keep claiming "until empty" after each announcement.
One heartbeat task renews the leases of all its runs; a run whose lease could not be renewed was taken over
by another worker and is stopped here without writing anything more.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import time
import uuid
from typing import TYPE_CHECKING, Any

import psycopg
import structlog

from engine.execution import Execution, StopReason
from engine.executor import execute
from engine.tracing import run_span
from persistence.runs_sql import CLAIM_RUN, OWNS_RUN, RENEW_LEASES

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.worker")


class Worker:
    def __init__(self, runtime: Runtime, slots: int) -> None:
        self.runtime = runtime
        self.slots = max(1, slots)
        self.worker_id = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self.running: dict[str, Execution] = {}
        # cancels that arrived while their run was being claimed here (claim committed, not yet launched):
        # applied at launch, so such a cancel is not lost. Bounded: most entries are runs of other workers.
        self._early_cancels: dict[str, None] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._wake = asyncio.Event()
        # how many claimable runs were announced (created, handed back, queued behind a finished run) and not
        # claimed yet: a claim is attempted per announcement, plus a sweep every `poll` seconds
        self._hints = 0
        self._stopping = False
        self._claim_sent = 0.0
        self._loop_task: asyncio.Task[None] | None = None
        self._beat_task: asyncio.Task[None] | None = None
        s = runtime.settings
        self.lease = s.lease_seconds
        self.poll = max(0.2, min(1.0, s.lease_seconds / 4))

    def start(self) -> None:
        self._loop_task = asyncio.create_task(self._loop(), name="clew-worker")
        self._beat_task = asyncio.create_task(self._heartbeat(), name="clew-heartbeat")
        log.info("worker started", worker=self.worker_id, slots=self.slots)

    def wake(self, announced: int = 1) -> None:
        """``announced`` runs may have become claimable (0: only look again, e.g. a slot freed up)."""
        self._hints += announced
        self._wake.set()

    def cancel_run(self, run_id: str) -> bool:
        execution = self.running.get(run_id)
        if execution is None:
            self._early_cancels[run_id] = None
            while len(self._early_cancels) > 1000:
                self._early_cancels.pop(next(iter(self._early_cancels)))
            return False
        execution.stop(StopReason.CANCEL)
        return True

    async def _claim(self) -> dict[str, Any] | None:
        for _ in range(5):
            self._claim_sent = time.monotonic()
            try:
                async with self.runtime.db.connection() as conn:  # one statement: atomic on its own
                    cur = await conn.execute(
                        CLAIM_RUN,
                        {"worker": self.worker_id, "lease": self.lease,
                         "timeout": self.runtime.settings.run_timeout_seconds},
                    )
                    return await cur.fetchone()
            except psycopg.errors.UniqueViolation:
                # another worker started a run on the same thread at the same moment
                continue
        return None

    async def _loop(self) -> None:
        sweep = True  # claim until nothing is left: at start and every `poll` (lapsed leases, delayed runs)
        while not self._stopping:
            self._wake.clear()
            try:
                while len(self.running) < self.slots and not self._stopping and (self._hints > 0 or sweep):
                    announced = self._hints
                    run = await self._claim()
                    if run is None:
                        # nothing claimable: forget the announcements seen so far (not those that came in
                        # while the claim ran, whose run its snapshot may have missed)
                        self._hints = max(0, self._hints - announced)
                        sweep = False
                        break
                    self._hints = max(0, self._hints - 1)
                    self._launch(run)
            except Exception as exc:
                log.warning("claim failed", error=str(exc))
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll)
            except TimeoutError:
                sweep = True

    def _launch(self, run: dict[str, Any]) -> None:
        execution = Execution(run, lease_deadline=self._claim_sent + self.lease)
        stale = self.running.get(execution.run_id)
        if stale is not None:  # claimed again here after its lease lapsed: the old execution is fenced out
            stale.stop(StopReason.FENCED)
        self.running[execution.run_id] = execution
        if execution.run_id in self._early_cancels:
            del self._early_cancels[execution.run_id]
            execution.stop(StopReason.CANCEL)
        if run["attempt"] > 1:
            log.info("resuming run", run_id=execution.run_id, attempt=run["attempt"])

        async def _go() -> None:
            try:
                with run_span(self.runtime, execution.run):  # OpenTelemetry (engine/tracing.py); off: no-op
                    await execute(self.runtime, execution)
            except asyncio.CancelledError:
                pass
            except Exception:
                log.exception("executor crashed", run_id=execution.run_id, thread_id=execution.thread_id)
            finally:
                # only this execution's entry: after a lease lapsed here (the database was away) this worker may
                # have claimed the run again, and that newer execution must keep its slot and its heartbeat
                if self.running.get(execution.run_id) is execution:
                    del self.running[execution.run_id]
                self.runtime.broker.wake(execution.run_id)  # joiners re-read the run now (see lifecycle.join_run)
                # a slot is free; the next run of the thread (if one is queued) is claimable now
                self.wake(1 if execution.next_queued else 0)

        task = asyncio.create_task(_go(), name=f"clew-exec-{execution.run_id}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _heartbeat(self) -> None:
        interval = self.lease / 3
        while True:
            await asyncio.sleep(interval)
            if not self.running:
                continue
            items = list(self.running.values())
            sent = time.monotonic()
            try:
                rows = await self.runtime.db.fetchall(
                    RENEW_LEASES,
                    {"lease": self.lease, "worker": self.worker_id,
                     "run_ids": [e.run_id for e in items], "tokens": [e.token for e in items]},
                )
            except Exception as exc:
                log.warning("lease renewal failed", error=str(exc))
                continue
            renewed = {str(r["run_id"]) for r in rows}
            for execution in items:
                if execution.run_id in renewed:
                    execution.lease_deadline = max(execution.lease_deadline, sent + self.lease)
            for execution in items:
                if execution.run_id not in renewed and execution.run_id in self.running:
                    # finished in between, or taken over by another worker: stop without writing
                    still = await self.runtime.db.fetchone(OWNS_RUN, (execution.run_id, execution.token))
                    if still is None and execution.run_id in self.running:
                        log.warning("lease lost", run_id=execution.run_id)
                        execution.stop(StopReason.FENCED)

    async def stop(self, grace: float) -> None:
        """Stop claiming; let runs reach their next super-step boundary, then hand them back."""
        self._stopping = True
        self._wake.set()
        if self._loop_task is not None:
            self._loop_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._loop_task
        for execution in list(self.running.values()):
            execution.drain_requested.set()
        if self._tasks:
            _, pending = await asyncio.wait(list(self._tasks), timeout=grace)
            for execution in list(self.running.values()):
                execution.stop(StopReason.SHUTDOWN)
            if pending:
                await asyncio.wait(pending, timeout=10)
        if self._beat_task is not None:
            self._beat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._beat_task
        log.info("worker stopped", worker=self.worker_id)
