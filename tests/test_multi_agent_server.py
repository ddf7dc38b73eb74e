"""Multi-agent research on real processes: an API process without workers and `clew worker` processes that
the tests kill, web sources from a local SearxNG stub, models from a stub answering by role.

- started by ``POST /api/v1/research/start {mode: "multi_agent"}``, the worker is SIGKILLed while one section
  is researched and the other is finished: another worker completes the run, and the finished section's
  model calls were made once;
- through the Agent Server routes (langgraph-sdk): the outline interrupt, a resume that breaks its schema
  (422), an edited outline, and the team's events namespaced by the section subgraph with
  ``stream_subgraphs`` (and only the root's without it).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.core import eventually
from tests.support.multi_agent import ACCEPT, FRAMING, TeamStub, cited_draft, models_env, outline_json
from tests.support.pg import create_database, drop_database
from tests.support.research import QUESTION, WebStub
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow

ENV = {"CLEW_LEASE_SECONDS": "3", "CLEW_MAX_ATTEMPTS": "4"}


@pytest.fixture(scope="module")
def web() -> Iterator[WebStub]:
    with WebStub() as stub:
        yield stub


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[TeamStub]:
    async with TeamStub() as s:
        yield s


@pytest.fixture(autouse=True)
def fresh_handlers(stub: TeamStub) -> None:
    stub.handlers.clear()
    stub.handlers.update(
        {"researcher": cited_draft, "reviewer": lambda b: ACCEPT, "writer": lambda b: FRAMING}
    )
    stub.log.clear()
    stub.requests.clear()


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = create_database("clew_multi_agent")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def env(web: WebStub, stub: TeamStub) -> dict[str, str]:
    return {**ENV, **web.env(), **models_env(stub)}


@pytest.fixture(scope="module")
def api(db: str, env: dict[str, str], tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(db, tmp_path_factory.mktemp("multi-agent-api"), workers=0, env=env).start()
    yield proc
    proc.stop()


@pytest.fixture
def spawn(db: str, env: dict[str, str], tmp_path: Path) -> Iterator[Any]:
    procs: list[ClewProcess] = []

    def _spawn() -> ClewProcess:
        p = ClewProcess(db, tmp_path, kind="worker", workers=4, env=env).start(wait=False)
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        p.kill()


async def started(p: ClewProcess) -> ClewProcess:
    await asyncio.to_thread(p.wait_log, "worker started")
    return p


def section_writes(db: str, thread_id: str) -> int:
    """Writes to the ``sections`` channel: the browser's reset, then one per finished section (a ``Send``
    branch's result, saved as a pending write of its super-step)."""
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(
            "SELECT count(*) FROM checkpoint_writes WHERE thread_id = %s AND checkpoint_ns = '' "
            "AND channel = 'sections'",
            (thread_id,),
        ).fetchone()
    return int(row[0]) if row else 0


async def test_sigkill_while_sections_run_keeps_the_finished_section(
    api: ClewProcess, db: str, stub: TeamStub, spawn: Any
) -> None:
    stub.handlers["editor"] = lambda b: outline_json("Velmora", "Keepers", "Lamp")
    gate, held = asyncio.Event(), asyncio.Event()

    async def researcher(body: dict[str, Any]) -> str:
        if TeamStub.section_of(body) == "Lamp" and not gate.is_set():
            held.set()
            await gate.wait()  # the worker is killed while this section waits for its draft
        return cited_draft(body)

    stub.handlers["researcher"] = researcher
    w1 = await started(spawn())
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        r = await http.post(
            "/api/v1/research/start",
            json={
                "query": QUESTION,
                "mode": "multi_agent",
                "source": "web",
                "human_review": False,
                "settings": {"research.max_sections": 2},
            },
        )
        assert r.status_code == 201, r.text
        start = r.json()
        assert start["graph_id"] == "multi_agent_research" and start["mode"] == "multi_agent"
        tid, run_id = start["thread_id"], start["run_id"]
        await eventually(held.is_set, what="the second section to be held")
        await eventually(lambda: section_writes(db, tid) >= 2, what="the first section's result to be saved")
        assert stub.calls("reviewer", "Keepers") == 1 and stub.calls("reviewer", "Lamp") == 0
        w1.kill()  # SIGKILL while the second section is being researched
        before = {
            (role, s): stub.calls(role, s) for role in ("researcher", "reviewer") for s in ("Keepers", "Lamp")
        }
        planned = stub.calls("editor")
        gate.set()
        await started(spawn())
        r = await http.get(f"/threads/{tid}/runs/{run_id}/join", timeout=120)
        assert r.status_code == 200, r.text
        run = (await http.get(f"/threads/{tid}/runs/{run_id}")).json()
        # at least one takeover (a loaded machine may cost the new worker its short lease once more)
        assert run["status"] == "success" and run["attempt"] >= 2
        result = (await http.get(f"/api/v1/research/{tid}/result")).json()
        assert result["mode"] == "multi_agent" and result["status"] == "done" and result["quality"]["passed"]
        assert "## Keepers" in result["report"] and "## Lamp" in result["report"]
        progress = (await http.get(f"/api/v1/research/{tid}/progress")).json()
        assert progress["completed_queries"] == progress["total_queries"] == 3
        md = await http.get(f"/api/v1/research/{tid}/export/md")
        assert md.status_code == 200 and md.text.strip() == result["report"].strip()
    # the finished section ran once: no model call of it after the crash
    assert before[("researcher", "Keepers")] == stub.calls("researcher", "Keepers") == 1
    assert before[("reviewer", "Keepers")] == stub.calls("reviewer", "Keepers") == 1
    # the cut-off section ran again
    assert before[("researcher", "Lamp")] == 1 and stub.calls("researcher", "Lamp") >= 2
    assert stub.calls("reviewer", "Lamp") >= 1
    # the outline survived the crash: no editor call after it (a loaded machine may have cost the first
    # worker its 3 s lease while the editor ran, so it may have been asked twice before the kill)
    assert planned >= 1 and stub.calls("editor") == planned and stub.calls("writer") >= 1


