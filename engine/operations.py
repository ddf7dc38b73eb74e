"""Operational background work of every clew process: metrics hooks, worker heartbeats, the retention loop.

Registered as runtime start/stop hooks (like the configuration service and the knowledge base), so both
``clew serve`` and ``clew worker`` get them without the runtime importing this module's dependencies:

- the run hooks of ``engine/metrics.py`` (runs started/finished, duration, attempts, claim latency);
- a heartbeat row in ``worker_heartbeats`` every ``HEARTBEAT_SECONDS`` for a process with worker slots
  (read by ``/ready``, the ``clew_workers_alive`` metric and ``clew doctor``), removed on a clean stop;
- the retention job (``engine/retention.py``) every ``CLEW_RETENTION_INTERVAL_SECONDS``; the advisory lock
  makes every process but one skip a pass.
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING

import structlog

from engine import metrics
from engine.retention import RetentionContext, run_retention
from persistence import metrics_sql

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.operations")

HEARTBEAT_SECONDS = 10.0
# the first pass waits a little, so start-up (and a test's first requests) are not competing with it
RETENTION_FIRST_DELAY = 30.0


async def _heartbeats(runtime: Runtime) -> None:
    while True:
        worker = runtime.worker
        if worker is not None:
            try:
                async with runtime.db.connection() as conn:
                    await metrics_sql.heartbeat(conn, {
                        "worker_id": worker.worker_id, "kind": "worker" if runtime.services.get("kind") ==
                        "worker" else "serve", "hostname": socket.gethostname(), "pid": os.getpid(),
                        "slots": worker.slots, "running": len(worker.running)})
            except Exception as exc:
                log.warning("heartbeat failed", error=str(exc))
        await asyncio.sleep(HEARTBEAT_SECONDS if worker is not None else 0.5)


async def _retention(runtime: Runtime) -> None:
    interval = runtime.settings.retention_interval_seconds
    if interval <= 0:
        return
    await asyncio.sleep(min(interval, RETENTION_FIRST_DELAY))
    while True:
        try:
            ctx = RetentionContext(runtime.settings, runtime.db, runtime.saver, runtime.knowledge)
            await run_retention(ctx)
        except Exception as exc:
            log.warning("retention pass failed", error=str(exc))
        await asyncio.sleep(interval)


async def start_operations(runtime: Runtime) -> None:
    metrics.install(runtime)
    runtime._tasks.append(asyncio.create_task(_heartbeats(runtime), name="clew-heartbeat-row"))
    runtime._tasks.append(asyncio.create_task(_retention(runtime), name="clew-retention"))


async def stop_operations(runtime: Runtime) -> None:
    worker = runtime.worker
    if worker is not None:
        async with runtime.db.connection() as conn:
            await metrics_sql.forget_worker(conn, worker.worker_id)


def register_hooks() -> None:
    from engine.runtime import SHUTDOWN_HOOKS, STARTUP_HOOKS

    if start_operations not in STARTUP_HOOKS:
        STARTUP_HOOKS.append(start_operations)
        SHUTDOWN_HOOKS.insert(0, stop_operations)
