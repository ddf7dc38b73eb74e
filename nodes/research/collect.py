"""Closing a batch of research branches, and deciding what comes next.

``collect`` runs after every batch of ``research_branch`` sends. It seeds the progress counter from the
durable state (so progress is right again after a crash), ends the research with a clear error when every
branch of a level failed (:class:`nodes.research.state.ResearchFailed`: which level, and why each branch
failed), and -- in deep research, once a level is done -- plans the next level from the level's follow-up
questions (round-robin over the branches, already-asked queries skipped, topped up by the planner). A level
with nothing new to ask ends the recursion early. The route after it sends the next batch or goes on to
``write`` (:func:`nodes.research.branch.dispatch`).
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from nodes.research import progress
from nodes.research.branch import dispatch, pending_queries, run_key_of
from nodes.research.plan import clean_queries, plan_queries
from nodes.research.state import ResearchFailed, ResearchState, findings_of
from nodes.run_context import context_values


def make_collect_node(plan_next_level: bool) -> Any:
    """The ``collect`` node; with ``plan_next_level`` (deep research) it plans each next level."""

    async def collect(state: ResearchState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
        """Close a batch: seed progress, fail a level where every branch failed, plan the next level."""
        level = int(state.get("level") or 1)
        findings = findings_of(state.get("findings"))
        progress.COUNTER.seed(run_key_of(config), len(findings))
        if pending_queries(state, level):
            return {"stage": "researching"}
        this_level = [f for f in findings if f.level == level]
        if this_level and all(f.failed for f in this_level):
            reasons = sorted({f.error or "failed" for f in this_level})
            raise ResearchFailed(
                f"every query of research level {level} failed ({len(this_level)} of {len(this_level)}): "
                + "; ".join(reasons)
            )
        levels = list(state.get("levels") or [1])
        if not plan_next_level or level >= len(levels):
            return {"stage": "researched"}
        values = context_values(runtime)
        ok = [f for f in this_level if not f.failed]
        asked = [q["query"] for q in state.get("queries") or []]
        # follow-ups round-robin over the level's branches, so each direction gets its turn
        follow: list[str] = []
        longest = max((len(f.follow_ups) for f in ok), default=0)
        for i in range(longest):
            follow.extend(f.follow_ups[i] for f in ok if i < len(f.follow_ups))
        breadth = levels[level]
        queries = clean_queries(follow, breadth, asked)
        if len(queries) < breadth:
            context = [*follow, *(s.text for f in ok for s in f.learnings[:2])]
            more = await plan_queries(
                state["question"],
                breadth - len(queries),
                values,
                context=context,
                avoid=[*asked, *queries],
                config=config,
            )
            queries = clean_queries([*queries, *more], breadth, asked)
        if not queries:
            return {
                "stage": "researched",
                "notes": [*state.get("notes", []), f"level {level + 1}: nothing new to research"],
            }
        start = len(asked)
        planned = [{"index": start + i, "level": level + 1, "query": q} for i, q in enumerate(queries)]
        total = len(asked) + len(planned) + sum(levels[level + 1 :])
        progress.stage("planning", f"level {level + 1} of {len(levels)}: {len(planned)} queries")
        return {
            "queries": [*state.get("queries", []), *planned],
            "level": level + 1,
            "total_queries": total,
            "stage": "researching",
        }

    return collect


def route_after_collect(state: ResearchState) -> Any:
    return dispatch(state)
