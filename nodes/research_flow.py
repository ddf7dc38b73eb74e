"""The research state and the node functions both research graphs are wired from.

A research is a question researched through planned queries: ``plan`` turns the question into the first
level of queries, ``approve`` lets a human approve, edit or reject them (when ``research.human_review`` is
on), ``research_branch`` (one ``Send`` per query, :mod:`nodes.research`) retrieves and extracts, ``collect``
closes a batch and decides what comes next, ``write`` writes the report, ``review`` checks its citations
and ``finalize`` adds the cost summary and the answer message. The graphs (``graphs/research.py``,
``graphs/deep_research.py``) only differ in how many levels they plan: standard research has one, deep
research plans each next level from the previous level's follow-up questions, with breadth halved.

Everything a resumed research needs is in the state (queries, findings, the level schedule); settings are
read from the run context (``config_schema.access.setting``), which the engine snapshots on the run, so a
research resumed after a crash sees the configuration it started with.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from typing import Annotated, Any

import structlog
from langchain_core.messages import AIMessage, AnyMessage, HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Send
from typing_extensions import TypedDict

from config_schema.access import setting
from nodes import progress
from nodes.planning import approve_plan, edited_queries, normalize, plan_queries
from nodes.research import BRANCH_NODE, branch_budget, branch_node, next_sends, pending_queries, run_key_of
from nodes.research_types import SOURCE_MODES, ResearchFailed, findings_of
from nodes.review import areview_citations, cost_summary
from nodes.writing import retrieved_docs, write_report

log = structlog.get_logger("clew.research")

MAX_EDITED_QUERIES = 20


class ResearchState(TypedDict, total=False):
    """State of a research thread (all plain JSON, served as the thread's values)."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    mode: str
    source_mode: str
    stage: str
    status: str
    queries: list[dict[str, Any]]
    findings: Annotated[list[dict[str, Any]], operator.add]
    level: int
    depth: int
    levels: list[int]
    total_queries: int
    concurrency: int
    budget_words: int
    follow_ups: int
    plan_decision: str
    report: str
    sources: list[dict[str, Any]]
    quality: dict[str, Any]
    cost: dict[str, Any]
    offline: bool
    notes: list[str]
    error: str | None
    started_at: float
    finished_at: float
    duration: float


class ResearchInput(TypedDict, total=False):
    """What a research run takes: a question (or a chat message) and optionally its source mode."""

    question: str
    messages: Annotated[list[AnyMessage], add_messages]
    source_mode: str


def _values(runtime: Runtime[Any] | None) -> Mapping[str, Any] | None:
    ctx = getattr(runtime, "context", None) if runtime is not None else None
    return ctx if isinstance(ctx, Mapping) else None


def _question(state: Mapping[str, Any]) -> str:
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
    async def plan(state: ResearchState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
        values = _values(runtime)
        progress.stage("planning", "planning the research")
        question = _question(state)
        source = forced_source or str(state.get("source_mode") or setting(values, "research.source_mode"))
        if source not in SOURCE_MODES:
            raise ResearchFailed(f"unknown source mode {source!r}: expected one of {', '.join(SOURCE_MODES)}")
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
    return bool(setting(_values(runtime), "research.human_review"))


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
    return _dispatch(state)


def route_after_approve(state: ResearchState) -> Any:
    if state.get("plan_decision") == "reject":
        return "finalize"
    return _dispatch(state)


def _dispatch(state: Mapping[str, Any]) -> list[Send] | str:
    sends = next_sends(state)
    if sends:
        level = int(state.get("level") or 1)
        progress.stage(
            "researching",
            f"level {level}: {len(pending_queries(state, level))} queries to go"
            if state.get("mode") == "deep"
            else f"{len(pending_queries(state))} queries to go",
        )
    return sends or "write"


async def research_branch(
    arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    return await branch_node(arg, config, _values(runtime))


def make_collect_node(plan_next_level: bool) -> Any:
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
        values = _values(runtime)
        ok = [f for f in this_level if not f.failed]
        asked = [q["query"] for q in state.get("queries") or []]
        # follow-ups round-robin over the level's branches, so each direction gets its turn
        follow: list[str] = []
        longest = max((len(f.follow_ups) for f in ok), default=0)
        for i in range(longest):
            follow.extend(f.follow_ups[i] for f in ok if i < len(f.follow_ups))
        breadth = levels[level]
        from nodes.planning import clean_queries

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
    return _dispatch(state)


def _open_questions(state: Mapping[str, Any]) -> list[str]:
    if state.get("mode") != "deep":
        return []
    findings = findings_of(state.get("findings"))
    last = max((f.level for f in findings), default=0)
    asked = {q["query"].lower() for q in state.get("queries") or []}
    out: list[str] = []
    for f in findings:
        if f.level == last and not f.failed:
            out.extend(q for q in f.follow_ups if q.lower() not in asked and q not in out)
    return out[:5]


async def write(state: ResearchState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    progress.stage("writing", "writing the report")
    findings = findings_of(state.get("findings"))
    if not any(not f.failed for f in findings):
        raise ResearchFailed("no query of this research found any usable source")
    markdown, numbered, offline = await write_report(
        state["question"], findings, _values(runtime), open_questions=_open_questions(state), config=config
    )
    notes = list(state.get("notes") or [])
    for f in findings:
        notes.extend(f"{f.query}: {n}" for n in f.notes if f"{f.query}: {n}" not in notes)
        if f.failed:
            notes.append(f"{f.query}: {f.error}")
    return {
        "report": markdown,
        "sources": [s.model_dump() for s in numbered],
        "offline": offline,
        "stage": "written",
        "notes": notes,
    }


async def review(state: ResearchState) -> dict[str, Any]:
    progress.stage("reviewing", "checking citations")
    retrieved = [d.id for d in retrieved_docs(findings_of(state.get("findings")))]
    quality = await areview_citations(state.get("report", ""), state.get("sources") or [], retrieved)
    if not quality.passed:
        log.warning("report failed its citation check", problems=quality.problems)
    return {"quality": quality.model_dump()}


async def finalize(state: ResearchState, config: RunnableConfig) -> dict[str, Any]:
    finished = time.time()
    started = float(state.get("started_at") or finished)
    cost = await cost_summary(config, offline=bool(state.get("offline", True)))
    if state.get("plan_decision") == "reject":
        progress.stage("rejected", "the research plan was rejected")
        return {
            "status": "rejected",
            "stage": "rejected",
            "cost": cost,
            "finished_at": finished,
            "duration": round(finished - started, 3),
            "messages": [AIMessage(content="The research plan was rejected; nothing was researched.")],
        }
    quality = state.get("quality") or {}
    status = "done" if quality.get("passed", True) else "failed_quality_check"
    progress.stage("done", "research finished" if status == "done" else "report failed its citation check")
    return {
        "status": status,
        "stage": "done",
        "cost": cost,
        "finished_at": finished,
        "duration": round(finished - started, 3),
        "messages": [AIMessage(content=state.get("report", ""))],
    }


__all__ = [
    "BRANCH_NODE",
    "ResearchInput",
    "ResearchState",
    "approve",
    "finalize",
    "level_schedule",
    "make_collect_node",
    "make_plan_node",
    "research_branch",
    "review",
    "route_after_approve",
    "route_after_collect",
    "route_after_plan",
    "write",
]


def build_graph(mode: str, *, source_mode: str | None = None) -> Any:
    """The research graph of ``mode`` (standard | deep), uncompiled; ``source_mode`` forces a source mode.

    Both modes share the wiring; deep research differs only in planning and in ``collect`` planning the
    next level from the learnings' follow-up questions.
    """
    from langgraph.graph import END, START, StateGraph

    builder = StateGraph(ResearchState, input_schema=ResearchInput)
    builder.add_node("plan", make_plan_node(mode, source_mode))
    builder.add_node("approve", approve)
    builder.add_node(BRANCH_NODE, research_branch)
    builder.add_node("collect", make_collect_node(plan_next_level=mode == "deep"))
    builder.add_node("write", write)
    builder.add_node("review", review)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", route_after_plan, ["approve", BRANCH_NODE, "write"])
    builder.add_conditional_edges("approve", route_after_approve, ["finalize", BRANCH_NODE, "write"])
    builder.add_edge(BRANCH_NODE, "collect")
    builder.add_conditional_edges("collect", route_after_collect, [BRANCH_NODE, "write"])
    builder.add_edge("write", "review")
    builder.add_edge("review", "finalize")
    builder.add_edge("finalize", END)
    return builder
