"""The content pipeline's session API against real `clew serve` processes: web sources from a local SearxNG
stub, the writing model a scripted OpenAI-compatible stub (``llm.smart_model``; topics and research run on the
offline engine), one outlined section per draft so the scripted replies are consumed in a known order.

A whole session topic -> done, the design's events in order with ``Last-Event-ID`` replay, 409 for an action
not available now, 422 for bad parameters, a review asking for changes going back to writing, an expired
session (410), another user's session (404), and a worker SIGKILLed while drafting a section."""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import docx
import httpx
import psycopg
import pytest
from pypdf import PdfReader

from tests.support.core import user_clients
from tests.support.keys import make_key
from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.pg import create_database, drop_database
from tests.support.research import WebStub
from tests.support.server import ClewProcess, clew_server

pytestmark = pytest.mark.slow

WRITER = "writer"
DESIGN_EVENTS = {"stage.change", "progress", "topics.discovered", "research.completed", "draft.updated",
                 "review.completed", "error", "end"}


def _env(web: WebStub, stub: OpenAIStub) -> dict[str, str]:
    return {
        "CLEW_AUTH": "api_key",
        "CLEW_LEASE_SECONDS": "2",
        "CLEW_MAX_ATTEMPTS": "3",
        "CLEW_SETTING__RESEARCH__CONCURRENCY": "1",
        "CLEW_SETTING__RESEARCH__SUB_QUERIES": "2",
        "CLEW_SETTING__CONTENT__OUTLINE_SECTIONS": "1",
        **stub.env(smart_model=WRITER),
        **web.env(),
    }


@pytest.fixture(scope="module")
def web() -> Iterator[WebStub]:
    with WebStub() as stub:
        yield stub


@pytest.fixture(scope="module")
async def llm() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, web: WebStub, llm: OpenAIStub) -> Iterator[ClewProcess]:
    with clew_server(tmp_path_factory.mktemp("content-data"), "clew_content_sessions", env=_env(web, llm)) as proc:
        yield proc


@pytest.fixture(scope="module")
def content_db(server: ClewProcess) -> str:
    return server.db_url


@pytest.fixture(scope="module")
def keys(server: ClewProcess) -> dict[str, str]:
    return {u: make_key(server.db_url, u) for u in ("alice", "bob")}


