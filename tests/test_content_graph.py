"""The content-pipeline graph run in-process (InMemorySaver) over a real knowledge base with the offline
engine: every stage, the actions each interrupt declares, revisions, and the declared-actions table of
``docs/content-pipeline.md``."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langgraph.checkpoint.memory import InMemorySaver
from langgraph.types import Command

from graphs.content_pipeline import graph
from nodes.content.actions import DECLARED
from nodes.content.review import flesch_kincaid_grade, review_article
from retrieval.knowledge import KnowledgeBase
from tests.support.research import corpus_kb
from tests.support.runtime import node_runtime

LOCAL = {"research.source_mode": "local", "research.sub_queries": 2}


@pytest.fixture(scope="module")
async def content_kb(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[KnowledgeBase]:
    async with corpus_kb("clew_content_graph", tmp_path_factory.mktemp("content-kb")) as kb:
        yield kb


@pytest.fixture(autouse=True)
def bound_kb(content_kb: KnowledgeBase) -> Iterator[KnowledgeBase]:
    with node_runtime(knowledge=content_kb):
        yield content_kb


class Session:
    def __init__(self, context: dict[str, Any] | None = None) -> None:
        self.graph = graph.copy(update={"checkpointer": InMemorySaver()})
        self.context = {**LOCAL, **(context or {})}
        self.config = {"configurable": {"thread_id": str(uuid.uuid4()), "langgraph_auth_user_id": "alice"}, "recursion_limit": 400}
        self.events: list[dict[str, Any]] = []

    async def run(self, value: Any) -> dict[str, Any]:
        async for chunk in self.graph.astream(value, self.config, context=self.context, stream_mode="custom"):
            if isinstance(chunk, dict) and "event" in chunk:
                self.events.append(chunk)
        state = await self.graph.aget_state(self.config)
        return {"values": state.values, "interrupts": [i.value for i in state.interrupts]}

    async def act(self, action: str, **parameters: Any) -> dict[str, Any]:
        return await self.run(Command(resume={"action": action, "parameters": parameters}))

    def stages(self) -> list[str]:
        return [e["data"]["stage"] for e in self.events if e["event"] == "stage.change"]


def actions(out: dict[str, Any]) -> list[str]:
    return [a["id"] for a in out["interrupts"][0]["data"]["actions"]]


async def test_whole_pipeline_offline() -> None:
    s = Session()
    out = await s.run({"article_id": "a1", "category": "lighthouse", "keywords": ["Velmora"]})
    assert out["interrupts"][0]["data"]["stage"] == "topic"
    assert actions(out) == ["select_topic", "custom_topic", "discover_topics"]
    topics = out["values"]["topics"]
    assert topics and all(t["angle"] for t in topics)
    out = await s.act("custom_topic", topic="The Velmora lighthouse keepers")
    assert out["interrupts"][0]["data"]["stage"] == "research"
    assert out["values"]["sources"] and out["values"]["quality"]["passed"]
    out = await s.act("approve_research")
    assert actions(out) == ["approve_outline", "edit_outline"]
    out = await s.act("edit_outline", sections=["Keepers and their watches", "The lamp"])
    assert out["interrupts"][0]["data"]["stage"] == "styling"
    draft1 = out["values"]["draft"]
    assert "## Keepers and their watches" in draft1 and "[1]" in draft1
    out = await s.act("approve_style")
    assert out["interrupts"][0]["data"]["stage"] == "review"
    assert actions(out) == ["approve", "request_changes"]
    review = out["values"]["review"]
    assert {c["id"] for c in review["checks"]} == {"claims_cited", "citations_stored", "length", "reading_level",
                                                    "banned_words"}
    out = await s.act("request_changes", notes="say more about the museum in the keepers' cottage")
    assert out["interrupts"][0]["data"]["stage"] == "styling"
    assert out["values"]["draft"] != draft1
    out = await s.act("approve_style")
    out = await s.act("approve")
    assert out["interrupts"] == []
    values = out["values"]
    assert values["content_stage"] == "done" and values["final_article"].startswith("# ")
    assert [d["action"] for d in values["decisions"]] == [
        "custom_topic", "approve_research", "edit_outline", "approve_style", "request_changes", "approve_style",
        "approve",
    ]
    stages = s.stages()
    assert stages[0] == "topic" and stages[-1] == "done"
    assert all(e["data"]["offline"] for e in s.events if e["event"] == "stage.change")
    names = {e["event"] for e in s.events}
    assert {"topics.discovered", "research.completed", "draft.updated", "review.completed"} <= names


async def test_review_rounds_are_bounded() -> None:
    s = Session({"content.max_review_rounds": 0})
    await s.run({"article_id": "a2", "initial_stage": "research", "topic": "Velmora lighthouse lamp"})
    await s.act("approve_research")
    await s.act("approve_outline")
    out = await s.act("approve_style")
    assert actions(out) == ["approve"]


def test_banned_words_and_reading_level() -> None:
    md = "# T\n\n## A\n\nThe lamp is awesome and shines far [1]. This sentence cites nothing at all here.\n"
    result = review_article(md, [{"n": 1, "id": "x"}], length_words=800, banned=["awesome"], max_grade=30)
    checks = {c["id"]: c["passed"] for c in result["checks"]}
    assert checks == {"claims_cited": False, "citations_stored": True, "length": True, "reading_level": True,
                      "banned_words": False}
    assert flesch_kincaid_grade("The cat sat. The dog ran.") < flesch_kincaid_grade(
        "Institutional considerations notwithstanding, the organisational restructuring necessitated "
        "comprehensive reconsideration of infrastructural interdependencies."
    )


def test_doc_lists_the_declared_actions() -> None:
    from tests.support.content_docs import DOC, regenerated

    text = DOC.read_text(encoding="utf-8")
    assert regenerated(text) == text, "docs/content-pipeline.md is stale: uv run python -m tests.support.content_docs"
    for point in DECLARED:
        for action in point.actions:
            assert f"| `{point.point}` | `{action.id}` |" in text


async def test_other_topics_research_deeper_and_restyle() -> None:
    s = Session({"content.topic_count": 3})
    out = await s.run({"article_id": "a3", "category": "Velmora lighthouse"})
    first = [t["title"] for t in out["values"]["topics"]]
    out = await s.act("discover_topics", keywords=["harbour", "Quellin"])
    assert out["values"]["discovery_round"] == 2 and out["values"]["keywords"] == ["harbour", "Quellin"]
    second = out["values"]["topics"]
    assert second and not {t["title"] for t in second} & set(first)  # the first round's topics are not repeated
    enum = out["interrupts"][0]["data"]["actions"][0]["parameters"]["properties"]["topicId"]["enum"]
    assert enum == [t["id"] for t in second]
    out = await s.act("select_topic", topicId=second[0]["id"])
    assert out["values"]["topic"] == second[0]["title"]
    asked = len(out["values"]["queries"])
    out = await s.act("research_deeper", queries=["Velmora keepers salary"])
    values = out["values"]
    assert out["interrupts"][0]["data"]["stage"] == "research"
    assert [q["query"] for q in values["queries"]][asked:] == ["Velmora keepers salary"]
    assert values["level"] == 2 and any(f["query"] == "Velmora keepers salary" for f in values["findings"])
    await s.act("approve_research")
    out = await s.act("approve_outline")
    restyle = out["interrupts"][0]["data"]["actions"][1]
    assert restyle["id"] == "restyle"
    assert restyle["parameters"]["properties"]["preset"]["enum"] == ["blog_article", "newsletter", "social_thread"]
    out = await s.act("restyle", preset="social_thread")
    styled = out["values"]["styled"]
    assert out["values"]["preset"]["format"] == "social_thread"
    posts = [p for p in styled.split("## Sources")[0].split("\n\n")[1:] if p.strip()]
    assert len(posts) >= 2 and all(len(p) <= 290 for p in posts)
    assert all("[" in p for p in posts[1:])  # every post after the title keeps its citation
    out = await s.act("restyle", preset="newsletter", length_words=120)
    assert out["values"]["preset"]["length_words"] == 120 and "_In this issue:" in out["values"]["styled"]
    assert [d["action"] for d in out["values"]["decisions"]][-2:] == ["restyle", "restyle"]


def test_reading_level_is_not_graded_for_cjk_text() -> None:
    md = "# 灯塔\n\n## 历史\n\n维尔莫拉灯塔建于一八七一年，位于奎林港北面的玄武岩悬崖上 [1]。\n"
    result = review_article(md, [{"n": 1, "id": "x"}], length_words=800, banned=[], max_grade=1)
    check = next(c for c in result["checks"] if c["id"] == "reading_level")
    assert check["passed"] and "not measured" in check["detail"]


async def test_a_topic_without_initial_stage_starts_at_research() -> None:
    """An Agent Server run with a topic only (no initial_stage, no category or keywords): the topic is the
    chosen one, as with the session API's ``initialStage: research``."""
    s = Session()
    out = await s.run({"article_id": "a3", "topic": "Velmora lighthouse lamp"})
    assert out["values"]["content_stage"] == "research", out["values"].get("content_stage")
    assert out["values"]["question"] == "Velmora lighthouse lamp"
    assert "topic" not in s.stages()
    assert actions(out)[0] == "approve_research"
