"""Per-request context: a request id, log fields bound for the request, request counts, an access log line.

Pure ASGI middleware (SSE streams pass through untouched). The id is the caller's ``X-Request-Id`` when it
is a short token of safe characters, else a new one; it is echoed in the response's ``X-Request-Id`` and
bound (structlog contextvars) as ``request_id`` to every log line written while the request is handled —
``user_id`` is added once the caller is identified (``api/deps.py``), ``run_id`` / ``thread_id`` where a run
is executed. Failed requests (status >= 400) are logged at info, the rest at debug.
"""

from __future__ import annotations

import re
import time
import uuid

import structlog
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from engine import metrics

log = structlog.get_logger("clew.http")
_SAFE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")


class RequestContextMiddleware:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = next((v.decode("latin-1") for k, v in scope["headers"] if k == b"x-request-id"), "")
        request_id = incoming if _SAFE_ID.match(incoming) else uuid.uuid4().hex
        structlog.contextvars.clear_contextvars()
        structlog.contextvars.bind_contextvars(request_id=request_id)
        started = time.monotonic()
        status = 500

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
                message = {**message, "headers": [*message.get("headers", []),
                                                  (b"x-request-id", request_id.encode())]}
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        finally:
            metrics.HTTP_REQUESTS.labels(scope["method"], f"{status // 100}xx").inc()
            fields = {"method": scope["method"], "path": scope["path"], "status": status,
                      "duration_ms": round((time.monotonic() - started) * 1000, 1)}
            if status >= 400:
                log.info("request", **fields)
            else:
                log.debug("request", **fields)
