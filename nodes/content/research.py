"""The content pipeline's research stage: the research nodes' run on the topic, the brief, the editor's review.

``start_research`` turns the chosen topic into the research's question; the research graphs' own nodes
(:mod:`nodes.research`: ``plan``, ``research_branch``, ``collect``, and the citation check as
``check_sources``) research it on the same state keys, with the same source modes. ``write`` here is
:func:`research_brief`: the offline engine's quoted, numbered digest of the findings, whose numbering every
later draft cites. ``research_done`` reports it; ``review_research`` is the human's decision: start writing,
add their own sources (a finding of the editor's, :func:`editor_finding`), or research deeper.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command

from config_schema.access import setting
from nodes.content import events
from nodes.content.actions import (
    REVIEW_RESEARCH,
    ask_action,
)
from nodes.content.state import ContentState, decision_of, engine_flags, say, source_mode_of
from nodes.research.branch import next_sends
from nodes.research.plan import clean_queries, plan_queries
from nodes.research.state import Finding, ResearchFailed, findings_of
from nodes.research.write import offline_report
from nodes.run_context import context_values
from providers import offline as offline_engine
from providers.models import has_model
from providers.types import SourceDoc

EDITOR_FINDING_BASE = 10_000  # indexes of findings made of the editor's own sources (never a query's index)
RESEARCH_BRIEF_WORDS = 900


async def start_research(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    offline = not has_model(values, "fast")
    topic = str(state["topic"]).strip()
    events.stage_change("research", f"researching {topic!r}", offline=offline)
    return {
        "content_stage": "research",
        "content_status": "processing",
        "question": topic,
        "source_mode": source_mode_of(state, values),
        "engine": engine_flags(state, "research", offline),
    }


async def research_brief(state: ContentState) -> dict[str, Any]:
    """The research's quoted, numbered digest (the sources every draft cites)."""
    findings = findings_of(state.get("findings"))
    if not any(not f.failed for f in findings):
        raise ResearchFailed("no query of this research found any usable source")
    events.step("research", "brief", "summarising the findings")
    topic = str(state.get("topic") or state.get("question") or "")
    md, numbered = await asyncio.to_thread(
        lambda: offline_report(topic, findings, word_budget=RESEARCH_BRIEF_WORDS)
    )
    return {"report": md, "sources": [s.model_dump() for s in numbered]}


async def research_done(state: ContentState) -> dict[str, Any]:
    findings = findings_of(state.get("findings"))
    quality = state.get("quality") or {}
    offline = bool((state.get("engine") or {}).get("research", True))
    summary = {
        "topic": state.get("topic"),
        "queries": [q["query"] for q in state.get("queries") or []],
        "findings": len(findings),
        "failed": sum(1 for f in findings if f.failed),
        "sources": state.get("sources") or [],
        "quality": quality,
        "offline": offline,
    }
    events.emit(events.RESEARCH_COMPLETED, summary)
    return {
        "content_status": "waiting",
        "messages": [
            say(
                "research",
                f"{len(summary['sources'])} sources from {len(findings)} searches; brief:\n\n{state.get('report', '')}",
                offline,
            )
        ],
    }


def editor_finding(state: Mapping[str, Any], sources: list[dict[str, Any]]) -> Finding:
    existing = [int(f["index"]) for f in state.get("findings") or [] if int(f["index"]) >= EDITOR_FINDING_BASE]
    docs = []
    for s in sources:
        digest = hashlib.sha256(f"{s['title']}\n{s['text']}".encode()).hexdigest()[:16]
        url = str(s.get("url") or "")
        docs.append(SourceDoc(id=url or f"editor:{digest}", url=url, title=str(s["title"]), text=str(s["text"]),
                              metadata={"added_by": "editor"}))
    topic = str(state.get("topic") or "")
    summary = offline_engine.summarize(topic, docs, 2 * len(docs) + 1)
    return Finding(
        index=max(existing, default=EDITOR_FINDING_BASE - 1) + 1,
        query="sources added by the editor",
        level=int(state.get("level") or 1),
        docs=docs,
        learnings=list(summary.sentences),
        notes=["added by the editor"],
    )


async def review_research(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> Command[Any]:
    choice = ask_action(
        REVIEW_RESEARCH,
        "Review the research: start writing, add your own sources, or research deeper.",
        data={"sources": state.get("sources") or [], "quality": state.get("quality") or {}},
    )
    decision = decision_of("research", choice)
    p = choice.parameters
    if choice.action == "approve_research":
        return Command(update={"decisions": [decision]}, goto="outline")
    if choice.action == "add_sources":
        finding = editor_finding(state, list(p["sources"]))
        return Command(update={"findings": [finding.model_dump(mode="json")], "decisions": [decision]}, goto="write")
    # research deeper: the given queries, or new ones planned from the focus and the open follow-ups
    asked = [q["query"] for q in state.get("queries") or []]
    n = int(setting(context_values(runtime), "research.sub_queries"))
    if p.get("queries"):
        queries = clean_queries(list(p["queries"]), len(p["queries"]), asked)
    else:
        follow = [q for f in findings_of(state.get("findings")) for q in f.follow_ups]
        focus = str(p.get("focus") or "")
        queries = clean_queries(follow if not focus else [], n, asked)
        if len(queries) < n:
            more = await plan_queries(
                " ".join(x for x in (str(state.get("topic") or ""), focus) if x), n - len(queries),
                context_values(runtime), context=follow[:10], avoid=[*asked, *queries], config=config,
            )
            queries = clean_queries([*queries, *more], n, asked)
    if not queries:
        return Command(update={"decisions": [decision], "notes": [*(state.get("notes") or []),
                                                                  "research deeper: nothing new to search"]},
                       goto="write")
    level = int(state.get("level") or 1) + 1
    planned = [{"index": len(asked) + i, "level": level, "query": q} for i, q in enumerate(queries)]
    update = {
        "decisions": [decision],
        "queries": [*(state.get("queries") or []), *planned],
        "level": level,
        "levels": [*(state.get("levels") or [1]), len(planned)],
        "depth": level,
        "total_queries": len(asked) + len(planned),
        "content_status": "processing",
    }
    events.stage_change("research", f"researching deeper: {len(planned)} more queries",
                        offline=bool((state.get("engine") or {}).get("research", True)))
    return Command(update=update, goto=next_sends({**state, **update}))
