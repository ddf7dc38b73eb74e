"""Research over HTTP against a real `clew serve` process (web source: a local SearxNG stub): the research
routes (start, progress, cancel, result, export to md / PDF / DOCX), owner scoping, plan approval through
the langgraph-sdk, and a research whose server is SIGKILLed half-way and resumes to the same report."""

from __future__ import annotations

import asyncio
import io
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import pytest
from langgraph_sdk import get_client
from pypdf import PdfReader

from tests.support.core import user_clients
from tests.support.keys import make_key
from tests.support.pg import create_database, drop_database
from tests.support.research import QUESTION, WebStub
from tests.support.server import ClewProcess, clew_server

pytestmark = pytest.mark.slow

BASE_ENV = {
    "CLEW_AUTH": "api_key",
    "CLEW_LEASE_SECONDS": "2",
    "CLEW_MAX_ATTEMPTS": "3",
    "CLEW_SETTING__RESEARCH__CONCURRENCY": "1",
}


@pytest.fixture(scope="module")
def web() -> Iterator[WebStub]:
    with WebStub() as stub:
        yield stub


def _env(web: WebStub) -> dict[str, str]:
    return {**BASE_ENV, **web.env()}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, web: WebStub) -> Iterator[ClewProcess]:
    with clew_server(tmp_path_factory.mktemp("research-data"), "clew_research_api", env=_env(web)) as proc:
        yield proc


@pytest.fixture(scope="module")
def keys(server: ClewProcess) -> dict[str, str]:
    return {u: make_key(server.db_url, u) for u in ("alice", "bob")}


@pytest.fixture
async def http(server: ClewProcess, keys: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with user_clients(server, keys) as clients:
        yield clients


async def _start(client: httpx.AsyncClient, **body: Any) -> dict[str, Any]:
    r = await client.post("/api/v1/research/start", json={"query": QUESTION, "source": "web", **body})
    assert r.status_code == 201, r.text
    out: dict[str, Any] = r.json()
    assert r.headers["Location"] == out["stream_url"]
    return out


async def _join(server_url: str, key: str, thread_id: str, run_id: str) -> None:
    sdk = get_client(url=server_url, api_key=key)
    try:
        await sdk.runs.join(thread_id, run_id)
    finally:
        await sdk.http.client.aclose()


async def test_research_routes(
    server: ClewProcess, keys: dict[str, str], http: dict[str, httpx.AsyncClient]
) -> None:
    alice, bob = http["alice"], http["bob"]
    started = await _start(alice)
    assert started["graph_id"] == "research" and started["research_id"] == started["thread_id"]
    await _join(server.url, keys["alice"], started["thread_id"], started["run_id"])
    rid = started["research_id"]

    r = await alice.get(f"/api/v1/research/{rid}/result")
    assert r.status_code == 200, r.text
    result = r.json()
    assert result["question"] == QUESTION and result["status"] == "done"
    assert result["report"].startswith("# ") and "Orvane" in result["report"]
    assert result["sources"] and all(s["url"].startswith("http://127.0.0.1:") for s in result["sources"])
    assert result["quality"]["passed"] is True
    assert result["cost"]["usd"] == 0 and result["duration"] >= 0

    r = await alice.get(f"/api/v1/research/{rid}/progress")
    progress = r.json()
    assert progress["status"] == "done" and progress["completed_queries"] == progress["total_queries"] > 0
    assert progress["current_query"]

    r = await alice.get(f"/api/v1/research/{rid}/export/md")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/markdown")
    assert "attachment" in r.headers["content-disposition"]
    assert r.text.strip() == result["report"].strip()

    r = await alice.get(f"/api/v1/research/{rid}/export/pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    pdf_text = "".join(page.extract_text() for page in PdfReader(io.BytesIO(r.content)).pages)
    assert "Velmora" in pdf_text and "Sources" in pdf_text

    r = await alice.get(f"/api/v1/research/{rid}/export/docx")
    assert r.status_code == 200
    document = docx.Document(io.BytesIO(r.content))
    texts = [p.text for p in document.paragraphs]
    assert any("Velmora" in t for t in texts) and "Sources" in texts

    assert (await alice.get(f"/api/v1/research/{rid}/export/odt")).status_code == 422
    # another user's research does not exist for them
    for method, path in (("GET", "result"), ("GET", "progress"), ("GET", "export/md"), ("POST", "cancel")):
        r = await bob.request(method, f"/api/v1/research/{rid}/{path}")
        assert r.status_code == 404, (path, r.text)
        assert r.json()["error"] == "not_found"
    assert (await alice.get("/api/v1/research/not-a-uuid/result")).status_code == 422  # malformed id
    r = await alice.post(f"/api/v1/research/{rid}/cancel")
    assert r.status_code == 409 and "no run in progress" in r.json()["detail"]
    r = await alice.post("/api/v1/research/start", json={"query": ""})
    assert r.status_code == 422


async def test_plan_approval_through_the_sdk(
    server: ClewProcess, keys: dict[str, str], http: dict[str, httpx.AsyncClient]
) -> None:
    alice = http["alice"]
    started = await _start(alice, mode="standard", human_review=True)
    tid = started["thread_id"]
    await _join(server.url, keys["alice"], tid, started["run_id"])
    progress = (await alice.get(f"/api/v1/research/{tid}/progress")).json()
    assert progress["status"] == "interrupted"
    assert progress["interrupt"]["value"]["kind"] == "approval"
    r = await alice.get(f"/api/v1/research/{tid}/result")
    assert r.status_code == 409
    sdk = get_client(url=server.url, api_key=keys["alice"])
    try:
        bad = await alice.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "research", "command": {"resume": {"decision": "maybe"}}},
        )
        assert bad.status_code == 422
        edited = ["Velmora lamp", "Velmora keepers"]
        state = await sdk.runs.wait(
            tid, "research", command={"resume": {"decision": "edit", "edited": edited}}
        )
    finally:
        await sdk.http.client.aclose()
    assert [q["query"] for q in state["queries"]] == edited
    assert state["status"] == "done" and state["quality"]["passed"]


