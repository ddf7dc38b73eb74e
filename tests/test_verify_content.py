"""Verification of issue 15 (content pipeline) against its text, where the first tests left a point implicit:
"With no model configured, every stage runs on the offline engine and says so" — through the session API of a
real ``clew serve`` that has no model at all (web sources from the local SearxNG stub), a whole session
topic → done; each action's answer is ``{actionId, status, progress}``; each waiting stage's message says the
offline engine did the work; the final article exports.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.core import http
from tests.support.keys import make_key
from tests.support.research import WebStub
from tests.support.server import ClewProcess, clew_server
from tests.test_content_sessions import events, settled, stage_changes

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def web() -> Iterator[WebStub]:
    with WebStub() as stub:
        yield stub


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, web: WebStub) -> Iterator[ClewProcess]:
    env = {
        "CLEW_AUTH": "api_key",
        "CLEW_SETTING__RESEARCH__CONCURRENCY": "1",
        "CLEW_SETTING__RESEARCH__SUB_QUERIES": "2",
        "CLEW_SETTING__CONTENT__OUTLINE_SECTIONS": "2",
        "CLEW_SETTING__LLM__DEFAULT_MODEL": "",  # no model at all
        **web.env(),
    }
    with clew_server(tmp_path_factory.mktemp("verify-content"), "clew_verify_content", env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
async def alice(server: ClewProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with http(server, make_key(server.db_url, "alice")) as c:
        yield c


async def act(client: httpx.AsyncClient, sid: str, action: str, **parameters: object) -> dict:  # type: ignore[type-arg]
    r = await client.post(f"/api/v1/sessions/{sid}/actions", json={"action": action, "parameters": parameters})
    assert r.status_code == 202, r.text
    body = r.json()
    assert set(body) >= {"actionId", "status", "progress"} and body["status"] == "processing", body
    assert set(body["progress"]) >= {"stage", "status", "progress"}
    s = await settled(client, sid)
    assert s["progress"]["status"] != "error", s
    return s


async def test_whole_session_offline_says_so_at_every_stage(alice: httpx.AsyncClient) -> None:
    r = await alice.post("/api/v1/sessions", json={"articleId": "off-1", "context": {
        "category": "lighthouse", "keywords": ["keepers"], "sourceMode": "web"}})
    assert r.status_code == 201, r.text
    sid = r.json()["sessionId"]
    s = await settled(alice, sid)
    said: dict[str, str] = {}
    for action in ("select_topic", "approve_research", "approve_outline", "approve_style", "approve"):
        assert s["progress"]["status"] == "waiting", s
        said[s["progress"]["stage"]] = s["lastMessage"]["content"]
        params = {}
        if action == "select_topic":
            params = {"topicId": s["availableActions"][0]["parameters"]["properties"]["topicId"]["enum"][0]}
        s = await act(alice, sid, action, **params)
    assert s["progress"]["stage"] == "done" and s["progress"]["status"] == "done"
    assert s["offline"] == {"topic": True, "research": True, "writing": True, "styling": True, "review": True}
    assert set(said) == {"topic", "research", "writing", "styling", "review"}
    for stage, message in said.items():
        assert "offline" in message.lower(), (stage, message)
    assert s["article"].startswith("# ") and "## Sources" in s["article"] and "[1]" in s["article"]
    for fmt in ("html", "pdf", "docx"):
        r = await alice.get(f"/api/v1/sessions/{sid}/export/{fmt}")
        assert r.status_code == 200 and r.content, fmt
    evs = await events(alice, sid)
    assert stage_changes(evs) == ["topic", "research", "writing", "styling", "review"]
    working = [e["data"] for e in evs if e["event"] == "stage.change" and e["data"]["status"] == "processing"]
    assert working and all(c["offline"] is True for c in working), working  # each stage's start says so
