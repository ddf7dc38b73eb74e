"""The sections of a multi-agent research: one ``Send`` per section into its team, and closing a batch.

:func:`dispatch` sends one ``Send`` per section not yet written, at most ``research.concurrency`` at a time;
each runs the section team's subgraph (:mod:`nodes.multi_agent.section_team`, compiled by
``graphs/multi_agent_research.py`` and handed to :func:`make_section_team_node`), and its result is a
pending write of the root graph, so after a crash only the unfinished sections run again.
:func:`sections_done` closes a batch.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Send

from nodes.multi_agent.events import team
from nodes.multi_agent.section_team import section_result
from nodes.multi_agent.state import SECTION_NODE, EditorialState
from nodes.research import progress


def pending_sections(state: Mapping[str, Any]) -> list[int]:
    done = {int(s["index"]) for s in state.get("sections") or []}
    return [i for i in range(len((state.get("outline") or {}).get("sections") or [])) if i not in done]


def dispatch(state: Mapping[str, Any]) -> list[Send] | str:
    """One ``Send`` per section not yet written, at most ``research.concurrency`` at a time."""
    pending = pending_sections(state)
    if not pending:
        return "writer"
    outline = state["outline"]
    total = len(outline["sections"])
    batch = pending[: max(1, int(state.get("concurrency") or 1))]
    progress.stage("researching", f"{len(pending)} of {total} sections to write")
    return [
        Send(
            SECTION_NODE,
            {
                "index": i,
                "total": total,
                "title": outline["sections"][i]["title"],
                "brief": outline["sections"][i].get("brief", ""),
                "question": state.get("question", ""),
                "source_mode": state.get("source_mode", "local"),
                "budget_words": int(state.get("budget_words") or 300),
                "completed": total - len(pending),
            },
        )
        for i in batch
    ]


def make_section_team_node(section_graph: Any) -> Any:
    """The ``section_team`` node: the ``Send`` target running ``section_graph`` (the compiled section team,
    researcher -> reviewer -> reviser) for one section."""

    async def section_team(
        arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]
    ) -> dict[str, Any]:
        n, total, title = int(arg["index"]) + 1, int(arg["total"]), str(arg["title"])
        team("section", "started", section=n, sections=total, title=title, revision=0)
        final = await section_graph.ainvoke(arg, config, context=runtime.context)
        result = section_result(final)
        team(
            "section",
            "failed" if result["error"] else "done",
            section=n,
            sections=total,
            title=title,
            revision=result["revisions"],
            accepted=result["accepted"],
            message=result["error"] or "",
        )
        completed = await progress.COUNTER.increment(
            f"{(config.get('configurable') or {}).get('thread_id', '')}:sections",
            floor=int(arg.get("completed") or 0),
        )
        progress.progress(
            current_depth=2,
            total_depth=2,
            current_breadth=total,
            total_breadth=total,
            completed_queries=1 + min(completed, total),
            total_queries=1 + total,
            current_query=title,
        )
        return {"sections": [result], "findings": [final["finding"]]}

    return section_team


async def sections_done(state: EditorialState, config: RunnableConfig) -> dict[str, Any]:
    """Close a batch of sections (seeds the progress counter from the durable state)."""
    done = len(state.get("sections") or [])
    progress.COUNTER.seed(f"{(config.get('configurable') or {}).get('thread_id', '')}:sections", done)
    return {"stage": "researching" if pending_sections(state) else "researched"}


def route_after_sections(state: EditorialState) -> Any:
    return dispatch(state)