async def test_cancel_a_running_research(
    server: ClewProcess, keys: dict[str, str], web: WebStub, http: dict[str, httpx.AsyncClient]
) -> None:
    alice = http["alice"]
    web.hold(from_search=len(web.searches) + 1)
    try:
        started = await _start(alice)
        await asyncio.to_thread(web.held.wait, 30)
        r = await alice.post(f"/api/v1/research/{started['research_id']}/cancel")
        assert r.status_code == 202 and r.json()["run_id"] == started["run_id"]
    finally:
        web.release()
    await _join(server.url, keys["alice"], started["thread_id"], started["run_id"])
    run = (await alice.get(f"/threads/{started['thread_id']}/runs/{started['run_id']}")).json()
    assert run["status"] == "interrupted"


async def _run_to_report(server: ClewProcess, key: str, client: httpx.AsyncClient) -> str:
    started = await _start(client)
    await _join(server.url, key, started["thread_id"], started["run_id"])
    r = await client.get(f"/api/v1/research/{started['research_id']}/result")
    assert r.status_code == 200, r.text
    return str(r.json()["report"])


@pytest.fixture
def crash_db() -> Iterator[str]:
    url = create_database("clew_research_crash")  # no other server's workers may claim these runs
    yield url
    drop_database(url)


async def test_research_killed_half_way_resumes_to_the_same_report(
    crash_db: str, web: WebStub, tmp_path: Path
) -> None:
    research_db, data = crash_db, tmp_path
    proc = ClewProcess(research_db, data, env=_env(web)).start()
    key = make_key(research_db, "carol")
    client = httpx.AsyncClient(base_url=proc.url, headers={"x-api-key": key}, timeout=60)
    second: ClewProcess | None = None
    try:
        reference = await _run_to_report(proc, key, client)
        web.reset()
        web.hold(from_search=2)  # the second branch's page fetches wait: the first branch is checkpointed
        started = await _start(client)
        assert await asyncio.to_thread(web.held.wait, 60), "the second branch never started"
        proc.kill()  # SIGKILL mid-branch
        searched_before = list(web.searches)
        web.release()
        await client.aclose()
        second = ClewProcess(research_db, data, env=_env(web)).start()
        client = httpx.AsyncClient(base_url=second.url, headers={"x-api-key": key}, timeout=60)
        deadline = time.monotonic() + 90
        await asyncio.wait_for(
            _join(second.url, key, started["thread_id"], started["run_id"]),
            timeout=deadline - time.monotonic(),
        )
        r = await client.get(f"/api/v1/research/{started['research_id']}/result")
        assert r.status_code == 200, r.text
        resumed = r.json()
        run = (await client.get(f"/threads/{started['thread_id']}/runs/{started['run_id']}")).json()
        assert run["status"] == "success"
        assert resumed["report"] == reference
        assert resumed["quality"]["passed"]
        # the first branch finished before the kill and was not searched again
        assert len(searched_before) == 2
        assert web.searches.count(searched_before[0]) == 1
        assert web.searches.count(searched_before[1]) == 2
    finally:
        web.release()
        await client.aclose()
        proc.kill()
        if second is not None:
            second.stop()
