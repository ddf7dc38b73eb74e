"""Operations routes: ``/ready`` (readiness with each check's result) and ``/metrics`` (Prometheus).

``/ok`` (``api/routers/system.py``) is the liveness probe. ``/ready`` answers 200 only when the database
answers, every migration file is applied, the LISTEN connection is up, the vector store answers (when this
process has the knowledge base open, or a Qdrant server is configured) and at least one worker process sent
a heartbeat in the last 30 s; otherwise 503 with the failing checks named. ``/metrics`` is open with auth off
or ``CLEW_METRICS_PUBLIC``, else it needs an administrator's credentials (a Prometheus bearer token).
"""

from __future__ import annotations

import asyncio
from typing import Any

from fastapi import APIRouter, Request, Response

from api.deps import RuntimeDep, current_user
from api.errors import ApiError
from api.responses import JSON
from engine import metrics
from persistence import metrics_sql
from persistence.migrations import migration_files

router = APIRouter(tags=["system"])

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


@router.get("/ready")
async def ready(runtime: RuntimeDep) -> Response:
    checks = await readiness(runtime)
    ok = all(c["ok"] for c in checks.values())
    return JSON({"status": "ready" if ok else "not_ready", "checks": checks}, status_code=200 if ok else 503)


@router.get("/metrics")
async def prometheus(request: Request, runtime: RuntimeDep) -> Response:
    s = runtime.settings
    if s.auth != "none" and not s.metrics_public:
        user = await current_user(request)
        if not user.is_admin:
            raise ApiError(403, "forbidden", "/metrics needs an administrator (or CLEW_METRICS_PUBLIC=true)")
    return Response(await metrics.render(runtime), media_type=metrics.CONTENT_TYPE)
