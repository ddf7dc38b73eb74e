"""Multi-agent research run in-process (InMemorySaver) over a real knowledge base: the offline team end to end,
the outline interrupt (accept, feedback -> revised outline, the revision cap, an edited outline used
verbatim), a reviewer rejecting once so the reviser's text lands, two sections researched at the same time,
and the events of each role -- with scripted models (a local OpenAI-compatible stub answering by role)."""

from __future__ import annotations

import asyncio
import json
import re
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

import graphs.multi_agent_research as multi
from engine.interrupts import answer_errors
from providers.offline import OFFLINE_NOTICE
from reports.citations import find_citations
from retrieval.knowledge import KnowledgeBase
from tests.support.multi_agent import ACCEPT, FRAMING, TeamStub, cited_draft, models, outline_json
from tests.support.research import QUESTION, corpus_kb
from tests.support.runtime import node_runtime

LOCAL = {"research.source_mode": "local"}
NO_REVIEW = {**LOCAL, "research.human_review": False}


@pytest.fixture(scope="module")
async def research_kb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KnowledgeBase]:
    async with corpus_kb("clew_multi_agent", tmp_path_factory.mktemp("multi-agent-kb")) as kb:
        yield kb


@pytest.fixture(autouse=True)
def bound_kb(research_kb: KnowledgeBase) -> Iterator[KnowledgeBase]:
    with node_runtime(knowledge=research_kb):
        yield research_kb


class Runner:
    """Runs the graph on one thread, keeping its custom events (with their namespaces)."""

    def __init__(self, context: dict[str, Any], user: str = "alice") -> None:
        self.graph = multi.graph.copy(update={"checkpointer": InMemorySaver()})
        self.context = context
        self.config = {
            "configurable": {"thread_id": str(uuid.uuid4()), "langgraph_auth_user_id": user},
            "recursion_limit": 200,
        }
        self.events: list[tuple[tuple[str, ...], dict[str, Any]]] = []

    async def run(self, value: Any) -> dict[str, Any]:
        async for ns, mode, chunk in self.graph.astream(
            value, self.config, context=self.context, stream_mode=["custom", "values"], subgraphs=True
        ):
            if mode == "custom":
                self.events.append((ns, chunk))
        state = await self.graph.aget_state(self.config)
        return {"values": state.values, "interrupts": [i.value for i in state.interrupts]}

    def team(self, stage: str | None = None) -> list[dict[str, Any]]:
        return [
            e
            for _, e in self.events
            if e.get("type") == "research.team" and (stage is None or e["stage"] == stage)
        ]


def assert_one_source_list(values: dict[str, Any]) -> None:
    """One numbered source list: 1..N, each document once, every number cited, nothing else cited."""
    report, sources = values["report"], values["sources"]
    numbers = [s["n"] for s in sources]
    assert numbers == list(range(1, len(sources) + 1))
    assert len({s["id"] for s in sources}) == len(sources)
    assert report.count("## Sources") == 1
    assert find_citations(report) == numbers
    listed = re.findall(r"^- \[(\d+)\] ", report.split("## Sources", 1)[1], flags=re.M)
    assert [int(n) for n in listed] == numbers
    assert values["quality"]["passed"], values["quality"]


def section_titles(report: str) -> list[str]:
    return re.findall(r"^## (.+)$", report, flags=re.M)


# --- offline ------------------------------------------------------------------------------------------------


