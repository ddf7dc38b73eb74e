"""Browser safety: which Host and Origin a request may come from, CORS grants, and security headers.

A web page open in the user's browser can send requests to a clew on ``127.0.0.1`` (a "simple" cross-origin
POST needs no preflight, and DNS rebinding makes a foreign page same-host). So, in this order:

1. ``Host``: with auth off only loopback names (``localhost``, ``127.0.0.0/8``, ``::1``, any port) are served —
   a rebound DNS name is refused with 421; with auth on, ``CLEW_ALLOWED_HOSTS`` when set.
2. ``Origin`` on state-changing methods (POST, PUT, PATCH, DELETE): refused with 403 unless it is the
   request's own origin (clew's UI, served by ``clew serve``) or listed in ``CLEW_CORS_ORIGINS``. Programs
   (langgraph-sdk, curl) send no ``Origin`` and pass.
3. CORS: Starlette's ``CORSMiddleware`` grants only ``CLEW_CORS_ORIGINS`` and exposes ``Location`` /
   ``Content-Location`` (the run-creation headers the SDK reads).
4. Responses: ``X-Content-Type-Options: nosniff`` everywhere; HTML responses also get a
   Content-Security-Policy, ``X-Frame-Options: DENY``, ``Referrer-Policy`` and
   ``Cross-Origin-Opener-Policy``.

Our own small ASGI middleware rather than Starlette's ``TrustedHostMiddleware``: that one splits the Host
on the first ``:`` (so ``[::1]:2024`` is not recognised) and cannot express "any port of a loopback address".
It is pure ASGI (no ``BaseHTTPMiddleware``) so SSE responses stream through untouched.
"""

from __future__ import annotations

from collections.abc import Iterable
from urllib.parse import urlsplit

import orjson
from starlette.middleware.cors import CORSMiddleware
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from config_schema.settings import RuntimeSettings
from domain.hosts import is_loopback, normalise_origin, split_host

STATE_CHANGING = frozenset({"POST", "PUT", "PATCH", "DELETE"})

# The UI is served from clew's own origin and bundles its scripts and styles; inline styles are allowed
# because React and the component library set style attributes.
CSP = ("default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data: blob:; "
       "font-src 'self' data:; connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
       "frame-ancestors 'none'")
# FastAPI's /docs and /redoc pages load Swagger UI / ReDoc from jsDelivr.
DOCS_CSP = ("default-src 'self'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
            "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https:; "
            "worker-src 'self' blob:; connect-src 'self'; object-src 'none'; base-uri 'self'; "
            "frame-ancestors 'none'")
HTML_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)


def host_allowed(name: str, *, auth_off: bool, allowed: Iterable[str]) -> bool:
    """Whether a request for host ``name`` is served. ``allowed`` entries may start with ``*.``."""
    if is_loopback(name):
        return True
    if auth_off:
        return False
    patterns = [p.lower() for p in allowed]
    if not patterns or "*" in patterns:
        return True
    return any(name == p or (p.startswith("*.") and name.endswith(p[1:])) for p in patterns)


class SecurityMiddleware:
    """Host check, foreign-Origin refusal on state-changing methods, security headers (see module doc)."""

    def __init__(self, app: ASGIApp, settings: RuntimeSettings) -> None:
        self.app = app
        self.auth_off = settings.auth == "none"
        self.allowed_hosts = list(settings.allowed_hosts)
        self.origins = {normalise_origin(o) for o in settings.cors_origins}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        host = headers.get("host", "")
        if not host_allowed(split_host(host), auth_off=self.auth_off, allowed=self.allowed_hosts):
            detail = ("this clew runs with auth off and answers only to loopback host names" if self.auth_off
                      else "host not in CLEW_ALLOWED_HOSTS")
            await _refuse(send, 421, "host_refused", f"{detail} (Host: {host or 'missing'})")
            return
        origin = headers.get("origin")
        if origin is not None and scope["method"] in STATE_CHANGING and not self._origin_ok(origin, scope, host):
            await _refuse(send, 403, "origin_refused",
                          f"cross-origin request from {origin} refused: add it to CLEW_CORS_ORIGINS to allow it")
            return
        docs = scope["path"] in ("/docs", "/redoc")

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = list(message.get("headers", []))
                names = {k.lower() for k, _ in out}
                if b"x-content-type-options" not in names:
                    out.append((b"x-content-type-options", b"nosniff"))
                ctype = next((v for k, v in out if k.lower() == b"content-type"), b"")
                if ctype.startswith(b"text/html"):
                    if b"content-security-policy" not in names:
                        out.append((b"content-security-policy", (DOCS_CSP if docs else CSP).encode()))
                    out.extend(h for h in HTML_HEADERS if h[0] not in names)
                message = {**message, "headers": out}
            await send(message)

        await self.app(scope, receive, send_with_headers)

    def _origin_ok(self, origin: str, scope: Scope, host: str) -> bool:
        norm = normalise_origin(origin)
        if norm in self.origins or "*" in self.origins:
            return True
        parts = urlsplit(norm)
        scheme = scope.get("scheme", "http")
        # same origin: the page was served by this clew under the Host the browser used
        return parts.scheme == scheme and parts.netloc == host.strip().lower()


async def _refuse(send: Send, status: int, error: str, detail: str) -> None:
    body = orjson.dumps({"detail": detail, "error": error})
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
        (b"x-content-type-options", b"nosniff")]})
    await send({"type": "http.response.body", "body": body})


def install(app: object, settings: RuntimeSettings) -> None:
    """Add CORS (inner) and the security middleware (outer) to ``app``."""
    origins = [normalise_origin(o) for o in settings.cors_origins]
    app.add_middleware(  # type: ignore[attr-defined]
        CORSMiddleware,
        allow_origins=origins,
        allow_methods=["*"],
        allow_headers=["*"],
        expose_headers=["Content-Location", "Location", "Retry-After", "X-Request-Id"],
    )
    app.add_middleware(SecurityMiddleware, settings=settings)  # type: ignore[attr-defined]
