"""Multi-agent research checked against issue 13's text, where the author's tests left gaps:

- the offline report a user gets: section titles are the aspects the editor found, not search queries
  prefixed with the question's key phrase; a sentence is quoted in one section only (also when it starts with
  a lower-case word, which the sentence splitter does not split before: the writer's de-duplication and the
  reviewer's "every sentence cited" check both split drafts into sentences); it says it was written without an
  LLM; one numbered source list;
- the offline reviser rewrites toward the same brief the reviewer checked (not only the title's keywords);
- the writer renumbers every section's local ``[n]`` into one source list, a document cited by two sections
  listed once;
- the outline review through ``clew serve`` and the official ``langgraph-sdk`` client, offline: feedback
  shows a revised outline, approve writes the report, and each question is announced once (the ``human
  waiting`` team event is not sent again when the answered node resumes); ``POST /api/v1/research/start``
  reviews the outline by default in this mode, and the report exports to md, pdf and docx.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.runtime import Runtime
from langgraph_sdk import get_client

import graphs.multi_agent_research as multi
from nodes.multi_agent.drafts import local_sources, sentences_of
from nodes.multi_agent.section_team import mechanical_review, reviser
from nodes.multi_agent.writer import _key, writer
from nodes.research.state import Finding, NumberedSource
from providers.offline import OFFLINE_NOTICE
from providers.offline.keyphrases import keyphrases
from providers.types import SourceDoc
from reports.citations import find_citations
from retrieval.knowledge import KnowledgeBase
from tests.support.pg import create_database, drop_database
from tests.support.research import QUESTION, WebStub, corpus_kb
from tests.support.runtime import node_runtime
from tests.support.server import ClewProcess

NO_REVIEW = {"research.source_mode": "local", "research.human_review": False}


def sections_of(report: str) -> dict[str, str]:
    """The report's ``## `` sections by heading."""
    parts = re.split(r"^## (.+)$", report, flags=re.M)
    return {parts[i].strip(): parts[i + 1] for i in range(1, len(parts) - 1, 2)}


def test_a_cited_full_stop_ends_a_sentence_whatever_follows() -> None:
    draft = "It survives a crash [1]. clew serves 0.91 of the ceiling [2]. Then [3] it ends [1][2]."
    assert sentences_of(draft) == [
        "It survives a crash [1].",
        "clew serves 0.91 of the ceiling [2].",
        "Then [3] it ends [1][2].",
    ]


KEEPERS = SourceDoc(
    id="a",
    title="Keepers",
    text="Three keepers lived at the Velmora lighthouse in rotating watches. "
    "Ada Brennholt rescued eleven sailors from the schooner Marlow in 1894.",
)
SOLAR = SourceDoc(
    id="b",
    title="Automation",
    text="Solar panels on the gallery have charged the Velmora lighthouse batteries since 2009.",
)
HARBOUR = SourceDoc(id="c", title="Harbour", text="The Quellin harbour board paid for the lamp.")


async def test_the_offline_reviser_follows_the_brief_the_reviewer_checked() -> None:
    finding = Finding(index=1, query="keepers", docs=[KEEPERS, SOLAR])
    _, numbered = local_sources(finding)
    sources = [s.model_dump() for s in numbered]
    title, brief = "Keepers", "solar panels charging the batteries"
    draft = "Three keepers lived at the Velmora lighthouse in rotating watches [1]."
    checks = mechanical_review(draft, sources, title, brief)
    assert any(c.startswith("off the brief") for c in checks)  # the title is covered, the brief is not
    state: Any = {
        "index": 0,
        "total": 1,
        "title": title,
        "brief": brief,
        "draft": draft,
        "sources": sources,
        "finding": finding.model_dump(mode="json"),
        "revision": 0,
        "reviews": [{"round": 0, "accepted": False, "notes": checks, "checks": checks}],
    }
    out = await reviser(state, {"configurable": {}}, Runtime(context=None))
    assert out["revision"] == 1
    assert "Solar panels on the gallery have charged the Velmora lighthouse batteries since 2009 [2]." in (
        out["draft"]
    )
    assert mechanical_review(out["draft"], sources, title, brief) == []


