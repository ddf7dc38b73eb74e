"""Operational background work of every clew process: metrics hooks, worker heartbeats, the retention loop.

:class:`Operations` is one of the runtime's subsystems (``runtime.operations``, started by
``Runtime.start`` in both ``clew serve`` and ``clew worker``):

- the run hooks of ``engine/metrics.py`` (runs started/finished, duration, attempts, claim latency);
- a heartbeat row in ``worker_heartbeats`` every ``HEARTBEAT_SECONDS`` for a process with worker slots
  (read by ``/ready``, the ``clew_workers_alive`` metric and ``clew doctor``), removed on a clean stop;
- the retention job (``engine/retention.py``) every ``CLEW_RETENTION_INTERVAL_SECONDS``; the advisory lock
  makes every process but one skip a pass.

:func:`readiness` is the readiness check behind ``/ready`` of ``clew serve`` (``api/routers/ops.py``) and of
``clew worker``'s metrics port (``cli/ops.py``).
"""

from __future__ import annotations

import asyncio
import os
import socket
from typing import TYPE_CHECKING, Any

import structlog

from engine import metrics
from engine.retention import RetentionContext, run_retention
from persistence import metrics_sql
from persistence.migrations import migration_files

if TYPE_CHECKING:
    from engine.runtime import Runtime

log = structlog.get_logger("clew.operations")

HEARTBEAT_SECONDS = 10.0
# the first pass waits a little, so start-up (and a test's first requests) are not competing with it
RETENTION_FIRST_DELAY = 30.0
WORKER_HEARTBEAT_WINDOW = 30.0


async def readiness(runtime: Any) -> dict[str, dict[str, Any]]:
    """Each check's ``{"ok": bool, "detail": str}``."""
    checks: dict[str, dict[str, Any]] = {}
    try:
        async with asyncio.timeout(5):
            async with runtime.db.connection() as conn:
                applied = await metrics_sql.applied_migrations(conn)
                workers = await metrics_sql.live_workers(conn, WORKER_HEARTBEAT_WINDOW)
        checks["database"] = {"ok": True, "detail": "answers"}
        missing = sorted({v for v, _, _ in migration_files()} - applied)
        checks["migrations"] = {"ok": not missing, "detail": f"missing {missing}" if missing else "all applied"}
        checks["workers"] = {"ok": workers > 0, "detail": f"{workers} worker process(es) alive"
                             if workers else "no worker heartbeat in the last 30 s: start `clew worker` or "
                             "serve with --workers > 0"}
    except Exception as exc:
        checks["database"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    checks["listener"] = {"ok": runtime.listener.listening,
                          "detail": "listening" if runtime.listener.listening else "reconnecting"}
    kb = runtime.knowledge
    if kb is not None:
        try:
            async with asyncio.timeout(5):
                await kb.store.other_collections()
            checks["vector_store"] = {"ok": True, "detail": f"collection {kb.store.collection}"}
        except Exception as exc:
            checks["vector_store"] = {"ok": False, "detail": f"{type(exc).__name__}: {exc}"}
    elif runtime.settings.qdrant_url:
        checks["vector_store"] = {"ok": False, "detail": f"Qdrant at {runtime.settings.qdrant_url} not reachable"}
    else:
        checks["vector_store"] = {"ok": True, "detail": "embedded store owned by another process"}
    return checks


async def _heartbeats(runtime: Runtime) -> None:
    while True:
        worker = runtime.worker
        if worker is not None:
            try:
                async with runtime.db.connection() as conn:
                    await metrics_sql.heartbeat(conn, {
                        "worker_id": worker.worker_id, "kind": "worker" if runtime.kind == "worker" else "serve",
                        "hostname": socket.gethostname(), "pid": os.getpid(),
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


class Operations:
    """The run metrics' hooks and the heartbeat and retention tasks of one runtime."""

    def __init__(self, runtime: Runtime) -> None:
        self.runtime = runtime

    def start(self) -> None:
        runtime = self.runtime
        metrics.install(runtime)
        runtime._tasks.append(asyncio.create_task(_heartbeats(runtime), name="clew-heartbeat-row"))
        runtime._tasks.append(asyncio.create_task(_retention(runtime), name="clew-retention"))

    async def stop(self) -> None:
        """Remove this process's heartbeat row (a clean stop; the tasks are cancelled with the runtime's)."""
        worker = self.runtime.worker
        if worker is not None:
            async with self.runtime.db.connection() as conn:
                await metrics_sql.forget_worker(conn, worker.worker_id)
