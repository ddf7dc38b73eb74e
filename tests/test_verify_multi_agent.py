"""Multi-agent research checked against issue 13's text, where the author's tests left gaps:

- the offline report a user gets: section titles are the aspects the editor found, not search queries
  prefixed with the question's key phrase; a sentence is quoted in one section only (also when it starts with
  a lower-case word, which the sentence splitter does not split before: the writer's de-duplication and the
  reviewer's "every sentence cited" check both split drafts into sentences); it says it was written without an
  LLM; one numbered source list;
- the outline review through ``clew serve`` and the official ``langgraph-sdk`` client, offline: feedback
  shows a revised outline, approve writes the report, and each question is announced once (the ``human
  waiting`` team event is not sent again when the answered node resumes).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph_sdk import get_client

import graphs.multi_agent_research as multi
from nodes.editorial import _key
from nodes.section_team import sentences_of
from nodes.sources import bind_knowledge
from providers.keyphrases import keyphrases
from providers.offline import OFFLINE_NOTICE
from reports.citations import find_citations
from retrieval.knowledge import KnowledgeBase
from tests.research_support import QUESTION, WebStub, fill_kb, open_db
from tests.retrieval_helpers import make_kb
from tests.support.pg import create_database, drop_database
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


# --- the offline report, in process -------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def research_kb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KnowledgeBase]:
    db, url = await open_db("clew_verify_multi")
    kb = await make_kb(db, tmp_path_factory.mktemp("verify-multi-kb"))
    await fill_kb(kb, "alice")
    try:
        yield kb
    finally:
        await kb.close()
        await db.close()
        drop_database(url)


async def run_offline(question: str, sections: int) -> dict[str, Any]:
    graph = multi.graph.copy(update={"checkpointer": InMemorySaver()})
    config: Any = {
        "configurable": {"thread_id": str(uuid.uuid4()), "user_id": "alice"},
        "recursion_limit": 200,
    }
    await graph.ainvoke(
        {"question": question}, config, context={**NO_REVIEW, "research.max_sections": sections}
    )
    return dict((await graph.aget_state(config)).values)


async def test_the_offline_report_is_readable(research_kb: KnowledgeBase) -> None:
    bind_knowledge(research_kb)
    try:
        v = await run_offline(QUESTION, 4)
    finally:
        bind_knowledge(None)
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
