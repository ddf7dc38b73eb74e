"""Browser safety with auth off (the quickstart's default): Host and Origin checks, CORS grants, headers.

One server with auth off and one allowed UI origin. A web page from any other origin must get no CORS grant
and its state-changing requests must be refused even when the browser sends no preflight (a "simple" POST);
a DNS-rebound name (a non-loopback Host) must be refused; programs (langgraph-sdk: no Origin) and clew's
own UI (same origin) keep working.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from api.security import host_allowed, split_host
from tests.support.core import db_rows
from tests.support.server import ClewProcess

ALLOWED = "http://ui.example.test:5173"
FOREIGN = "http://evil.example.test"


@pytest.fixture(scope="module")
def open_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(db_url, tmp_path_factory.mktemp("security"), workers=1,
                       env={"CLEW_AUTH": "none", "CLEW_CORS_ORIGINS": f'["{ALLOWED}"]'}).start()
    yield proc
    proc.stop()


def _client(server: ClewProcess, **headers: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30.0)


async def _thread_count(db_url: str) -> int:
    return int((await db_rows(db_url, "SELECT count(*) AS n FROM threads"))[0]["n"])


async def test_foreign_origin_gets_no_grant_and_its_writes_are_refused(open_server: ClewProcess, db_url: str) -> None:
    before = await _thread_count(db_url)
    async with _client(open_server, Origin=FOREIGN) as c:
        # a "simple" cross-origin POST (no preflight: text/plain body) is refused and writes nothing
        r = await c.post("/threads", content=b"{}", headers={"content-type": "text/plain"})
        assert r.status_code == 403
        assert r.json()["error"] == "origin_refused" and FOREIGN in r.json()["detail"]
        assert "access-control-allow-origin" not in r.headers
        # a JSON POST, PUT, PATCH, DELETE likewise
        assert (await c.post("/threads", json={})).status_code == 403
        assert (await c.put("/api/v1/system/config/llm.temperature", json={"value": 0.1})).status_code == 403
        assert (await c.delete("/threads/00000000-0000-0000-0000-000000000000")).status_code == 403
        # the preflight gets no grant
        pre = await c.options("/threads", headers={"Access-Control-Request-Method": "POST",
                                                   "Access-Control-Request-Headers": "content-type"})
        assert "access-control-allow-origin" not in pre.headers
        # a read is answered (a browser without a grant cannot read it) but carries no grant either
        r = await c.get("/info")
        assert r.status_code == 200 and "access-control-allow-origin" not in r.headers
    assert await _thread_count(db_url) == before


async def test_allowed_origin_is_granted_and_sees_the_location_headers(open_server: ClewProcess) -> None:
    async with _client(open_server, Origin=ALLOWED) as c:
        pre = await c.options("/threads/x/runs", headers={"Access-Control-Request-Method": "POST",
                                                          "Access-Control-Request-Headers": "content-type"})
        assert pre.status_code == 200
        assert pre.headers["access-control-allow-origin"] == ALLOWED
        thread = (await c.post("/threads", json={})).json()
        r = await c.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "steps3", "input": {}})
        assert r.status_code == 200, r.text
        assert r.headers["access-control-allow-origin"] == ALLOWED
        exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
        assert {"location", "content-location"} <= exposed
        assert r.headers["content-location"].endswith(r.json()["run_id"])


async def test_same_origin_ui_and_programs_work(open_server: ClewProcess) -> None:
    # clew's own UI: the page's origin is the server's
    async with _client(open_server, Origin=open_server.url) as c:
        assert (await c.post("/threads", json={})).status_code == 200
    # langgraph-sdk sends no Origin
    sdk = get_client(url=open_server.url)
    try:
        thread = await sdk.threads.create()
        out = await sdk.runs.wait(thread["thread_id"], "steps3", input={})
        assert out["count"] == 3
    finally:
        await sdk.http.client.aclose()


@pytest.mark.parametrize("host", ["evil.example.test", "evil.example.test:2024", "192.168.1.20",
                                  "10.0.0.1:80", "[2001:db8::1]:2024", "127.0.0.1.nip.io"])
async def test_non_loopback_host_refused_with_auth_off(open_server: ClewProcess, host: str, db_url: str) -> None:
    before = await _thread_count(db_url)
    async with _client(open_server, Host=host) as c:
        for method, path in (("GET", "/threads/search"), ("POST", "/threads"), ("GET", "/info")):
            r = await c.request(method, path, json={} if method == "POST" else None)
            assert r.status_code == 421, (host, method, path, r.status_code)
            assert r.json()["error"] == "host_refused"
            assert r.headers["content-type"].startswith("application/json")
    assert await _thread_count(db_url) == before


@pytest.mark.parametrize("host", ["localhost", "127.0.0.1", "127.0.0.2", "[::1]"])
async def test_loopback_hosts_with_any_port_are_served(open_server: ClewProcess, host: str) -> None:
    async with _client(open_server, Host=f"{host}:{open_server.port}") as c:
        assert (await c.get("/info")).status_code == 200


def test_host_rules() -> None:
    assert split_host("[::1]:2024") == "::1" and split_host("LOCALHOST:1") == "localhost"
    assert split_host("::1") == "::1"
    assert host_allowed("api.localhost", auth_off=True, allowed=[])
    assert not host_allowed("example.com", auth_off=True, allowed=["example.com"])  # auth off: loopback only
    assert host_allowed("example.com", auth_off=False, allowed=[])  # auth on, no list: any
    assert host_allowed("a.example.com", auth_off=False, allowed=["*.example.com"])
    assert not host_allowed("example.org", auth_off=False, allowed=["*.example.com", "clew.internal"])


async def test_security_headers(open_server: ClewProcess) -> None:
    async with _client(open_server) as c:
        docs = await c.get("/docs")
        assert docs.status_code == 200 and docs.headers["content-type"].startswith("text/html")
        csp = docs.headers["content-security-policy"]
        assert "default-src 'self'" in csp and "frame-ancestors 'none'" in csp and "object-src 'none'" in csp
        assert docs.headers["x-frame-options"] == "DENY"
        assert docs.headers["x-content-type-options"] == "nosniff"
        assert docs.headers["referrer-policy"] == "no-referrer"
        assert docs.headers["cross-origin-opener-policy"] == "same-origin"
        api = await c.get("/info")
        assert api.headers["x-content-type-options"] == "nosniff"
        assert "content-security-policy" not in api.headers  # JSON: no page to protect
        # every response has a request id; a caller's own id is kept
        assert len(api.headers["x-request-id"]) >= 16
        r = await c.get("/info", headers={"X-Request-Id": "trace-abc.1"})
        assert r.headers["x-request-id"] == "trace-abc.1"
        r = await c.get("/info", headers={"X-Request-Id": "bad id\twith spaces"})
        assert r.headers["x-request-id"] != "bad id\twith spaces"


def test_serve_refuses_non_loopback_bind_with_auth_off(db_url: str, tmp_path: Path) -> None:
    import subprocess
    import sys

    from tests.support.server import ROOT

    env: dict[str, Any] = {**ClewProcess(db_url, tmp_path).env(), "CLEW_AUTH": "none"}
    out = subprocess.run([sys.executable, "-m", "cli.main", "serve", "--host", "0.0.0.0", "--port", "1"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 2 and "auth off" in out.stderr
