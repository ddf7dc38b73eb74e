"""Request limits: a body-size limit, and JSON values clew could store but not read back, refused up front.

:class:`RequestLimits` is a pure ASGI middleware (no buffering framework of its own, so SSE responses pass
through untouched). For every request it:

- refuses a body larger than ``max_body_bytes`` (setting ``CLEW_MAX_BODY_BYTES``, default 8 MiB) with **413**
  and a JSON error body — announced by ``Content-Length`` or found while the body is read. ``multipart/form-data``
  uploads are left to their route, which has its own, larger limit (``knowledge_max_upload_bytes``);
- refuses a NUL character in the path or query string with **422** (Postgres ``text`` cannot hold it);
- reads a JSON body once and refuses with **422**, before any route runs (so nothing is written), a value
  that would be stored and then fail to read back or fail in the database:
  integers outside ``[-2**63, 2**64 - 1]`` (orjson, which answers every request, cannot write them: a thread
  whose metadata held one would break every listing of its owner's threads), ``NaN`` / ``Infinity`` and floats
  that overflow to infinity (``jsonb`` refuses them), strings with NUL characters or unpaired UTF-16 surrogates
  (neither ``jsonb`` nor UTF-8 can hold them), and nesting deeper than ``MAX_DEPTH``;
  the body is then handed on unchanged.

Invalid JSON is left to the route (FastAPI answers 422 ``json_invalid``). The checks themselves, and the
per-field limits of request fields that end up in a row (:data:`Metadata`, :data:`Label`, :data:`StoreKey`),
are in ``domain/values.py``: the run-creation models below the API use them too.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import structlog

from domain.values import InvalidValue, parse_json

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("clew.api")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
# --- the middleware -----------------------------------------------------------------------------------------

def _error(status: int, error: str, detail: str) -> tuple[int, bytes]:
    return status, json.dumps({"detail": detail, "error": error}).encode()


class RequestLimits:
    """ASGI middleware enforcing the body-size limit and the storable-JSON rule (see the module docstring)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if "\x00" in scope.get("path", "") or b"%00" in scope.get("query_string", b""):
            await self._refuse(scope, send, *_error(422, "invalid", "the URL may not contain the NUL character"))
            return
        headers = {k.lower(): v for k, v in scope.get("headers", [])}
        content_type = headers.get(b"content-type", b"").decode("latin-1").lower()
        if content_type.startswith("multipart/form-data"):
            await self.app(scope, receive, send)  # uploads: the route counts against its own limit
            return
        length = headers.get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.max_body_bytes:
            await self._refuse(scope, send, *self._too_large())
            return
        if scope.get("method") in ("GET", "HEAD", "OPTIONS") and length is None:
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                await self._refuse(scope, send, *self._too_large())
                return
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        body = b"".join(chunks)
        if body and ("json" in content_type or not content_type):
            try:
                parse_json(body)
            except InvalidValue as exc:
                await self._refuse(scope, send, *_error(422, "invalid", str(exc)))
                return
            except ValueError:
                pass  # not JSON: the route says so (422 json_invalid)
        sent = False

        async def replay() -> Message:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    def _too_large(self) -> tuple[int, bytes]:
        return _error(413, "too_large", f"request body larger than {self.max_body_bytes} bytes "
                                        "(setting CLEW_MAX_BODY_BYTES)")

    @staticmethod
    async def _refuse(scope: Scope, send: Send, status: int, body: bytes) -> None:
        # logged like every other 4xx (api.errors.log_rejection); no route matched yet and no user is known
        log.info("request rejected", method=scope.get("method"), route=None,
                 path=str(scope.get("path", "")).replace("\x00", "\\u0000")[:200], status=status,
                 error=json.loads(body).get("error"), user_id=None)
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body})
