"""The human's review of a multi-agent research's outline.

:func:`review_outline` is a typed ``approval`` interrupt (:mod:`nodes.interrupts`) with the options
``approve`` (accept), ``edit`` (``edited`` is the whole outline ``{title, sections: [{title, brief}]}``, used
verbatim; :data:`nodes.multi_agent.state.OUTLINE_SCHEMA`) and ``feedback`` (``comment`` says what to change;
the editor revises, at most ``research.max_plan_revisions`` times, after which feedback accepts the outline as
it is and the report says so). It asks when ``research.human_review`` is on or unset (this mode's default).
Once the outline is final, the queries (the browser's, then one per section) are planned and the sections
dispatched (:func:`nodes.multi_agent.sections.dispatch`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langgraph.errors import GraphInterrupt
from langgraph.runtime import Runtime

from config_schema.access import setting
from nodes.interrupts import ask_approval
from nodes.multi_agent.events import team
from nodes.multi_agent.sections import dispatch
from nodes.multi_agent.state import MODE, OUTLINE_SCHEMA, EditorialState, Outline
from nodes.research import progress
from nodes.run_context import context_values


def wants_outline_review(values: Mapping[str, Any] | None) -> bool:
    """``research.human_review``, on while unset: this mode's default."""
    value = setting(values, "research.human_review")
    return True if value is None else bool(value)


def _outline_text(outline: Mapping[str, Any]) -> str:
    lines = [f"# {outline['title']}"]
    for i, s in enumerate(outline["sections"], start=1):
        lines.append(f"{i}. {s['title']}" + (f" -- {s['brief']}" if s.get("brief") else ""))
    return "\n".join(lines)


async def review_outline(state: EditorialState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    outline = dict(state["outline"])
    if not wants_outline_review(values):
        return {"plan_decision": "auto", **_final_plan(state, outline)}
    revisions = int(state.get("plan_revisions") or 0)
    cap = int(setting(values, "research.max_plan_revisions"))
    last = revisions >= cap
    message = (
        f"Outline for: {state['question']}\n\n{_outline_text(outline)}\n\n"
        "Accept it (approve), edit the outline, or give feedback for the editor to revise it"
        + (
            f" (this is revision {revisions} of at most {cap}: feedback now accepts the outline as it is)."
            if last
            else f" (revision {revisions} of at most {cap})."
        )
    )
    try:
        answer = ask_approval(
            message,
            data={
                "question": state["question"],
                "outline": outline,
                "mode": MODE,
                "field": "outline",
                "revision": revisions,
                "max_revisions": cap,
            },
            options=("approve", "edit", "feedback"),
            edit_schema=OUTLINE_SCHEMA,
        )
    except GraphInterrupt:
        # raised only when there is no answer yet: announced here, a resumed node does not announce it again
        progress.stage("approval", "waiting for the outline to be reviewed")
        team("human", "waiting", revision=revisions, sections=len(outline["sections"]))
        raise
    team("human", answer.decision, revision=revisions)
    if answer.decision == "edit":
        edited = Outline.model_validate(answer.edited).model_dump()
        return {"plan_decision": "edit", "outline": edited, **_final_plan(state, edited)}
    if answer.decision == "feedback":
        comment = " ".join(str(answer.comment or "").split())
        if not last:
            return {"plan_decision": "feedback", "plan_feedback": comment}
        note = (
            f"The outline was accepted as it is after {revisions} revision(s), the most allowed "
            f"(research.max_plan_revisions); the last feedback was not applied: “{comment}”"
        )
        return {"plan_decision": "accepted_at_cap", "plan_note": note, **_final_plan(state, outline)}
    return {"plan_decision": "approve", **_final_plan(state, outline)}


def _final_plan(state: Mapping[str, Any], outline: Mapping[str, Any]) -> dict[str, Any]:
    """State updates once the outline is final: the queries (the browser's, then one per section), totals."""
    sections = outline["sections"]
    queries = [{"index": 0, "level": 1, "query": str(state.get("question") or "")}] + [
        {"index": i + 1, "level": 2, "query": s["title"]} for i, s in enumerate(sections)
    ]
    return {
        "queries": queries,
        "total_sections": len(sections),
        "total_queries": len(queries),
        "stage": "researching",
    }


def route_after_outline_review(state: EditorialState) -> Any:
    if state.get("plan_decision") == "feedback":
        return "editor"
    return dispatch(state)