async def test_the_writer_renumbers_the_sections_into_one_source_list() -> None:
    def local(*docs: SourceDoc) -> list[dict[str, Any]]:
        return [NumberedSource.of(n, d).model_dump() for n, d in enumerate(docs, start=1)]

    sections = [
        {
            "index": 0,
            "title": "Keepers",
            "draft": "Three keepers lived there [1]. Solar panels came in 2009 [2].",
            "sources": local(KEEPERS, SOLAR),
            "accepted": True,
        },
        {
            "index": 1,
            "title": "Money",
            "draft": "The panels are on the gallery [1]. The harbour board paid [2][1].",
            "sources": local(SOLAR, HARBOUR),
            "accepted": True,
        },
    ]
    state: Any = {
        "question": QUESTION,
        "outline": {"title": "Velmora", "sections": [{"title": s["title"]} for s in sections]},
        "sections": sections,
        "findings": [],
    }
    out = await writer(state, {"configurable": {}}, Runtime(context=None))
    assert [(s["n"], s["id"]) for s in out["sources"]] == [(1, "a"), (2, "b"), (3, "c")]
    body = sections_of(out["report"])
    assert body["Keepers"].strip() == "Three keepers lived there [1]. Solar panels came in 2009 [2]."
    assert body["Money"].strip() == "The panels are on the gallery [2]. The harbour board paid [3][2]."
    assert find_citations(out["report"]) == [1, 2, 3] and out["report"].count("## Sources") == 1
    assert out["offline"] is True and OFFLINE_NOTICE in out["report"]


# --- the offline report, in process -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def research_kb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KnowledgeBase]:
    async with corpus_kb("clew_verify_multi", tmp_path_factory.mktemp("verify-multi-kb")) as kb:
        yield kb


async def run_offline(question: str, sections: int) -> dict[str, Any]:
    graph = multi.graph.copy(update={"checkpointer": InMemorySaver()})
    config: Any = {
        "configurable": {"thread_id": str(uuid.uuid4()), "langgraph_auth_user_id": "alice"},
        "recursion_limit": 200,
    }
    await graph.ainvoke(
        {"question": question}, config, context={**NO_REVIEW, "research.max_sections": sections}
    )
    return dict((await graph.aget_state(config)).values)


async def test_the_offline_report_is_readable(research_kb: KnowledgeBase) -> None:
    with node_runtime(knowledge=research_kb):
        v = await run_offline(QUESTION, 4)
    report, outline = v["report"], v["outline"]
    assert v["offline"] is True and v["status"] == "done"
    # says it was written without an LLM, under the title
    assert report.split("\n")[2] == f"> {OFFLINE_NOTICE}" and "without an LLM" in OFFLINE_NOTICE
    # section titles name aspects, not "<the question's key phrase> <aspect>" search queries
    main = keyphrases(QUESTION, top=1)[0].phrase.lower()
    titles = [s["title"] for s in outline["sections"]]
    assert len(titles) >= 2
    assert not [t for t in titles if t.lower().startswith(main + " ")], (main, titles)
    assert len({t.lower() for t in titles}) == len(titles)
    # a sentence is quoted by one section only (a section all of whose sentences an earlier one quotes keeps
    # its first rather than be empty: a small corpus)
    by_heading = sections_of(report.split("## Sources", 1)[0])
    seen: dict[str, str] = {}
    for title in titles:
        sentences = sentences_of(by_heading[title])
        for sentence in sentences:
            key = _key(sentence)
            assert key not in seen or sentences == [sentence], f"“{sentence}” is in “{seen[key]}” and “{title}”"
            seen.setdefault(key, title)
    # one numbered source list, citations renumbered across the report
    numbers = [s["n"] for s in v["sources"]]
    assert numbers == list(range(1, len(numbers) + 1)) and len({s["id"] for s in v["sources"]}) == len(numbers)
    assert find_citations(report) == numbers and report.count("## Sources") == 1


# --- the outline review through clew serve and the langgraph-sdk client -------------------------------------


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    url = create_database("clew_verify_multi_srv")
    with WebStub() as web:
        proc = ClewProcess(url, tmp_path_factory.mktemp("verify-multi-srv"), workers=2, env=web.env()).start()
        try:
            yield proc
        finally:
            proc.stop()
            drop_database(url)


def team_events(parts: list[Any], stage: str) -> list[dict[str, Any]]:
    return [
        p.data
        for p in parts
        if p.event == "custom" and p.data.get("type") == "research.team" and p.data.get("stage") == stage
    ]