async def test_offline_team_end_to_end() -> None:
    r = Runner({**NO_REVIEW, "research.max_sections": 3})
    out = await r.run({"question": QUESTION})
    v = out["values"]
    assert out["interrupts"] == []
    assert v["status"] == "done" and v["offline"] is True and v["mode"] == "multi_agent"
    assert v["plan_decision"] == "auto"
    outline = v["outline"]
    assert 1 <= len(outline["sections"]) <= 3
    assert sorted(s["index"] for s in v["sections"]) == list(range(len(outline["sections"])))
    report = v["report"]
    assert report.startswith(f"# {outline['title']}\n")
    assert OFFLINE_NOTICE in report
    titles = section_titles(report)
    assert titles[0] == "Contents" and titles[1] == "Introduction" and titles[-1] == "Sources"
    assert titles[2 : 2 + len(outline["sections"])] == [s["title"] for s in outline["sections"]]
    contents = report.split("## Contents", 1)[1].split("## Introduction", 1)[0]
    assert [s["title"] for s in outline["sections"]] == [
        t
        for t in re.findall(r"^\d+\. (.+)$", contents, flags=re.M)
        if t not in ("Introduction", "Conclusion")
    ]
    assert_one_source_list(v)
    assert v["cost"]["usd"] == 0 and v["cost"]["offline"] is True
    assert v["messages"][-1].content == report
    # the roles, in order, and every section's team
    stages = [e["stage"] for e in r.team()]
    assert stages[:2] == ["browser", "browser"] and stages[-1] == "publisher"
    assert (
        stages.index("editor") < stages.index("section") < stages.index("writer") < stages.index("publisher")
    )
    n = len(outline["sections"])
    done = [e for e in r.team("section") if e["status"] == "done"]
    assert sorted(e["section"] for e in done) == list(range(1, n + 1)) and {e["sections"] for e in done} == {
        n
    }
    reviews = r.team("reviewer")
    assert {e["section"] for e in reviews} == set(range(1, n + 1))
    # the section roles run inside the subgraph: their events carry its namespace
    inner = [ns for ns, e in r.events if e.get("stage") in ("researcher", "reviewer", "reviser")]
    assert inner and all(ns and ns[0].startswith("section_team:") for ns in inner)
    assert all(not ns for ns, e in r.events if e.get("stage") in ("section", "editor", "writer"))


async def test_offline_report_is_deterministic() -> None:
    a = await Runner({**NO_REVIEW, "research.max_sections": 2}).run({"question": QUESTION})
    b = await Runner({**NO_REVIEW, "research.max_sections": 2}).run({"question": QUESTION})
    assert a["values"]["report"] == b["values"]["report"]


# --- the outline interrupt ----------------------------------------------------------------------------------


async def _at_review(context: dict[str, Any]) -> tuple[Runner, dict[str, Any]]:
    r = Runner(context)
    out = await r.run({"question": QUESTION})
    assert len(out["interrupts"]) == 1
    payload = out["interrupts"][0]
    assert payload["type"] == "clew.interrupt" and payload["kind"] == "approval"
    assert payload["options"] == ["approve", "edit", "feedback"]
    assert payload["data"]["outline"] == out["values"]["outline"]
    assert not out["values"].get("sections")  # nothing researched before the human answered
    return r, payload


async def test_outline_review_is_on_by_default_and_accept_goes_on() -> None:
    r, payload = await _at_review({**LOCAL, "research.max_sections": 2})
    assert payload["data"]["revision"] == 0 and payload["data"]["max_revisions"] == 3
    schema = payload["schema"]
    assert answer_errors(schema, {"decision": "feedback"})  # feedback needs a comment
    assert answer_errors(schema, {"decision": "edit", "edited": {"title": "x", "sections": []}})
    assert not answer_errors(schema, {"decision": "feedback", "comment": "more on keepers"})
    out = await r.run(Command(resume={"decision": "approve"}))
    v = out["values"]
    assert v["plan_decision"] == "approve" and v["status"] == "done"
    assert v["outline"] == payload["data"]["outline"]
    assert_one_source_list(v)


async def test_offline_feedback_revises_the_outline() -> None:
    r, first = await _at_review({**LOCAL, "research.max_sections": 2})
    out = await r.run(Command(resume={"decision": "feedback", "comment": "Add the lighthouse museum"}))
    assert len(out["interrupts"]) == 1
    second = out["interrupts"][0]
    assert second["data"]["revision"] == 1
    assert second["data"]["outline"] != first["data"]["outline"]
    assert "museum" in second["data"]["outline"]["sections"][0]["title"].lower()
    assert out["values"]["outline_history"][0]["outline"] == first["data"]["outline"]


async def test_an_edited_outline_is_used_verbatim() -> None:
    r, _ = await _at_review({**LOCAL, "research.max_sections": 2})
    edited = {
        "title": "The Velmora light, told by its keepers",
        "sections": [
            {"title": "Ada Brennholt and the Marlow rescue", "brief": "the 1894 rescue"},
            {"title": "Automation of the lamp", "brief": "1987 and after"},
            {"title": "Quellin harbour board"},
        ],
    }
    out = await r.run(Command(resume={"decision": "edit", "edited": edited}))
    v = out["values"]
    assert v["plan_decision"] == "edit"
    assert v["outline"] == {**edited, "sections": [{"brief": "", **s} for s in edited["sections"]]}
    report = v["report"]
    assert report.startswith("# The Velmora light, told by its keepers\n")
    assert section_titles(report)[2:5] == [s["title"] for s in edited["sections"]]
    assert [q["query"] for q in v["queries"][1:]] == [s["title"] for s in edited["sections"]]
    assert_one_source_list(v)


