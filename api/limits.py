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

Invalid JSON is left to the route (FastAPI answers 422 ``json_invalid``). :data:`Metadata`, :data:`Label` and
:data:`StoreKey` are the per-field limits of request fields that end up in a row (threads', runs' and
assistants' ``metadata``, store namespaces and keys). Written here rather than taken from a library because
the checks are about what Postgres, psycopg and orjson accept, which no generic validator knows.
"""

from __future__ import annotations

import json
import math
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Annotated, Any

import structlog
from pydantic import AfterValidator

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

log = structlog.get_logger("clew.api")

DEFAULT_MAX_BODY_BYTES = 8 * 1024 * 1024
MIN_INT, MAX_INT = -(2**63), 2**64 - 1  # orjson's integer range (JSON responses are written with orjson)
MAX_DEPTH = 100

# per-field limits of values that end up in a row
MAX_METADATA_KEYS = 512
MAX_METADATA_BYTES = 64 * 1024
MAX_KEY_CHARS = 256  # a metadata key, a store namespace label
MAX_STORE_KEY_CHARS = 1024


class InvalidValue(ValueError):
    """A JSON value clew refuses to store; ``where`` is its path in the body (``metadata.n``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or 'body'}: {problem}")
        self.where = where


def _path(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _check_str(value: str, where: str) -> None:
    if "\x00" in value:
        raise InvalidValue(where, "text may not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(where, "text contains an unpaired UTF-16 surrogate") from None


def check_value(value: Any, where: str = "", depth: int = 0) -> None:
    """Raise :class:`InvalidValue` if ``value`` (parsed JSON) holds something clew cannot store and read back."""
    if depth > MAX_DEPTH:
        raise InvalidValue(where, f"nested more than {MAX_DEPTH} levels deep")
    if isinstance(value, str):
        _check_str(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidValue(where, f"integer out of range (allowed: {MIN_INT} to {MAX_INT})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(where, "number is not finite (NaN, Infinity or too large)")
        if value.is_integer() and not MIN_INT <= value <= MAX_INT:
            # jsonb keeps 1e300 as the integer 1000…0, which reads back as a Python int orjson cannot write
            raise InvalidValue(where, f"number out of range (allowed: {MIN_INT} to {MAX_INT} for whole numbers)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_str(key, _path(where, key[:40]))
            check_value(item, _path(where, key[:40]), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, _path(where, i), depth + 1)


def _constant(name: str) -> float:
    raise InvalidValue("", f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Parse a JSON body like the route will, refusing ``NaN``/``Infinity``; raises ``ValueError`` on bad JSON
    and :class:`InvalidValue` on a value clew refuses."""
    try:
        value = json.loads(body, parse_constant=_constant)
    except RecursionError:
        raise InvalidValue("", f"nested more than {MAX_DEPTH} levels deep") from None
    check_value(value)
    return value


# --- per-field limits (pydantic annotated types for the request models) -------------------------------------

def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys (got {len(value)})")
    for key in value:
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"key {key[:40]!r}…: at most {MAX_KEY_CHARS} characters")
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"at most {MAX_METADATA_BYTES} bytes as JSON (got {size})")
    return value


def _label(value: str) -> str:
    if len(value) > MAX_KEY_CHARS:
        raise ValueError(f"at most {MAX_KEY_CHARS} characters")
    _check_str(value, "")
    return value


def _store_key(value: str) -> str:
    if len(value) > MAX_STORE_KEY_CHARS:
        raise ValueError(f"at most {MAX_STORE_KEY_CHARS} characters")
    _check_str(value, "")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Label = Annotated[str, AfterValidator(_label)]
StoreKey = Annotated[str, AfterValidator(_store_key)]


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
