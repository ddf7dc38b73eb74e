"""Operations routes: ``/ready`` (readiness with each check's result) and ``/metrics`` (Prometheus).

``/ok`` (``api/routers/system.py``) is the liveness probe. ``/ready`` answers 200 only when the database
answers, every migration file is applied, the LISTEN connection is up, the vector store answers (when this
process has the knowledge base open, or a Qdrant server is configured) and at least one worker process sent
a heartbeat in the last 30 s; otherwise 503 with the failing checks named. ``/metrics`` is open with auth off
or ``CLEW_METRICS_PUBLIC``, else it needs an administrator's credentials (a Prometheus bearer token).
"""

from __future__ import annotations

from fastapi import APIRouter, Request, Response

from api.deps import RuntimeDep, current_user
from api.errors import ApiError
from api.responses import JSON
from engine import metrics
from engine.operations import readiness

router = APIRouter(tags=["system"])

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