async def test_outline_review_and_namespaced_events_through_the_sdk(
    api: ClewProcess, stub: TeamStub, spawn: Any
) -> None:
    stub.handlers["editor"] = lambda b: outline_json("Velmora", "Keepers", "Lamp")
    await started(spawn())
    client = get_client(url=api.url)
    try:
        thread = await client.threads.create()
        tid = thread["thread_id"]
        first = [
            p
            async for p in client.runs.stream(
                tid,
                "multi_agent_research",
                input={"question": QUESTION, "source_mode": "web"},
                stream_mode=["updates", "custom"],
            )
        ]
        interrupts = [
            p.data["__interrupt__"] for p in first if p.event == "updates" and "__interrupt__" in p.data
        ]
        assert len(interrupts) == 1
        value = interrupts[0][0]["value"]
        assert value["kind"] == "approval" and value["options"] == ["approve", "edit", "feedback"]
        assert [s["title"] for s in value["data"]["outline"]["sections"]] == ["Keepers", "Lamp"]
        stages = [
            p.data["stage"] for p in first if p.event == "custom" and p.data.get("type") == "research.team"
        ]
        assert stages[:4] == ["browser", "browser", "editor", "editor"] and stages[-1] == "human"
        assert (await client.threads.get(tid))["status"] == "interrupted"

        async with httpx.AsyncClient(base_url=api.url, timeout=30) as http:
            bad = await http.post(
                f"/threads/{tid}/runs",
                json={
                    "assistant_id": "multi_agent_research",
                    "command": {"resume": {"decision": "feedback"}},
                },
            )
            assert bad.status_code == 422 and "comment" in bad.text
        edited = {"title": "The lamp of Velmora", "sections": [{"title": "Lamp", "brief": "the lamp"}]}
        second = [
            p
            async for p in client.runs.stream(
                tid,
                "multi_agent_research",
                command={"resume": {"decision": "edit", "edited": edited}},
                stream_mode=["custom", "values"],
                stream_subgraphs=True,
            )
        ]
        inner = [p for p in second if p.event.startswith("custom|")]
        assert inner and all(p.event.startswith("custom|section_team:") for p in inner)
        assert {p.data["stage"] for p in inner} == {"researcher", "reviewer"}
        assert all(p.data["section"] == 1 and p.data["sections"] == 1 for p in inner)
        root = [p.data for p in second if p.event == "custom" and p.data.get("type") == "research.team"]
        assert [(e["stage"], e["status"]) for e in root if e["stage"] == "section"] == [
            ("section", "started"),
            ("section", "done"),
        ]
        state = await client.threads.get_state(tid)
        values = state["values"]
        assert values["outline"] == edited and values["status"] == "done"
        assert values["report"].startswith("# The lamp of Velmora\n")
        assert values["exports"]["pdf"] == f"/api/v1/research/{tid}/export/pdf"
        # a second research on the thread starts afresh; without stream_subgraphs only the root's events arrive
        third = [
            p
            async for p in client.runs.stream(
                tid,
                "multi_agent_research",
                input={"question": "Who kept the Velmora light?", "source_mode": "web"},
                context={"research.human_review": False},
                stream_mode=["custom"],
            )
        ]
        assert not [p for p in third if "|" in p.event]
        sections = [p.data for p in third if p.event == "custom" and p.data.get("stage") == "section"]
        finished = sorted((e["section"], e["status"]) for e in sections if e["status"] != "started")
        assert finished == [(1, "done"), (2, "done")]
        values = (await client.threads.get_state(tid))["values"]
        assert values["question"] == "Who kept the Velmora light?" and values["status"] == "done"
        assert sorted(s["title"] for s in values["sections"]) == ["Keepers", "Lamp"]
        assert len(values["findings"]) == 3  # the browser's and the two sections', not the first research's
    finally:
        await client.http.client.aclose()