@pytest.fixture
async def http(server: ClewProcess, keys: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with user_clients(server, keys) as clients:
        yield clients


# --- helpers --------------------------------------------------------------------------------------------
async def settled(client: httpx.AsyncClient, sid: str, seconds: float = 90.0) -> dict[str, Any]:
    """The session once it waits for an action (or is done / failed)."""
    for _ in range(int(seconds / 0.1)):
        r = await client.get(f"/api/v1/sessions/{sid}")
        assert r.status_code == 200, r.text
        body: dict[str, Any] = r.json()
        if body["progress"]["status"] in ("waiting", "done", "error"):
            return body
        await asyncio.sleep(0.1)
    raise AssertionError(f"session {sid} did not settle: {body}")


async def act(client: httpx.AsyncClient, sid: str, action: str, **parameters: Any) -> dict[str, Any]:
    r = await client.post(f"/api/v1/sessions/{sid}/actions", json={"action": action, "parameters": parameters})
    assert r.status_code == 202, r.text
    assert r.json()["status"] == "processing" and r.json()["actionId"]
    body = await settled(client, sid)
    assert body["progress"]["status"] != "error", body
    return body


async def create(client: httpx.AsyncClient, **body: Any) -> str:
    r = await client.post("/api/v1/sessions", json=body)
    assert r.status_code == 201, r.text
    out = r.json()
    assert out["progress"]["status"] == "processing" and out["availableActions"] == []
    assert out["expiresAt"] and isinstance(out["capabilities"], list)
    return str(out["sessionId"])


async def stream(
    client: httpx.AsyncClient, sid: str, last_event_id: str | None = None
) -> AsyncIterator[dict[str, Any]]:
    """The session's SSE events as ``{event, id?, data}``, until ``end``."""
    headers = {"Last-Event-ID": last_event_id} if last_event_id else {}
    current: dict[str, Any] = {}
    async with client.stream("GET", f"/api/v1/sessions/{sid}/events", headers=headers) as resp:
        assert resp.status_code == 200
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                current["event"] = line[7:]
            elif line.startswith("id: "):
                current["id"] = line[4:]
            elif line.startswith("data: "):
                current["data"] = json.loads(line[6:])
            elif line == "" and current:
                yield current
                if current.get("event") == "end":
                    return
                current = {}


async def events(client: httpx.AsyncClient, sid: str, last_event_id: str | None = None) -> list[dict[str, Any]]:
    """The session's events until its stream ends (the session must be finished)."""
    return [ev async for ev in stream(client, sid, last_event_id)]


def stage_changes(evs: list[dict[str, Any]], status: str = "processing") -> list[str]:
    stages = [e["data"]["stage"] for e in evs if e["event"] == "stage.change" and e["data"]["status"] == status]
    return [s for i, s in enumerate(stages) if i == 0 or stages[i - 1] != s]


# --- tests ----------------------------------------------------------------------------------------------
async def test_whole_session_topic_to_done(http: dict[str, httpx.AsyncClient], llm: OpenAIStub) -> None:
    alice = http["alice"]
    sid = await create(alice, articleId="art-1", context={"category": "lighthouse", "keywords": ["keepers"],
                                                          "sourceMode": "web"})
    s = await settled(alice, sid)
    assert s["articleId"] == "art-1" and s["progress"]["stage"] == "topic"
    assert [a["id"] for a in s["availableActions"]] == ["select_topic", "custom_topic", "discover_topics"]
    primary = s["availableActions"][0]
    assert primary["kind"] == "primary" and primary["label"]
    topic_ids = primary["parameters"]["properties"]["topicId"]["enum"]
    assert topic_ids and s["capabilities"] == ["suggestions"]
    assert "offline engine" in s["lastMessage"]["content"]  # topics were found without a model

    s = await act(alice, sid, "select_topic", topicId=topic_ids[0])
    assert s["progress"]["stage"] == "research"
    assert [a["id"] for a in s["availableActions"]] == ["approve_research", "add_sources", "research_deeper"]
    s = await act(alice, sid, "approve_research")
    assert s["progress"]["stage"] == "writing"
    llm.script(WRITER, Reply("The Orvane institute studied the question first [1]."),
               Reply("# Orvane notes\n\nThe Orvane institute studied it first [1]."))
    s = await act(alice, sid, "approve_outline")
    assert s["progress"]["stage"] == "styling"
    s = await act(alice, sid, "approve_style")
    assert s["progress"]["stage"] == "review" and s["progress"]["progress"] == 90
    s = await act(alice, sid, "approve")
    assert s["progress"] == {"stage": "done", "status": "done", "progress": 100, "currentStep": None}
    assert s["availableActions"] == []
    assert s["article"].startswith("# Orvane notes") and "## Sources" in s["article"]
    assert s["offline"] == {"topic": True, "research": True, "writing": False, "styling": False, "review": False}

    for fmt in ("md", "html", "pdf", "docx"):
        r = await alice.get(f"/api/v1/sessions/{sid}/export/{fmt}")
        assert r.status_code == 200, (fmt, r.text)
    assert "Orvane institute" in "".join(p.extract_text() for p in PdfReader(io.BytesIO(
        (await alice.get(f"/api/v1/sessions/{sid}/export/pdf")).content)).pages)
    assert any("Orvane" in p.text for p in docx.Document(io.BytesIO(
        (await alice.get(f"/api/v1/sessions/{sid}/export/docx")).content)).paragraphs)

    evs = await events(alice, sid)
    assert {e["event"] for e in evs} <= DESIGN_EVENTS
    assert stage_changes(evs) == ["topic", "research", "writing", "styling", "review"]
    assert evs[-2]["event"] == "stage.change" and evs[-2]["data"]["stage"] == "done"
    assert evs[-1]["event"] == "end"
    assert stage_changes(evs, "waiting") == ["topic", "research", "writing", "styling", "review"]
    names = [e["event"] for e in evs]
    queries = [e["data"] for e in evs if e["event"] == "progress" and e["data"]["step"] == "query"]
    assert queries and queries[-1]["completed"] == queries[-1]["total"] >= 1
    for first, then in (("topics.discovered", "research.completed"), ("research.completed", "draft.updated"),
                        ("draft.updated", "review.completed")):
        assert names.index(first) < names.index(then)
    # Last-Event-ID: exactly what came after that event, across the session's runs
    cut = 7
    replay = await events(alice, sid, evs[cut]["id"])
    assert [(e["event"], e.get("id")) for e in replay] == [(e["event"], e.get("id")) for e in evs[cut + 1:]]


async def test_unavailable_action_409_and_bad_parameters_422(http: dict[str, httpx.AsyncClient]) -> None:
    alice = http["alice"]
    sid = await create(alice, articleId="art-2", initialStage="research",
                       context={"topic": "Orvane coastal villages", "sourceMode": "web"})
    s = await settled(alice, sid)
    assert s["progress"]["stage"] == "research"
    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve", "parameters": {}})
    assert r.status_code == 409, r.text
    body = r.json()
    assert body["error"] == "action_unavailable"
    assert [a["id"] for a in body["availableActions"]] == ["approve_research", "add_sources", "research_deeper"]
    r = await alice.post(f"/api/v1/sessions/{sid}/actions",
                         json={"action": "add_sources", "parameters": {"sources": []}})
    assert r.status_code == 422 and r.json()["error"] == "invalid_parameters", r.text
    r = await alice.post(f"/api/v1/sessions/{sid}/actions",
                         json={"action": "approve_research", "parameters": {"extra": 1}})
    assert r.status_code == 422
    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_research", "bogus": 1})
    assert r.status_code == 422
    assert (await settled(alice, sid))["progress"] == s["progress"]  # nothing changed

    # the editor's own source joins the research and its numbered sources; the action moves the expiry
    expires = s["expiresAt"]
    s = await act(alice, sid, "add_sources", sources=[{"title": "Harbour diary", "url": "https://example.org/d",
                                                       "text": "The Orvane fishing calendar changed in 1911."}])
    assert s["progress"]["stage"] == "research" and s["expiresAt"] > expires
    state = (await alice.get(f"/threads/{sid}/state")).json()["values"]
    assert any(src["url"] == "https://example.org/d" for src in state["sources"])

    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_research", "parameters": {}})
    assert r.status_code == 202
    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_research", "parameters": {}})
    assert r.status_code == 409  # already taken: processing, or waiting at the next stage
    assert [a["id"] for a in r.json()["availableActions"]] in ([], ["approve_outline", "edit_outline"])


async def test_request_changes_goes_back_to_writing(http: dict[str, httpx.AsyncClient], llm: OpenAIStub) -> None:
    alice = http["alice"]
    sid = await create(alice, articleId="art-3", initialStage="research",
                       context={"topic": "Orvane fishing calendar", "sourceMode": "web", "preset": "newsletter"})
    await settled(alice, sid)
    await act(alice, sid, "approve_research")
    llm.script(WRITER, Reply("Draft one: the calendar moved [1]."), Reply("# Calendar\n\nStyled one [1]."))
    s = await act(alice, sid, "edit_outline", title="Calendar", sections=["What changed"])
    state = (await alice.get(f"/threads/{sid}/state")).json()["values"]
    first = state["draft"]
    assert "Draft one" in first and state["preset"]["name"] == "newsletter"
    await act(alice, sid, "approve_style")
    before = len(llm.requests)
    llm.script(WRITER, Reply("Draft two: the calendar moved in winter [1]."), Reply("# Calendar\n\nStyled two [1]."))
    s = await act(alice, sid, "request_changes", notes="say when it moved")
    assert s["progress"]["stage"] == "styling"
    state = (await alice.get(f"/threads/{sid}/state")).json()["values"]
    assert state["draft"] != first and "Draft two" in state["draft"]
    assert state["review_notes"] == [{"round": 1, "notes": "say when it moved"}]
    revision_prompt = json.dumps(llm.requests[before]["messages"])
    assert "say when it moved" in revision_prompt and "Draft one" in revision_prompt
    await act(alice, sid, "approve_style")
    s = await act(alice, sid, "approve")
    assert s["progress"]["stage"] == "done" and "Styled two" in s["article"]
    evs = await events(alice, sid)
    assert stage_changes(evs) == ["research", "writing", "styling", "review", "writing", "styling", "review"]
    drafts = [e["data"] for e in evs if e["event"] == "draft.updated" and e["data"]["complete"]]
    assert [d["round"] for d in drafts] == [1, 2]


async def test_expired_session_refuses_actions(http: dict[str, httpx.AsyncClient], content_db: str) -> None:
    alice = http["alice"]
    r = await alice.put("/api/v1/users/settings/content.session_ttl_hours", json={"value": 5})
    assert r.status_code == 200, r.text
    r = await alice.post("/api/v1/sessions", json={"articleId": "art-ttl", "initialStage": "research",
                                                   "context": {"topic": "Orvane ttl", "sourceMode": "web"}})
    created = r.json()
    async with await psycopg.AsyncConnection.connect(content_db, autocommit=True) as conn:
        cur = await conn.execute("SELECT ttl_hours, expires_at - created_at AS ttl FROM content_sessions "
                                 "WHERE thread_id = %s", (created["sessionId"],))
        ttl_hours, ttl = await cur.fetchone()
    assert ttl_hours == 5 and abs(ttl.total_seconds() - 5 * 3600) < 60  # the user's TTL, from the snapshot
    await settled(alice, created["sessionId"])
    sid = await create(alice, articleId="art-4", initialStage="research",
                       context={"topic": "Orvane survey", "sourceMode": "web"})
    await settled(alice, sid)
    async with await psycopg.AsyncConnection.connect(content_db, autocommit=True) as conn:
        await conn.execute("UPDATE content_sessions SET expires_at = now() - interval '1 second' "
                           "WHERE thread_id = %s", (sid,))
    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_research", "parameters": {}})
    assert r.status_code == 410 and r.json()["error"] == "session_expired", r.text
    s = (await alice.get(f"/api/v1/sessions/{sid}")).json()
    assert s["progress"]["status"] == "expired" and s["availableActions"] == []
    evs = await events(alice, sid)  # replays what happened, then ends: nothing more can happen
    assert evs[-1]["event"] == "end" and evs[-2]["data"]["status"] == "waiting"
    # what the retention job will remove: this session, not the live ones
    from psycopg.rows import dict_row

    from persistence import content_sessions

    async with await psycopg.AsyncConnection.connect(content_db, autocommit=True, row_factory=dict_row) as conn:
        assert [str(r["thread_id"]) for r in await content_sessions.expired(conn)] == [sid]


async def test_another_users_session_is_404(http: dict[str, httpx.AsyncClient]) -> None:
    alice, bob = http["alice"], http["bob"]
    sid = await create(alice, articleId="art-5", initialStage="research",
                       context={"topic": "Orvane method", "sourceMode": "web"})
    await settled(alice, sid)
    for method, path, body in (("GET", "", None), ("POST", "/actions", {"action": "approve_research"}),
                               ("GET", "/events", None), ("GET", "/export/md", None)):
        r = await bob.request(method, f"/api/v1/sessions/{sid}{path}", json=body)
        assert r.status_code == 404 and r.json()["error"] == "not_found", (path, r.text)
    assert (await alice.get("/api/v1/sessions/not-a-uuid")).status_code == 422  # as every malformed id
    r = await alice.post("/api/v1/sessions", json={"articleId": "x", "initialStage": "research"})
    assert r.status_code == 422
    r = await alice.post("/api/v1/sessions", json={"articleId": "x", "initialStage": "styling",
                                                   "context": {"topic": "t"}})
    assert r.status_code == 422
    before = (await alice.post("/threads/count", json={})).json()
    r = await alice.post("/api/v1/sessions", json={"articleId": "x", "initialStage": "research", "context": {
        "topic": "t", "settings": {"content.session_ttl_hours": 1}}})  # a user setting, not a session one
    assert r.status_code == 403 and r.json()["error"] == "scope_forbidden", r.text
    assert (await alice.post("/threads/count", json={})).json() == before  # no session was left behind


async def test_a_failed_stage_ends_the_session_with_an_error(http: dict[str, httpx.AsyncClient]) -> None:
    alice = http["alice"]
    # alice's knowledge base is empty: every research query of a local session finds nothing
    sid = await create(alice, articleId="art-6", initialStage="research",
                       context={"topic": "Orvane tides", "sourceMode": "local"})
    s = await settled(alice, sid)
    assert s["progress"]["status"] == "error" and s["availableActions"] == []
    assert "failed" in s["error"]["message"]
    evs = await events(alice, sid)
    assert [e["event"] for e in evs][-2:] == ["error", "end"]
    r = await alice.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_research"})
    assert r.status_code == 409 and r.json()["availableActions"] == []


# --- crash ----------------------------------------------------------------------------------------------
@pytest.fixture
def crash_db() -> Iterator[str]:
    url = create_database("clew_content_crash")
    yield url
    drop_database(url)


async def test_worker_killed_while_writing_continues_where_it_was(
    crash_db: str, tmp_path: Path, web: WebStub, llm: OpenAIStub
) -> None:
    """An API process without workers and a `clew worker`; the worker is SIGKILLed while a section's model
    call is in flight, another worker takes the run over, and the session's event stream, open on the API
    all along, carries on to the next decision."""
    env = _env(web, llm)
    api = await asyncio.to_thread(ClewProcess(crash_db, tmp_path, workers=0, env=env).start)
    first = await asyncio.to_thread(ClewProcess(crash_db, tmp_path, kind="worker", workers=2, env=env).start)
    second: ClewProcess | None = None
    try:
        key = await asyncio.to_thread(make_key, crash_db, "carol")
        async with httpx.AsyncClient(base_url=api.url, headers={"x-api-key": key}, timeout=60) as http:
            sid = await create(http, articleId="art-crash", initialStage="research",
                               context={"topic": "Orvane winter survey", "sourceMode": "web"})
            await settled(http, sid)
            await act(http, sid, "approve_research")
            searches = len(web.searches)
            asked = llm.calls(WRITER)
            # the first section call never answers in time; later calls get the stub's echo of their prompt
            # (so a second takeover under load changes nothing the test looks at)
            llm.script(WRITER, Reply("never delivered", delay=20))
            r = await http.post(f"/api/v1/sessions/{sid}/actions", json={"action": "approve_outline"})
            assert r.status_code == 202
            run_id = r.json()["actionId"]
            seen: list[dict[str, Any]] = []

            async def follow() -> None:  # the session's stream, from its start, until it waits at styling
                async for ev in stream(http, sid):
                    seen.append(ev)
                    if ev["event"] == "stage.change" and ev["data"] == {**ev["data"], "stage": "styling",
                                                                           "status": "waiting"}:
                        return

            follower = asyncio.create_task(follow())
            for _ in range(600):
                if llm.calls(WRITER) > asked:
                    break
                await asyncio.sleep(0.05)
            else:
                raise AssertionError("the section was never sent to the model")
            first.kill()  # SIGKILL while the section's model call is in flight
            second = await asyncio.to_thread(
                ClewProcess(crash_db, tmp_path, kind="worker", workers=2, env=env).start
            )
            await asyncio.wait_for(follower, 120)
            s = await settled(http, sid)
            assert s["progress"]["stage"] == "styling" and s["progress"]["status"] == "waiting"
            run = (await http.get(f"/threads/{sid}/runs/{run_id}")).json()
            assert run["status"] == "interrupted" and run["attempt"] >= 2  # taken over after the kill
            state = (await http.get(f"/threads/{sid}/state")).json()["values"]
            assert "stub reply: Write the section" in state["draft"] and "never delivered" not in state["draft"]
            assert "stub reply:" in state["styled"] and "Platform: blog" in state["styled"]
            assert [d["action"] for d in state["decisions"]] == ["approve_research", "approve_outline"]
            assert len(web.searches) == searches  # the research was not done again
            assert llm.calls(WRITER) >= asked + 3  # the lost call, its retry, the styling
            ids = [e["id"] for e in seen if "id" in e]
            assert len(ids) == len(set(ids))  # the stream delivered no event twice
            drafted = [e["data"] for e in seen if e["event"] == "draft.updated" and e["data"]["complete"]]
            assert [d["round"] for d in drafted] == [1]
            s = await act(http, sid, "approve_style")
            s = await act(http, sid, "approve")
            assert s["progress"]["stage"] == "done" and s["article"] == state["styled"]
    finally:
        first.kill()
        if second is not None:
            second.stop()
        api.stop()
