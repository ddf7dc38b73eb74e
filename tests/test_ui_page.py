"""The web UI's page as served by ``clew serve`` (no browser): the page and its assets without credentials,
with a Content-Security-Policy; asset names that could leave the build folder are refused; and every clew
route the UI's typed client calls (ui/src/api/routes.json) exists in the server's OpenAPI document with
that method, so the client cannot drift from the API unnoticed.
"""

from __future__ import annotations

import json
import re

import httpx

from tests.support.server import ROOT, ClewProcess

ROUTES = json.loads((ROOT / "ui" / "src" / "api" / "routes.json").read_text())["routes"]


def test_page_and_assets_are_served_with_a_csp(server: ClewProcess) -> None:
    page = httpx.get(server.url + "/")  # auth is on for this server: the page itself needs no key
    assert page.status_code == 200
    assert page.headers["content-type"].startswith("text/html")
    csp = page.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "default-src 'none'" in csp and "connect-src 'self'" in csp
    assert "unsafe-eval" not in csp
    assert page.headers["x-content-type-options"] == "nosniff"
    assets = re.findall(r'(?:src|href)="/assets/([^"]+)"', page.text)
    assert any(a.endswith(".js") for a in assets) and any(a.endswith(".css") for a in assets)
    for name in assets:
        r = httpx.get(f"{server.url}/assets/{name}")
        assert r.status_code == 200, name
        assert "immutable" in r.headers["cache-control"]
        assert r.headers["content-security-policy"] == csp
    js = next(a for a in assets if a.endswith(".js"))
    assert httpx.get(f"{server.url}/assets/{js}").headers["content-type"].startswith(("text/javascript", "application/javascript"))


def test_asset_names_cannot_leave_the_build(server: ClewProcess) -> None:
    for name in ("..%2F..%2Fpyproject.toml", "..%2Findex.html", "nope.js", ".hidden.js", "x.py"):
        r = httpx.get(f"{server.url}/assets/{name}")
        assert r.status_code == 404, name
        assert r.json()["error"] in ("not_found", "http_error")  # the latter: no route matches a path with "/"


def test_ui_routes_exist_in_openapi(server: ClewProcess) -> None:
    spec = httpx.get(server.url + "/openapi.json").json()
    missing = [(m, p) for m, p in ROUTES if m not in spec["paths"].get(p, {})]
    assert not missing, f"routes the UI calls that the server does not serve: {missing}"
