"""The state and nodes of the human-in-the-loop demo (``graphs/hitl_demo.py``): deterministic, no model.

``review_plan`` is a strong ``approval`` interrupt, ``ask_audience`` free input, ``choose_depth`` a selection;
``research`` files a todo (a weak interrupt) per claim it cannot verify and ``gate`` waits for them. The
routes between them are ``Command`` gotos, so the graph module only adds the nodes and the fixed edges.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from langgraph.types import Command
from typing_extensions import TypedDict

from engine.interrupts import approval_schema
from nodes.interrupts import ask_approval, ask_input, ask_selection
from nodes.todos import await_todos, file_todo

CLAIM_GROUP = "claims"
DEPTHS = [
    {"value": "brief", "label": "A brief overview"},
    {"value": "detailed", "label": "Detailed, with a deep dive"},
]
PLAN_SCHEMA: dict[str, Any] = {"type": "array", "items": {"type": "string", "minLength": 1}, "minItems": 1}


class Claim(TypedDict):
    text: str
    verified: bool


class DemoState(TypedDict, total=False):
    topic: str
    audience: str
    depth: str
    claims: list[Claim]
    plan: list[str]
    plan_status: str
    plan_comment: str
    findings: Annotated[list[str], operator.add]
    pending_claims: list[str]
    dropped: list[str]
    draft: str
    report: str
    progress: dict[str, Any]
    log: Annotated[list[str], operator.add]


def _progress(stage: str, percent: int) -> dict[str, Any]:
    return {"stage": stage, "percent": percent}


def default_claims(topic: str) -> list[Claim]:
    """Claims the demo 'found'; the unverified ones need a human."""
    return [
        {"text": f"{topic} is an active field of study", "verified": True},
        {"text": f"Interest in {topic} doubled since 2020", "verified": False},
        {"text": f"{topic} has several competing definitions", "verified": True},
        {"text": f"Most practitioners of {topic} rely on a single tool", "verified": False},
    ]


async def plan(state: DemoState) -> dict[str, Any]:
    topic = state.get("topic") or "the topic"
    steps = [f"Background of {topic}", f"Key claims about {topic}", f"Open questions on {topic}"]
    return {"plan": steps, "progress": _progress("planning", 10), "log": ["plan"]}


def _after_plan(state: DemoState) -> str:
    if not state.get("audience"):
        return "ask_audience"
    return _after_audience(state)


def _after_audience(state: DemoState) -> str:
    if state.get("depth") not in ("brief", "detailed"):
        return "choose_depth"
    return "deep_dive" if state["depth"] == "detailed" else "research"


async def review_plan(
    state: DemoState,
) -> Command[Literal["ask_audience", "choose_depth", "deep_dive", "research", "abandon"]]:
    answer = ask_approval(
        "Approve this research plan? You can edit its steps or reject it.",
        data={"topic": state.get("topic"), "plan": state["plan"]},
        edit_schema=PLAN_SCHEMA,
    )
    update: dict[str, Any] = {"log": [f"review_plan:{answer.decision}"], "plan_comment": answer.comment or ""}
    if answer.decision == "reject":
        return Command(goto="abandon", update={**update, "plan_status": "rejected"})
    if answer.decision == "edit":
        update.update(plan=list(answer.edited), plan_status="edited")
    else:
        update["plan_status"] = "approved"
    merged: DemoState = {**state, **update}  # type: ignore[typeddict-item]
    return Command(goto=_after_plan(merged), update={**update, "progress": _progress("plan approved", 20)})


async def ask_audience(state: DemoState) -> Command[Literal["choose_depth", "deep_dive", "research"]]:
    answer = ask_input("Who is this report for?", data={"topic": state.get("topic")})
    audience = str(answer["text"]).strip()
    merged: DemoState = {**state, "audience": audience}  # type: ignore[typeddict-item]
    return Command(goto=_after_audience(merged), update={"audience": audience, "log": ["ask_audience"]})


async def choose_depth(state: DemoState) -> Command[Literal["deep_dive", "research"]]:
    depth = ask_selection("How deep should the research go?", DEPTHS)
    return Command(
        goto="deep_dive" if depth == "detailed" else "research",
        update={"depth": depth, "log": [f"choose_depth:{depth}"]},
    )


async def deep_dive(state: DemoState) -> dict[str, Any]:
    steps = state.get("plan") or []
    return {
        "findings": [f"Deep dive: {s}" for s in steps],
        "progress": _progress("deep dive", 40),
        "log": ["deep_dive"],
    }


async def research(state: DemoState) -> dict[str, Any]:
    claims = state.get("claims") or default_claims(state.get("topic") or "the topic")
    findings, pending = [], []
    for i, claim in enumerate(claims):
        if claim.get("verified"):
            findings.append(claim["text"])
            continue
        # a weak interrupt: a human checks it later, the graph keeps going
        await file_todo(
            "approval",
            f"Please verify this claim: {claim['text']}",
            data={"claim": claim["text"], "topic": state.get("topic")},
            schema=approval_schema(edit_schema={"type": "string", "minLength": 1}),
            key=f"claim-{i}",
            group=CLAIM_GROUP,
        )
        pending.append(claim["text"])
    return {
        "findings": findings,
        "pending_claims": pending,
        "progress": _progress("research", 60),
        "log": ["research"],
    }


async def write_draft(state: DemoState) -> dict[str, Any]:
    audience = state.get("audience") or "a general audience"
    body = "\n".join(f"- {f}" for f in state.get("findings") or [])
    waiting = len(state.get("pending_claims") or [])
    draft = (
        f"Draft on {state.get('topic')} for {audience}\n{body}\n({waiting} claim(s) awaiting verification)"
    )
    return {"draft": draft, "progress": _progress("drafting", 80), "log": ["write_draft"]}


async def gate(state: DemoState) -> dict[str, Any]:
    todos = await await_todos("Waiting for the claims to be verified", group=CLAIM_GROUP)
    findings, dropped = [], []
    for todo in todos:
        claim = str(todo.data.get("claim"))
        result = todo.result if isinstance(todo.result, dict) else {}
        decision = result.get("decision") if todo.status == "completed" else None
        if decision == "approve":
            findings.append(f"{claim} (verified by a reviewer)")
        elif decision == "edit":
            findings.append(f"{result.get('edited')} (corrected by a reviewer)")
        else:
            dropped.append(claim)
    return {"findings": findings, "dropped": dropped, "progress": _progress("verified", 90), "log": ["gate"]}


async def finish(state: DemoState) -> dict[str, Any]:
    lines = [
        f"# {state.get('topic')}",
        "",
        f"For: {state.get('audience') or 'a general audience'}",
        f"Depth: {state.get('depth') or 'brief'}",
        "",
        "## Plan",
    ]
    lines += [f"{i}. {s}" for i, s in enumerate(state.get("plan") or [], 1)]
    lines += ["", "## Findings"] + [f"- {f}" for f in state.get("findings") or []]
    if state.get("dropped"):
        lines += ["", "## Dropped (not verified)"] + [f"- {c}" for c in state["dropped"]]
    return {"report": "\n".join(lines), "progress": _progress("done", 100), "log": ["finish"]}


async def abandon(state: DemoState) -> dict[str, Any]:
    reason = state.get("plan_comment") or "no reason given"
    return {
        "report": f"The plan was rejected ({reason}); nothing was researched.",
        "progress": _progress("rejected", 100),
        "log": ["abandon"],
    }