# --- scripted models ----------------------------------------------------------------------------------------


@pytest.fixture
async def team_stub() -> AsyncIterator[TeamStub]:
    async with TeamStub() as stub:
        stub.handlers.update(
            {"researcher": cited_draft, "reviewer": lambda b: ACCEPT, "writer": lambda b: FRAMING}
        )
        yield stub


async def test_feedback_reaches_the_editor_and_the_revised_outline_is_shown(team_stub: TeamStub) -> None:
    outlines = iter(
        [
            outline_json("Velmora", "Construction of the tower"),
            outline_json("Velmora and its keepers", "The keepers", "Ada Brennholt"),
        ]
    )
    team_stub.handlers["editor"] = lambda b: next(outlines)
    r = Runner({**LOCAL, **models(team_stub), "research.max_sections": 2})
    out = await r.run({"question": QUESTION})
    assert [s["title"] for s in out["interrupts"][0]["data"]["outline"]["sections"]] == [
        "Construction of the tower"
    ]
    out = await r.run(Command(resume={"decision": "feedback", "comment": "Focus on the keepers instead"}))
    payload = out["interrupts"][0]
    assert payload["data"]["revision"] == 1
    assert payload["data"]["outline"]["title"] == "Velmora and its keepers"
    assert [s["title"] for s in payload["data"]["outline"]["sections"]] == ["The keepers", "Ada Brennholt"]
    revising = team_stub.prompts("editor")[1]
    assert "Focus on the keepers instead" in revising and "Construction of the tower" in revising
    out = await r.run(Command(resume={"decision": "approve"}))
    v = out["values"]
    assert v["status"] == "done" and v["offline"] is False
    assert section_titles(v["report"])[2:4] == ["The keepers", "Ada Brennholt"]
    assert team_stub.calls("editor") == 2


async def test_the_revision_cap_accepts_the_outline_as_it_is(team_stub: TeamStub) -> None:
    counter = iter(range(1, 10))
    team_stub.handlers["editor"] = lambda b: outline_json(f"Velmora v{next(counter)}", "The keepers")
    r = Runner({**LOCAL, **models(team_stub), "research.max_plan_revisions": 1})
    await r.run({"question": QUESTION})
    out = await r.run(Command(resume={"decision": "feedback", "comment": "Shorter title"}))
    payload = out["interrupts"][0]
    assert payload["data"]["revision"] == 1 and payload["data"]["max_revisions"] == 1
    assert "feedback now accepts the outline as it is" in payload["message"]
    out = await r.run(Command(resume={"decision": "feedback", "comment": "Even shorter"}))
    v = out["values"]
    assert out["interrupts"] == [] and v["status"] == "done"
    assert team_stub.calls("editor") == 2  # the original and one revision, no more
    assert v["plan_decision"] == "accepted_at_cap" and v["outline"]["title"] == "Velmora v2"
    assert "accepted as it is after 1 revision(s)" in v["report"] and "Even shorter" in v["report"]


async def test_a_rejecting_reviewer_gets_the_revisers_text(team_stub: TeamStub) -> None:
    team_stub.handlers["editor"] = lambda b: outline_json("Velmora", "The keepers")
    verdicts = iter([json.dumps({"accept": False, "notes": ["name the famous keeper"]}), ACCEPT])
    team_stub.handlers["reviewer"] = lambda b: next(verdicts)
    team_stub.handlers["researcher"] = lambda b: "Three keepers lived at the lighthouse [1]."
    team_stub.handlers["reviser"] = lambda b: (
        "REVISED: the keeper Ada Brennholt rescued eleven sailors in 1894 [1]."
    )
    r = Runner({**NO_REVIEW, **models(team_stub)})
    v = (await r.run({"question": QUESTION}))["values"]
    section = v["sections"][0]
    assert section["accepted"] and section["revisions"] == 1
    assert [x["accepted"] for x in section["reviews"]] == [False, True]
    assert "REVISED: the keeper Ada Brennholt" in v["report"]
    assert "Three keepers lived" not in v["report"]
    assert "name the famous keeper" in team_stub.prompts("reviser")[0]
    assert [(e["status"], e["revision"]) for e in r.team("reviewer")] == [
        ("started", 0),
        ("rejected", 0),
        ("started", 1),
        ("accepted", 1),
    ]
    assert_one_source_list(v)