def interrupt_of(parts: list[Any]) -> dict[str, Any]:
    found = [p.data["__interrupt__"] for p in parts if p.event == "updates" and "__interrupt__" in p.data]
    assert len(found) == 1, parts
    return dict(found[0][0]["value"])


@pytest.mark.slow
async def test_feedback_then_accept_through_the_sdk_offline(server: ClewProcess, tmp_path: Path) -> None:
    client = get_client(url=server.url)
    try:
        tid = (await client.threads.create())["thread_id"]

        async def stream(**kwargs: Any) -> list[Any]:
            return [
                p
                async for p in client.runs.stream(
                    tid, "multi_agent_research", stream_mode=["updates", "custom", "values"], **kwargs
                )
            ]

        first = await stream(
            input={"question": QUESTION, "source_mode": "web"}, context={"research.max_sections": 2}
        )
        asked = interrupt_of(first)
        assert asked["kind"] == "approval" and asked["data"]["revision"] == 0
        outline = asked["data"]["outline"]
        assert all(s["title"] in asked["message"] for s in outline["sections"])  # the human sees the outline
        assert [e["status"] for e in team_events(first, "human")] == ["waiting"]

        second = await stream(command={"resume": {"decision": "feedback", "comment": "Add the fog signal"}})
        revised = interrupt_of(second)
        assert revised["data"]["revision"] == 1 and revised["data"]["outline"] != outline
        assert "fog" in revised["data"]["outline"]["sections"][0]["title"].lower()
        # the answered question is not announced again: the feedback, then the revised outline's question
        assert [(e["status"], e["revision"]) for e in team_events(second, "human")] == [
            ("feedback", 0),
            ("waiting", 1),
        ]

        third = await stream(command={"resume": {"decision": "approve"}})
        assert [(e["status"], e["revision"]) for e in team_events(third, "human")] == [("approve", 1)]
        assert not [p for p in third if p.event == "updates" and "__interrupt__" in p.data]
        values = (await client.threads.get_state(tid))["values"]
        assert values["status"] == "done" and values["plan_decision"] == "approve"
        assert values["outline"] == revised["data"]["outline"]
        assert values["report"].startswith(f"# {values['outline']['title']}\n")
        assert OFFLINE_NOTICE in values["report"] and values["quality"]["passed"]
        headings = re.findall(r"^## (.+)$", values["report"], flags=re.M)
        assert headings[2 : 2 + len(values["outline"]["sections"])] == [
            s["title"] for s in values["outline"]["sections"]
        ]
        assert (await client.threads.get(tid))["status"] == "idle"
    finally:
        await client.http.client.aclose()


@pytest.mark.slow
async def test_research_start_reviews_the_outline_by_default_and_exports(server: ClewProcess) -> None:
    client = get_client(url=server.url)
    try:
        async with httpx.AsyncClient(base_url=server.url, timeout=120) as http:
            r = await http.post(
                "/api/v1/research/start",
                json={
                    "query": QUESTION,
                    "mode": "multi_agent",
                    "source": "web",
                    "settings": {"research.max_sections": 2},
                },
            )
            assert r.status_code == 201, r.text
            tid, run_id = r.json()["thread_id"], r.json()["run_id"]
            assert (await http.get(f"/threads/{tid}/runs/{run_id}/join")).status_code == 200
            thread = await client.threads.get(tid)
            assert thread["status"] == "interrupted"
            (value,) = [i["value"] for items in thread["interrupts"].values() for i in items]
            assert value["data"]["field"] == "outline" and value["options"] == ["approve", "edit", "feedback"]
            await client.runs.wait(tid, "multi_agent_research", command={"resume": {"decision": "approve"}})
            result = (await http.get(f"/api/v1/research/{tid}/result")).json()
            assert result["status"] == "done" and result["mode"] == "multi_agent"
            md = await http.get(f"/api/v1/research/{tid}/export/md")
            assert md.status_code == 200 and md.text.strip() == result["report"].strip()
            pdf = await http.get(f"/api/v1/research/{tid}/export/pdf")
            assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
            docx = await http.get(f"/api/v1/research/{tid}/export/docx")
            assert docx.status_code == 200 and docx.content.startswith(b"PK")
    finally:
        await client.http.client.aclose()
