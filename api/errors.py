"""Errors are part of the API: every failure a caller can cause is answered with a status and a JSON body.

The core raises :mod:`domain.errors` (no HTTP in them); :data:`STATUS_BY_ERROR` maps each class to its status
in one table. :class:`ApiError` is for failures only the HTTP layer knows (a bad multipart body, say). The body is ``{"detail": "<human message>", "error": "<machine code>", ...extra}``; ``detail`` matches what
FastAPI and the Agent Server return, so the official SDK surfaces the message. Unexpected exceptions are
logged with the request's ids and answered 500 with a generic body, never with internals.
"""

from __future__ import annotations

from typing import Any

import psycopg
import structlog
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from langgraph.store.base import InvalidNamespaceError
from starlette.exceptions import HTTPException as StarletteHTTPException

from domain import errors as domain

log = structlog.get_logger("clew.api")


class ApiError(domain.ClewError):
    """An error of the HTTP layer with its own ``status`` (for the core's errors, see STATUS_BY_ERROR)."""

    # positional-only, so ``extra`` may carry any key (e.g. a row's ``status``) without a TypeError
    def __init__(self, status: int, error: str, detail: str, /, **extra: Any) -> None:
        super().__init__(detail, code=error, **extra)
        self.status = status

    @property
    def error(self) -> str:
        return self.code


# Each domain error's HTTP status; a subclass not listed takes its nearest listed ancestor's (MRO order).
STATUS_BY_ERROR: dict[type[domain.ClewError], int] = {
    domain.NotFound: 404,
    domain.Conflict: 409,
    domain.Expired: 410,
    domain.InvalidInput: 422,
    domain.UnsupportedMedia: 415,
    domain.Unauthenticated: 401,
    domain.Forbidden: 403,
    domain.LimitExceeded: 429,
    domain.Unavailable: 503,
    domain.ClewError: 500,
}


def status_of(exc: domain.ClewError) -> int:
    """The HTTP status of a domain error (an :class:`ApiError`'s own)."""
    if isinstance(exc, ApiError):
        return exc.status
    for cls in type(exc).__mro__:
        if cls in STATUS_BY_ERROR:
            return STATUS_BY_ERROR[cls]  # type: ignore[index]
    return 500


def headers_of(exc: domain.ClewError) -> dict[str, str] | None:
    """Response headers an error implies: ``Retry-After`` for a spent quota, ``WWW-Authenticate`` etc. if set."""
    headers = dict(getattr(exc, "headers", None) or {})
    retry_after = getattr(exc, "retry_after", None)
    if isinstance(exc, domain.LimitExceeded) and retry_after is not None:
        headers.setdefault("Retry-After", str(retry_after))
    return headers or None


def not_found(kind: str, ident: object) -> domain.NotFound:
    return domain.NotFound.of(kind, ident)


def conflict(detail: str, **extra: Any) -> domain.Conflict:
    return domain.Conflict(detail, **extra)


def bad_request(detail: str, **extra: Any) -> domain.InvalidInput:
    return domain.InvalidInput(detail, **extra)


def log_rejection(request: Request, status: int, error: str) -> None:
    """A request the caller got wrong, at info: its method, route template (no ids), user and error code — never
    the body, which may hold the caller's data."""
    if status >= 500:
        return
    route = request.scope.get("route")
    user = getattr(request.state, "user", None)
    log.info("request rejected", method=request.method, route=getattr(route, "path", None) or request.url.path,
             status=status, error=error, user_id=getattr(user, "user_id", None))


def install(app: FastAPI) -> None:
    """Register the handlers that turn every error into a JSON response (each 4xx is logged, see log_rejection)."""

    @app.exception_handler(domain.ClewError)
    async def _clew_error(request: Request, exc: domain.ClewError) -> JSONResponse:
        status = status_of(exc)
        if status >= 500:
            log.error("domain error answered 5xx", path=request.url.path, error=exc.code, detail=exc.detail)
        log_rejection(request, status, exc.code)
        return JSONResponse(exc.body(), status_code=status, headers=headers_of(exc))

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = [
            {"loc": list(e.get("loc", ())), "msg": e.get("msg", ""), "type": e.get("type", "")}
            for e in exc.errors()
        ]
        first = errors[0] if errors else {"loc": [], "msg": "invalid request"}
        where = ".".join(str(p) for p in first["loc"] if p != "body") or "body"
        log_rejection(request, 422, "invalid")
        return JSONResponse(
            {"detail": f"{where}: {first['msg']}", "error": "invalid", "errors": errors}, status_code=422
        )

    @app.exception_handler(psycopg.errors.DataError)
    async def _data(request: Request, exc: psycopg.errors.DataError) -> JSONResponse:
        # SQLSTATE class 22: Postgres refused a value the caller sent (a NUL character in JSON, a number out of
        # range); the transaction was rolled back, so nothing was written.
        log.warning("value refused by the database", path=request.url.path, error=str(exc))
        message = (exc.diag.message_primary or str(exc)).strip()
        detail = f"invalid value: {message}" + (f" ({exc.diag.message_detail})" if exc.diag.message_detail else "")
        log_rejection(request, 422, "invalid")
        return JSONResponse({"detail": detail, "error": "invalid"}, status_code=422)

    @app.exception_handler(InvalidNamespaceError)
    async def _namespace(_: Request, exc: InvalidNamespaceError) -> JSONResponse:
        return JSONResponse({"detail": f"namespace: {exc}", "error": "invalid"}, status_code=422)

    @app.exception_handler(psycopg.OperationalError)
    async def _unavailable(request: Request, exc: psycopg.OperationalError) -> JSONResponse:
        # The database is unreachable or restarting (a pooled connection died with it, the pool timed out) or the
        # statement lost a deadlock / serialization conflict: the transaction was rolled back, nothing was
        # written, and the same request will very likely succeed in a moment.
        log.warning("database unavailable", path=request.url.path, method=request.method, error=str(exc)[:200])
        return JSONResponse({"detail": "the database is unavailable or busy; retry shortly", "error": "unavailable"},
                            status_code=503, headers={"Retry-After": "1"})

    @app.exception_handler(psycopg.errors.UniqueViolation)
    async def _unique(request: Request, exc: psycopg.errors.UniqueViolation) -> JSONResponse:
        # a row the caller's request would duplicate (a second default, an id taken meanwhile): the
        # transaction was rolled back, nothing was written; the caller can resolve it
        constraint = exc.diag.constraint_name or "unique"
        log_rejection(request, 409, "conflict")
        return JSONResponse({"detail": f"conflicts with an existing row ({constraint})", "error": "conflict"},
                            status_code=409)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        log_rejection(request, exc.status_code, "http_error")
        return JSONResponse(
            {"detail": str(exc.detail), "error": "http_error"},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )

    @app.exception_handler(Exception)
    async def _internal(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", path=request.url.path, method=request.method)
        return JSONResponse({"detail": "internal error", "error": "internal"}, status_code=500)
