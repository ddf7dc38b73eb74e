"""Research planning: sub-queries for a question (or the next level of a deep research), and plan approval.

The nodes: ``plan`` (:func:`make_plan_node`) turns the question into the first level of queries -- one level
of ``research.sub_queries`` for standard research, :func:`level_schedule` of ``research.breadth`` and
``research.depth`` for deep research; ``approve`` lets a human approve, edit or reject them when
``research.human_review`` is on. The routes after them dispatch the first batch of branches
(:func:`nodes.research.branch.dispatch`).

:func:`plan_queries` asks the ``strategic`` model for search queries (structured output, any provider) and,
with no model configured, uses the offline engine's key-phrase planner. Either way the result is cleaned:
whitespace normalised, duplicates and already-asked queries removed, at most ``n`` kept, never empty (the
question itself is the last resort), so a research always has something to search.

:func:`approve_plan` is the human-review step: a strong ``approval`` interrupt (:mod:`nodes.interrupts`)
showing the queries; the answer approves them, replaces them (``edit``: a non-empty list of strings) or
rejects the research.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from config_schema.access import setting
from engine.interrupts import Approval
from nodes.interrupts import ask_approval
from nodes.research import progress
from nodes.research.branch import branch_budget, dispatch
from nodes.research.state import ResearchFailed, ResearchState, checked_source_mode
from nodes.run_context import context_values
from providers import offline
from providers.models import get_model
from providers.structured import StructuredOutputError, structured

log = structlog.get_logger("clew.research.planning")

MAX_QUERY_CHARS = 300
MAX_EDITED_QUERIES = 20


class QueryPlan(BaseModel):
    """What the strategic model returns."""

    queries: list[str] = Field(min_length=1, description="Search queries, most important first.")


def normalize(query: str) -> str:
    return " ".join(str(query).split())[:MAX_QUERY_CHARS]


def clean_queries(candidates: Sequence[str], n: int, avoid: Sequence[str] = ()) -> list[str]:
    """At most ``n`` distinct non-empty queries not in ``avoid`` (case-insensitive), order kept."""
    seen = {normalize(a).lower() for a in avoid}
    out: list[str] = []
    for q in candidates:
        q = normalize(q)
        if q and q.lower() not in seen and len(out) < n:
            seen.add(q.lower())
            out.append(q)
    return out


def _prompt(question: str, n: int, context: Sequence[str], avoid: Sequence[str], tone: str) -> list[Any]:
    parts = [
        f"Research question: {question}",
        f"Write {n} distinct web/knowledge-base search queries that together cover the question. "
        "Each query must stand on its own (no pronouns referring to the question), be specific, and look at "
        "a different aspect. The first query should target the core of the question.",
    ]
    if context:
        parts.append(
            "What is known so far, and open follow-up questions:\n" + "\n".join(f"- {c}" for c in context)
        )
    if avoid:
        parts.append(
            "Do not repeat these queries, which were already searched:\n" + "\n".join(f"- {a}" for a in avoid)
        )
    return [
        SystemMessage(content=f"You are a meticulous research strategist. Tone of the final report: {tone}."),
        HumanMessage(content="\n\n".join(parts)),
    ]


async def plan_queries(
    question: str,
    n: int,
    values: Mapping[str, Any] | None,
    *,
    context: Sequence[str] = (),
    avoid: Sequence[str] = (),
    config: RunnableConfig | None = None,
) -> list[str]:
    """Up to ``n`` search queries for ``question`` (``context``: learnings and follow-ups so far)."""
    n = max(1, int(n))
    model = get_model(values, "strategic")
    candidates: list[str] = []
    if model is not None:
        try:
            plan = await structured(
                model,
                QueryPlan,
                _prompt(question, n, context, avoid, str(setting(values, "research.tone"))),
                config=config,
            )
            candidates = plan.queries
        except StructuredOutputError as exc:
            log.warning("query planning failed; using the offline planner", error=str(exc))
    out = clean_queries(candidates, n, avoid)
    if len(out) < n:
        # offline planner: the question first, then key phrases (of the question and of the context)
        more = await offline.aplan_queries(question, n + len(avoid) + len(out), list(context))
        out = clean_queries([*out, *more], n, avoid)
    if not out and normalize(question).lower() not in {normalize(a).lower() for a in avoid}:
        out = [normalize(question)]
    return out


EDIT_SCHEMA_ITEM: dict[str, Any] = {"type": "string", "minLength": 1, "maxLength": MAX_QUERY_CHARS}


def approve_plan(
    question: str, queries: Sequence[str], *, max_queries: int = 20, mode: str = "standard"
) -> Approval:
    """Ask a human to approve, edit or reject the plan (a strong ``approval`` interrupt).

    ``edit`` carries the replacement list of queries (1 to ``max_queries`` non-empty strings).
    """
    edit_schema = {"type": "array", "items": EDIT_SCHEMA_ITEM, "minItems": 1, "maxItems": max_queries}
    numbered = "\n".join(f"{i}. {q}" for i, q in enumerate(queries, start=1))
    return ask_approval(
        f"Research plan for: {question}\n\n{numbered}\n\nApprove, edit the queries, or reject the research.",
        data={"question": question, "sub_queries": list(queries), "mode": mode, "field": "sub_queries"},
        edit_schema=edit_schema,
    )


def edited_queries(approval: Approval, original: Sequence[str], max_queries: int = 20) -> list[str]:
    """The queries to research after an approval (the edited list when the answer is ``edit``)."""
    if approval.decision == "edit" and isinstance(approval.edited, list):
        out = clean_queries([str(q) for q in approval.edited], max_queries)
        if out:
            return out
    return list(original)


# --- the nodes ----------------------------------------------------------------------------------------------


def question_of(state: Mapping[str, Any]) -> str:
    """The research's question: the input's ``question``, else the last human message's text."""
    q = normalize(str(state.get("question") or ""))
    if q:
        return q
    for m in reversed(state.get("messages") or []):
        if isinstance(m, HumanMessage) or getattr(m, "type", "") == "human":
            content = (
                m.content
                if isinstance(m.content, str)
                else " ".join(p.get("text", "") for p in m.content if isinstance(p, dict))
            )
            if content.strip():
                return normalize(content)
    raise ResearchFailed('a research needs a question: send {"question": "..."} or a human message')


