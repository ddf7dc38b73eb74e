"""Research graphs run in-process (InMemorySaver) over a real knowledge base, with the offline engine or a
scripted OpenAI-compatible stub: planning, approval (approve / edit / reject), fan-out in batches, deep
research's recursion counts, a failing level, local mode without network, and the citation check."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import graphs.deep_research as deep
import graphs.research as standard
from nodes.research.plan import level_schedule
from nodes.research.review import review_citations
from nodes.research.state import ResearchFailed
from providers.offline import OFFLINE_NOTICE
from retrieval.knowledge import KnowledgeBase
from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.research import QUESTION, NetworkGuard, WebStub, corpus_kb
from tests.support.runtime import node_runtime


@pytest.fixture(scope="module")
async def research_kb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KnowledgeBase]:
    """A knowledge base holding the corpus for user ``alice`` (``nobody`` has no documents)."""
    async with corpus_kb("clew_research", tmp_path_factory.mktemp("research-kb")) as kb:
        yield kb


@pytest.fixture(autouse=True)
def bound_kb(research_kb: KnowledgeBase) -> Iterator[KnowledgeBase]:
    with node_runtime(knowledge=research_kb):
        yield research_kb


class Runner:
    """Runs a research graph on one thread, keeping its custom events."""

    def __init__(self, graph: Any, context: dict[str, Any], user: str = "alice") -> None:
        self.graph = graph.copy(update={"checkpointer": InMemorySaver()})
        self.context = context
        self.config = {
            "configurable": {"thread_id": str(uuid.uuid4()), "langgraph_auth_user_id": user},
            "recursion_limit": 200,
        }
        self.events: list[dict[str, Any]] = []

    async def run(self, value: Any) -> dict[str, Any]:
        async for mode, chunk in self.graph.astream(
            value, self.config, context=self.context, stream_mode=["custom", "values"]
        ):
            if mode == "custom":
                self.events.append(chunk)
        state = await self.graph.aget_state(self.config)
        return {"values": state.values, "interrupts": [i.value for i in state.interrupts]}

    def of(self, kind: str) -> list[dict[str, Any]]:
        return [e for e in self.events if e.get("type") == kind]


LOCAL = {"research.source_mode": "local"}


def assert_cited_from_state(values: dict[str, Any]) -> None:
    quality = values["quality"]
    assert quality["passed"], quality
    numbers = {s["n"] for s in values["sources"]}
    assert set(quality["cited"]) <= numbers
    retrieved = {
        d.get("metadata", {}).get("document_id") or d["url"] or d["id"]
        for f in values["findings"]
        if not f.get("error")
        for d in f["docs"]
    }
    # A knowledge source is a section of a retrieved document (id DOCUMENT_ID#sN, metadata.document_id).
    assert {s["metadata"].get("document_id") or s["id"] for s in values["sources"]} <= retrieved


async def test_standard_research_offline_local() -> None:
    r = Runner(standard.graph, {**LOCAL, "research.sub_queries": 3})
    out = await r.run({"question": QUESTION})
    v = out["values"]
    assert out["interrupts"] == []
    assert v["status"] == "done" and v["offline"] is True
    assert len(v["queries"]) == 3 and v["queries"][0]["query"] == QUESTION
    # one branch per sub-query, each researched exactly once
    assert sorted(f["index"] for f in v["findings"]) == [0, 1, 2]
    assert len([e for e in r.of("research.branch") if e["status"] == "started"]) == 3
    report = v["report"]
    assert report.startswith("# What is the history of the Velmora lighthouse?")
    assert OFFLINE_NOTICE in report and "## Sources" in report and "Velmora" in report
    assert_cited_from_state(v)
    assert v["cost"]["usd"] == 0 and v["cost"]["offline"] is True
    assert v["duration"] >= 0
    assert v["messages"][-1].content == report
    stages = [e["stage"] for e in r.of("research.stage")]
    assert stages[0] == "planning" and "writing" in stages and stages[-1] == "done"


async def test_offline_report_is_deterministic() -> None:
    a = await Runner(standard.graph, LOCAL).run({"question": QUESTION})
    b = await Runner(standard.graph, LOCAL).run({"question": QUESTION})
    assert a["values"]["report"] == b["values"]["report"]
    assert a["values"]["sources"] == b["values"]["sources"]


async def test_question_from_chat_message() -> None:
    out = await Runner(standard.knowledge_graph, {}).run(
        {"messages": [{"role": "user", "content": QUESTION}]}
    )
    assert out["values"]["question"] == QUESTION
    assert out["values"]["source_mode"] == "local"  # knowledge research forces the knowledge base
    assert out["values"]["quality"]["passed"]


@pytest.mark.parametrize("concurrency", [1, 2])
async def test_fan_out_respects_concurrency(concurrency: int) -> None:
    r = Runner(standard.graph, {**LOCAL, "research.sub_queries": 4, "research.concurrency": concurrency})
    out = await r.run({"question": QUESTION})
    running, peak = 0, 0
    for e in r.of("research.branch"):
        running += 1 if e["status"] == "started" else -1
        peak = max(peak, running)
    assert peak == concurrency
    assert len(out["values"]["findings"]) == len(out["values"]["queries"])


async def _interrupted(graph: Any) -> tuple[Runner, dict[str, Any]]:
    r = Runner(graph, {**LOCAL, "research.human_review": True, "research.sub_queries": 3})
    out = await r.run({"question": QUESTION})
    assert len(out["interrupts"]) == 1
    payload = out["interrupts"][0]
    assert payload["type"] == "clew.interrupt" and payload["kind"] == "approval"
    assert payload["options"] == ["approve", "edit", "reject"]
    assert payload["data"]["sub_queries"] == [q["query"] for q in out["values"]["queries"]]
    assert payload["schema"]["properties"]["edited"]["type"] == "array"
    assert "findings" not in out["values"] or out["values"]["findings"] == []
    return r, payload


@pytest.mark.parametrize("graph", [standard.graph, deep.graph], ids=["standard", "deep"])
async def test_plan_approval_approve(graph: Any) -> None:
    r, payload = await _interrupted(graph)
    out = await r.run(Command(resume={"decision": "approve"}))
    v = out["values"]
    assert v["plan_decision"] == "approve" and v["status"] == "done"
    level1 = [q["query"] for q in v["queries"] if q["level"] == 1]
    assert level1 == payload["data"]["sub_queries"]
    assert_cited_from_state(v)


async def test_plan_approval_edit_replaces_the_queries() -> None:
    r, _ = await _interrupted(standard.graph)
    edited = ["Velmora lighthouse keepers", "Velmora lamp automation"]
    out = await r.run(Command(resume={"decision": "edit", "edited": edited}))
    v = out["values"]
    assert [q["query"] for q in v["queries"]] == edited
    assert sorted(f["query"] for f in v["findings"]) == sorted(edited)
    assert v["status"] == "done" and "Velmora" in v["report"]
    assert_cited_from_state(v)


async def test_plan_approval_reject_ends_without_research() -> None:
    r, _ = await _interrupted(standard.graph)
    out = await r.run(Command(resume={"decision": "reject", "comment": "not now"}))
    v = out["values"]
    assert v["status"] == "rejected" and not v.get("report")
    assert not v.get("findings")
    assert not r.of("research.branch")
    assert "rejected" in v["messages"][-1].content


def test_level_schedule_halves_breadth() -> None:
    assert level_schedule(4, 3) == [4, 2, 2]
    assert level_schedule(8, 4) == [8, 4, 2, 2]
    assert level_schedule(3, 2) == [3, 2]
    assert level_schedule(1, 3) == [1, 1, 1]  # never wider than the level before
    assert level_schedule(5, 1) == [5]


PLANNED = [
    "Velmora lighthouse construction",
    "Velmora lighthouse lamp",
    "Velmora lighthouse keepers",
    "Quellin harbour trade",
    "Velmora automation",
    "Velmora keeper Ada Brennholt",
    "Quellin harbour board",
    "Velmora lighthouse museum",
    "Velmora solar panels",
    "Quellin herring boats",
]


@pytest.fixture
async def planner() -> AsyncIterator[tuple[OpenAIStub, dict[str, Any]]]:
    async with OpenAIStub(default_content=json.dumps({"queries": PLANNED})) as stub:
        values = {
            "llm.provider": "openai",
            "llm.base_url": stub.base_url,
            "llm.api_key": "test",
            "llm.strategic_model": "planner",
            "llm.max_retries": 0,
        }
        yield stub, values


async def test_deep_research_recursion_counts(planner: tuple[OpenAIStub, dict[str, Any]]) -> None:
    stub, values = planner
    r = Runner(
        deep.graph, {**LOCAL, **values, "research.breadth": 4, "research.depth": 3, "research.concurrency": 2}
    )
    out = await r.run({"question": QUESTION})
    v = out["values"]
    per_level = [len([q for q in v["queries"] if q["level"] == lvl]) for lvl in (1, 2, 3)]
    assert per_level == [4, 2, 2]
    assert v["levels"] == [4, 2, 2] and v["depth"] == 3
    assert [q["query"] for q in v["queries"] if q["level"] == 1] == PLANNED[:4]
    assert len({q["query"].lower() for q in v["queries"]}) == 8  # no query asked twice
    assert sorted(f["index"] for f in v["findings"]) == list(range(8))
    assert stub.calls("planner") >= 1
    events = r.of("research.progress")
    assert len(events) == 8
    keys = {
        "current_depth",
        "total_depth",
        "current_breadth",
        "total_breadth",
        "completed_queries",
        "total_queries",
        "current_query",
    }
    assert all(keys <= set(e) for e in events)
    last = events[-1]
    assert last["completed_queries"] == 8 and last["total_queries"] == 8 and last["total_depth"] == 3
    assert [e["current_depth"] for e in events] == [1, 1, 1, 1, 2, 2, 3, 3]
    assert {e["current_breadth"] for e in events if e["current_depth"] == 2} == {2}
    assert all(e["total_breadth"] == 4 for e in events)
    assert "## Level 3 findings" in v["report"]
    assert_cited_from_state(v)


@pytest.mark.parametrize("graph", [standard.graph, deep.graph], ids=["standard", "deep"])
async def test_a_level_where_every_branch_fails_stops_the_research(graph: Any) -> None:
    r = Runner(graph, {**LOCAL, "research.breadth": 3, "research.depth": 3}, user="nobody")
    with pytest.raises(ResearchFailed, match="every query of research level 1 failed"):
        await r.run({"question": QUESTION})
    assert not r.of("research.stage") or r.of("research.stage")[-1]["stage"] != "writing"
    failed = [e for e in r.of("research.branch") if e["status"] == "failed"]
    assert failed and all("no sources" in e["error"] for e in failed)


async def test_local_mode_makes_no_network_call(monkeypatch: pytest.MonkeyPatch) -> None:
    guard = NetworkGuard(monkeypatch)
    remote = {"search.retrievers": ["searxng"], "search.searxng_url": "http://search.example.org"}
    out = await Runner(standard.graph, {**LOCAL, **remote}).run({"question": QUESTION})
    assert out["values"]["status"] == "done"
    assert guard.refused == []
    # the guard is real: the same settings in web mode try to reach the remote retriever
    with pytest.raises(ResearchFailed):
        await Runner(standard.graph, {"research.source_mode": "web", **remote}).run({"question": QUESTION})
    assert any("search.example.org" in r for r in guard.refused)


async def test_web_mode_cites_fetched_pages() -> None:
    with WebStub() as web:
        out = await Runner(standard.graph, {"research.source_mode": "web", **web.values()}).run(
            {"question": QUESTION}
        )
    v = out["values"]
    assert v["status"] == "done"
    assert v["sources"] and all(s["url"].startswith(web.url + "/page/") for s in v["sources"])
    assert web.searches and web.pages
    assert "Orvane" in v["report"]
    assert_cited_from_state(v)


async def test_hybrid_mode_uses_both_sources() -> None:
    with WebStub() as web:
        out = await Runner(
            standard.graph, {"research.source_mode": "hybrid", **web.values(), "research.sub_queries": 2}
        ).run({"question": QUESTION})
    kinds = {d["metadata"].get("kind") for f in out["values"]["findings"] for d in f["docs"]}
    assert {"web", "knowledge"} <= kinds


def test_citation_check_catches_a_fabricated_number() -> None:
    sources = [{"n": 1, "id": "a"}, {"n": 2, "id": "b"}]
    ok = review_citations(
        "Fact one [1]. Fact two [2].\n\n## Sources\n\n- [1] a\n- [2] b\n", sources, ["a", "b"]
    )
    assert ok.passed and ok.cited == [1, 2]
    bad = review_citations("Fact one [1]. Invented fact [7].", sources, ["a", "b"])
    assert not bad.passed and bad.missing == [7] and "[7]" in bad.problems[0]
    stray = review_citations("Fact one [1].", sources, ["a"])  # a stored source nobody retrieved
    assert not stray.passed and stray.unretrieved_sources == ["b"]


async def test_a_model_report_citing_an_unknown_source_fails_its_quality_check() -> None:
    async with OpenAIStub() as stub:
        stub.script(
            "writer",
            Reply(
                content=(
                    "# Velmora\n\nThe lighthouse was built in 1871 [1]. It was painted gold in 1999 [9].\n\n"
                    "## References\n\n- [9] made up\n"
                )
            ),
        )
        values = {
            "llm.provider": "openai",
            "llm.base_url": stub.base_url,
            "llm.api_key": "test",
            "llm.smart_model": "writer",
            "llm.max_retries": 0,
        }
        out = await Runner(standard.graph, {**LOCAL, **values}).run({"question": QUESTION})
    v = out["values"]
    assert v["offline"] is False
    assert v["quality"]["passed"] is False and v["quality"]["missing"] == [9]
    assert v["status"] == "failed_quality_check"
    assert "made up" not in v["report"]  # the model's own source list is replaced by the stored one
    assert "- [1] " in v["report"]
    prompt = json.dumps(stub.requests[-1]["messages"])
    assert "[1]" in prompt and "Velmora" in prompt


async def test_model_extraction_drops_citations_of_unknown_documents() -> None:
    extraction = {
        "learnings": [
            {"text": "The Velmora lighthouse dates from 1871.", "sources": [1]},
            {"text": "It glows purple.", "sources": [42]},
        ],
        "follow_up_questions": ["Who paid for the lamp?"],
    }
    async with OpenAIStub(default_content=json.dumps(extraction)) as stub:
        values = {
            "llm.provider": "openai",
            "llm.base_url": stub.base_url,
            "llm.api_key": "test",
            "llm.fast_model": "extractor",
            "llm.max_retries": 0,
        }
        out = await Runner(standard.graph, {**LOCAL, **values, "research.sub_queries": 1}).run(
            {"question": QUESTION}
        )
    v = out["values"]
    learnings = [s["text"] for f in v["findings"] for s in f["learnings"]]
    assert learnings == ["The Velmora lighthouse dates from 1871."]
    assert "purple" not in v["report"]
    assert_cited_from_state(v)