async def test_the_automatic_checks_reject_an_uncited_sentence_until_the_cap(team_stub: TeamStub) -> None:
    team_stub.handlers["editor"] = lambda b: outline_json("Velmora", "The keepers")
    team_stub.handlers["researcher"] = lambda b: "The keepers were brave. They lived there [1]."
    team_stub.handlers["reviser"] = lambda b: "The keepers were still brave. They lived there [1]."
    r = Runner({**NO_REVIEW, **models(team_stub), "research.max_section_revisions": 1})
    v = (await r.run({"question": QUESTION}))["values"]
    section = v["sections"][0]
    assert not section["accepted"] and section["revisions"] == 1
    assert all("cite no source" in x["checks"][0] for x in section["reviews"])
    assert team_stub.calls("reviser") == 1 and team_stub.calls("reviewer") == 2
    assert any("was not accepted by its reviewer after 1 revision" in n for n in v["notes"])


async def test_two_sections_are_researched_at_the_same_time(team_stub: TeamStub) -> None:
    team_stub.handlers["editor"] = lambda b: outline_json("Velmora", "The keepers", "The lamp")
    arrived: list[str] = []
    both = asyncio.Event()

    async def researcher(body: dict[str, Any]) -> str:
        arrived.append(TeamStub.section_of(body))
        if len(arrived) == 2:
            both.set()
        # each section's draft waits until the other section's request is in flight too
        await asyncio.wait_for(both.wait(), timeout=20)
        return cited_draft(body)

    team_stub.handlers["researcher"] = researcher
    r = Runner({**NO_REVIEW, **models(team_stub), "research.concurrency": 2})
    v = (await r.run({"question": QUESTION}))["values"]
    assert sorted(arrived) == ["The keepers", "The lamp"]
    assert v["status"] == "done" and len(v["sections"]) == 2
    started = [e["section"] for e in r.team("section") if e["status"] == "started"]
    first_done = next(i for i, e in enumerate(r.team("section")) if e["status"] == "done")
    assert sorted(started) == [1, 2] and first_done == 2  # both started before either finished
    assert_one_source_list(v)


def test_offline_reviewer_checks_and_reviser_fixes() -> None:
    from nodes.multi_agent.drafts import local_sources
    from nodes.multi_agent.section_team import mechanical_review, offline_revision
    from nodes.research.state import Finding
    from providers.types import SourceDoc

    docs = [
        SourceDoc(
            id="a",
            title="Keepers",
            text="Three keepers lived at the Velmora lighthouse in rotating watches. "
            "Ada Brennholt rescued eleven sailors from the schooner Marlow in 1894.",
        ),
        SourceDoc(
            id="b",
            title="Automation",
            text="Solar panels on the gallery have charged the Velmora lighthouse batteries since 2009.",
        ),
    ]
    finding = Finding(index=1, query="keepers", docs=docs)
    _, numbered = local_sources(finding)
    sources = [s.model_dump() for s in numbered]
    assert [s["id"] for s in sources] == ["a", "b"]
    draft = "Three keepers lived at the Velmora lighthouse in rotating watches [1]. They were brave. It glowed [7]."
    problems = mechanical_review(draft, sources, "Keepers", "the keepers and the Marlow rescue")
    assert any("1 sentence(s) cite no source" in p and "They were brave" in p for p in problems)
    assert any("cites [7]" in p for p in problems)
    assert not any(p.startswith("off the brief") for p in problems)
    off = mechanical_review(draft, sources, "Solar batteries", "solar panels charging the batteries")
    assert any(p.startswith("off the brief") and "solar" in p for p in off)
    fixed = offline_revision(
        draft, sources, finding, "Solar batteries", off, "solar panels charging the batteries"
    )
    assert "They were brave" not in fixed and "[7]" not in fixed and "It glowed" not in fixed
    assert (
        "Solar panels on the gallery have charged the Velmora lighthouse batteries since 2009 [2]." in fixed
    )
    assert mechanical_review(fixed, sources, "Solar batteries", "solar panels charging the batteries") == []
