"""Research planning: sub-queries for a question (or the next level of a deep research), and plan approval.

:func:`plan_queries` asks the ``strategic`` model for search queries (structured output, any provider) and,
with no model configured, uses the offline engine's key-phrase planner. Either way the result is cleaned:
whitespace normalised, duplicates and already-asked queries removed, at most ``n`` kept, never empty (the
question itself is the last resort), so a research always has something to search.

:func:`approve_plan` is the human-review step: a strong ``approval`` interrupt (:mod:`nodes.interrupts`)
showing the queries; the answer approves them, replaces them (``edit``: a non-empty list of strings) or
rejects the research.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, Field

from nodes.interrupts import Approval, ask_approval
from providers import offline
from providers.models import get_model
from providers.structured import StructuredOutputError, structured

log = structlog.get_logger("clew.research.planning")

MAX_QUERY_CHARS = 300


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
    from config_schema.access import setting

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
