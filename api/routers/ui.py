"""The web UI: ``GET /`` serves the page, ``GET /assets/{name}`` its scripts and styles.

The page is the production build of ``ui/`` (TypeScript, React, Vite), committed under ``api/ui_dist`` so a
machine without Node.js serves it; CI rebuilds it from ``npm ci`` and fails when the committed build differs.
The page talks to clew only over the public HTTP API (the same origin), so these routes need no credentials:
they serve static files, and every request for data carries the user's key.

Every response carries a Content-Security-Policy: scripts only from this origin (no inline script, no eval —
charts evaluate Vega expressions through vega-interpreter), connections only to this origin, no framing.
Styles allow ``'unsafe-inline'`` because the chart renderer sets style attributes; no script can come from
model output since markdown is rendered without raw HTML.
"""

from __future__ import annotations

import re
from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from api.errors import ApiError

router = APIRouter(tags=["ui"], include_in_schema=False)

DIST = Path(__file__).resolve().parent.parent / "ui_dist"
ASSET_NAME = re.compile(r"^[A-Za-z0-9_-]+(\.[A-Za-z0-9_-]+)*\.(js|css|svg|png|woff2)$")

CSP = "; ".join([
    "default-src 'none'",
    "script-src 'self'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self'",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
SECURITY_HEADERS = {
    "Content-Security-Policy": CSP,
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


@router.get("/")
async def page() -> Response:
    index = DIST / "index.html"
    if not index.is_file():
        raise ApiError(404, "ui_not_built", "the web UI is not built: run `npm ci && npm run build` in ui/")
    return FileResponse(index, media_type="text/html", headers={**SECURITY_HEADERS, "Cache-Control": "no-cache"})


@router.get("/assets/{name}")
async def asset(name: str) -> Response:
    """A hashed build file; the name is checked against a strict pattern, so no path can leave the folder."""
    path = DIST / "assets" / name
    if not ASSET_NAME.match(name) or not path.is_file():
        raise ApiError(404, "not_found", f"asset {name} not found")
    return FileResponse(
        path, headers={**SECURITY_HEADERS, "Cache-Control": "public, max-age=31536000, immutable"}
    )