def level_schedule(breadth: int, depth: int) -> list[int]:
    """Queries per level: ``breadth`` first, then halved each level (at least 2, never more than before)."""
    out = [max(1, breadth)]
    for _ in range(1, max(1, depth)):
        prev = out[-1]
        out.append(min(prev, max(2, prev // 2)))
    return out


def make_plan_node(mode: str, forced_source: str | None = None) -> Any:
    """The ``plan`` node of research ``mode`` (standard | deep); ``forced_source`` forces a source mode."""

    async def plan(state: ResearchState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
        values = context_values(runtime)
        progress.stage("planning", "planning the research")
        question = question_of(state)
        source = checked_source_mode(
            forced_source or str(state.get("source_mode") or setting(values, "research.source_mode"))
        )
        if mode == "deep":
            levels = level_schedule(
                int(setting(values, "research.breadth")), int(setting(values, "research.depth"))
            )
        else:
            levels = [int(setting(values, "research.sub_queries"))]
        queries = await plan_queries(question, levels[0], values, config=config)
        planned = [{"index": i, "level": 1, "query": q} for i, q in enumerate(queries)]
        return {
            "question": question,
            "mode": mode,
            "source_mode": source,
            "stage": "planned",
            "status": "running",
            "queries": planned,
            "level": 1,
            "depth": len(levels),
            "levels": levels,
            "total_queries": sum(levels[1:]) + len(planned),
            "concurrency": int(setting(values, "research.concurrency")),
            "budget_words": branch_budget(values, sum(levels)),
            "follow_ups": max(2, levels[1] if len(levels) > 1 else 2),
            "started_at": state.get("started_at") or time.time(),
            "notes": [],
            "error": None,
        }

    return plan


def wants_review(state: ResearchState, runtime: Runtime[Any]) -> bool:
    return bool(setting(context_values(runtime), "research.human_review"))


async def approve(state: ResearchState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Plan approval (a strong interrupt); ``edit`` replaces the first level's queries."""
    progress.stage("approval", "waiting for the plan to be approved")
    original = [q["query"] for q in state.get("queries") or []]
    answer = approve_plan(
        state["question"], original, max_queries=MAX_EDITED_QUERIES, mode=state.get("mode", "")
    )
    if answer.decision == "reject":
        return {"plan_decision": "reject", "stage": "rejected", "status": "rejected"}
    queries = edited_queries(answer, original, MAX_EDITED_QUERIES)
    planned = [{"index": i, "level": 1, "query": q} for i, q in enumerate(queries)]
    levels = list(state.get("levels") or [len(planned)])
    total = len(planned) + sum(levels[1:])
    return {"plan_decision": answer.decision, "queries": planned, "total_queries": total}


def route_after_plan(state: ResearchState, runtime: Runtime[Any]) -> Any:
    if wants_review(state, runtime):
        return "approve"
    return dispatch(state)


def route_after_approve(state: ResearchState) -> Any:
    if state.get("plan_decision") == "reject":
        return "finalize"
    return dispatch(state)
