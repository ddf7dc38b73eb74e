"""The content pipeline (seed 004): topic -> research -> writing -> styling -> review -> done, a human
steering every stage.

    START -> (initial stage) discover_topics -> choose_topic* -+-> discover_topics (other topics)
                                                               +-> start_research
          start_research -> plan -> research_branch (one Send per query) -> collect -> write -> check_sources
          -> research_done -> review_research* -+-> write (sources added) | research_branch (deeper)
                                                +-> outline -> approve_outline* -> write_draft
          write_draft -> draft_section (one Send per outlined section) -> assemble_draft -> style
          -> approve_style* -+-> style (restyle)
                             +-> auto_review -> review_verdict* -+-> write_draft (changes requested)
                                                                 +-> finalize -> END (stage done)

Nodes marked * are human decisions: each is an ``interrupt()`` whose payload declares the actions it accepts
(:mod:`nodes.content.actions`), which is what the session API serves as ``availableActions``. The research
stage reuses the research graphs' nodes (``plan``, ``research_branch``, ``collect`` and the citation review
of :mod:`nodes.research`) on the same state keys, with the same source modes (web | local | hybrid);
``write`` here is the research brief: the offline engine's quoted, numbered digest of the findings, whose
numbering every later draft cites. Sections are drafted in parallel ``Send`` branches, so the sections
finished before a crash are not written again. With no model configured every stage runs on the offline
engine and says so in its events and messages.

The state is plain JSON: article id, stage, topics, chosen topic, research (queries, findings, sources,
brief), outline, draft, styled draft, review, final article and the history of decisions.
"""

from __future__ import annotations

import asyncio
import hashlib
import operator
import time
from collections.abc import Mapping
from typing import Annotated, Any

from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Command, Send
from typing_extensions import TypedDict

from config_schema.access import setting
from engine.context import AUTH_USER_ID
from nodes.content import chat_model, events
from nodes.content.actions import (
    APPROVE_OUTLINE,
    APPROVE_STYLE,
    CHOOSE_TOPIC,
    REVIEW_RESEARCH,
    REVIEW_VERDICT,
    Choice,
    ask_action,
    narrowed,
)
from nodes.content.review import review_article
from nodes.content.styling import model_style, offline_style, presets, resolve_preset
from nodes.content.topics import discover
from nodes.content.writing import (
    Outline,
    assemble,
    evidence,
    model_section,
    numbered_docs,
    offline_section,
    outline_for,
    words,
)
from nodes.research.branch import BRANCH_NODE, next_sends, research_branch
from nodes.research.collect import make_collect_node, route_after_collect
from nodes.research.plan import clean_queries, make_plan_node, plan_queries, route_after_approve
from nodes.research.review import review as check_sources
from nodes.research.state import SOURCE_MODES, Finding, ResearchFailed, ResearchState, findings_of
from nodes.research.write import offline_report
from providers import offline as offline_engine
from providers.models import has_model
from providers.types import SourceDoc

GRAPH_ID = "content_pipeline"
INITIAL_STAGES = ("topic", "research")
EDITOR_FINDING_BASE = 10_000  # indexes of findings made of the editor's own sources (never a query's index)
RESEARCH_BRIEF_WORDS = 900

# The design's per-stage UI capabilities (seed 004 `_get_capabilities`): hints for an editor UI, served as is.
CAPABILITIES: dict[str, list[str]] = {
    "topic": ["suggestions"],
    "research": ["suggestions", "autoComplete"],
    "writing": ["suggestions", "autoComplete", "grammarCheck"],
    "styling": ["suggestions", "autoComplete", "grammarCheck"],
    "review": ["suggestions", "grammarCheck"],
    "done": [],
}


class ContentState(ResearchState, total=False):
    """The research state's keys (the research nodes run on them) plus the pipeline's own."""

    article_id: str
    initial_stage: str
    content_stage: str
    content_status: str
    category: str
    keywords: list[str]
    discovery_round: int
    topics: list[dict[str, Any]]
    topic: str
    angle: str
    outline: dict[str, Any]
    draft_round: int
    section_drafts: Annotated[list[dict[str, Any]], operator.add]
    draft: str
    preset_choice: dict[str, Any]
    preset: dict[str, Any]
    styled: str
    review_round: int
    review_notes: list[dict[str, Any]]
    review: dict[str, Any]
    final_article: str
    decisions: Annotated[list[dict[str, Any]], operator.add]
    engine: dict[str, bool]


class ContentInput(TypedDict, total=False):
    """What a session's first run takes (``POST /api/v1/sessions`` builds it from the session context)."""

    article_id: str
    initial_stage: str
    category: str
    keywords: list[str]
    topic: str
    angle: str
    source_mode: str
    preset: str


def _values(runtime: Runtime[Any] | None) -> Mapping[str, Any] | None:
    ctx = getattr(runtime, "context", None) if runtime is not None else None
    return ctx if isinstance(ctx, Mapping) else None


def _user(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get(AUTH_USER_ID) or "local")


def _engine(state: Mapping[str, Any], stage: str, offline: bool) -> dict[str, bool]:
    return {**(state.get("engine") or {}), stage: offline}


def _say(stage: str, text: str, offline: bool) -> AIMessage:
    note = f"\n\n({events.OFFLINE_NOTE})" if offline else ""
    return AIMessage(content=f"[{stage}] {text}{note}")


def _decision(stage: str, choice: Choice) -> dict[str, Any]:
    return {"stage": stage, "action": choice.action, "parameters": choice.parameters, "at": time.time()}


def _source_mode(state: Mapping[str, Any], values: Mapping[str, Any] | None) -> str:
    mode = str(state.get("source_mode") or setting(values, "research.source_mode"))
    if mode not in SOURCE_MODES:
        raise ResearchFailed(f"unknown source mode {mode!r}: expected one of {', '.join(SOURCE_MODES)}")
    return mode


# --- topic ----------------------------------------------------------------------------------------------
def route_start(state: ContentState) -> str:
    """The first stage: ``initial_stage`` when given; otherwise a given ``topic`` is the chosen one (the run
    starts at research, as a session started with ``initialStage: research`` does), else topic discovery."""
    stage = state.get("initial_stage") or ("research" if str(state.get("topic") or "").strip() else "topic")
    if stage not in INITIAL_STAGES:
        raise ResearchFailed(f"unknown initial stage {stage!r}: expected one of {', '.join(INITIAL_STAGES)}")
    if stage == "research":
        if not str(state.get("topic") or "").strip():
            raise ResearchFailed("a session starting at the research stage needs a topic")
        return "start_research"
    return "discover_topics"


async def discover_topics(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    offline = not has_model(values, "strategic")
    category = str(state.get("category") or "")
    keywords = list(state.get("keywords") or [])
    events.stage_change("topic", f"discovering topics for {' '.join([category, *keywords]).strip()!r}",
                        offline=offline)
    rounds = int(state.get("discovery_round") or 0) + 1
    seen = [t["title"] for t in state.get("topics") or []]
    topics, notes, offline = await discover(
        category=category,
        keywords=keywords,
        source_mode=_source_mode(state, values),
        user_id=_user(config),
        values=values,
        n=int(setting(values, "content.topic_count")),
        avoid=seen,
        config=config,
    )
    events.emit(events.TOPICS_DISCOVERED, {"topics": topics, "round": rounds, "offline": offline})
    listing = "\n".join(f"{t['id']}. {t['title']} -- {t['angle']}" for t in topics)
    return {
        "content_stage": "topic",
        "content_status": "waiting",
        "topics": topics,
        "discovery_round": rounds,
        "notes": [*(state.get("notes") or []), *notes],
        "engine": _engine(state, "topic", offline),
        "messages": [_say("topic", f"{len(topics)} candidate topics:\n{listing}", offline)],
    }


def choose_topic(state: ContentState) -> Command[Any]:
    topics = list(state.get("topics") or [])
    select, custom, again = CHOOSE_TOPIC.actions
    offered = [custom, again]
    if topics:  # only topics just discovered can be selected
        offered.insert(0, narrowed(select, topicId={"enum": [t["id"] for t in topics]}))
    choice = ask_action(CHOOSE_TOPIC, "Choose a topic, enter your own, or look for others.", offered,
                        data={"topics": topics})
    decision = _decision("topic", choice)
    p = choice.parameters
    if choice.action == "discover_topics":
        update: dict[str, Any] = {"decisions": [decision]}
        if p.get("category") is not None:
            update["category"] = p["category"]
        if p.get("keywords") is not None:
            update["keywords"] = list(p["keywords"])
        return Command(update=update, goto="discover_topics")
    if choice.action == "select_topic":
        chosen = next(t for t in topics if t["id"] == p["topicId"])
        topic, angle = chosen["title"], chosen.get("angle") or ""
    else:
        topic, angle = " ".join(str(p["topic"]).split()), str(p.get("angle") or "")
    return Command(update={"topic": topic, "angle": angle, "decisions": [decision]}, goto="start_research")


# --- research -------------------------------------------------------------------------------------------
async def start_research(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    offline = not has_model(values, "fast")
    topic = str(state["topic"]).strip()
    events.stage_change("research", f"researching {topic!r}", offline=offline)
    return {
        "content_stage": "research",
        "content_status": "processing",
        "question": topic,
        "source_mode": _source_mode(state, values),
        "engine": _engine(state, "research", offline),
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
            _say(
                "research",
                f"{len(summary['sources'])} sources from {len(findings)} searches; brief:\n\n{state.get('report', '')}",
                offline,
            )
        ],
    }


def _editor_finding(state: Mapping[str, Any], sources: list[dict[str, Any]]) -> Finding:
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
    decision = _decision("research", choice)
    p = choice.parameters
    if choice.action == "approve_research":
        return Command(update={"decisions": [decision]}, goto="outline")
    if choice.action == "add_sources":
        finding = _editor_finding(state, list(p["sources"]))
        return Command(update={"findings": [finding.model_dump(mode="json")], "decisions": [decision]}, goto="write")
    # research deeper: the given queries, or new ones planned from the focus and the open follow-ups
    asked = [q["query"] for q in state.get("queries") or []]
    n = int(setting(_values(runtime), "research.sub_queries"))
    if p.get("queries"):
        queries = clean_queries(list(p["queries"]), len(p["queries"]), asked)
    else:
        follow = [q for f in findings_of(state.get("findings")) for q in f.follow_ups]
        focus = str(p.get("focus") or "")
        queries = clean_queries(follow if not focus else [], n, asked)
        if len(queries) < n:
            more = await plan_queries(
                " ".join(x for x in (str(state.get("topic") or ""), focus) if x), n - len(queries),
                _values(runtime), context=follow[:10], avoid=[*asked, *queries], config=config,
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


# --- writing --------------------------------------------------------------------------------------------
async def outline(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    model = await chat_model(values, "strategic")
    offline = not has_model(values, "smart")
    events.stage_change("writing", "outlining the article", offline=offline)
    findings = findings_of(state.get("findings"))
    result, notes = await outline_for(
        model,
        str(state.get("topic") or ""),
        str(state.get("angle") or ""),
        [q["query"] for q in state.get("queries") or []],
        findings,
        state.get("sources") or [],
        int(setting(values, "content.outline_sections")),
        config,
    )
    events.step("writing", "outline", f"{len(result.sections)} sections", sections=result.sections)
    return {
        "content_stage": "writing",
        "content_status": "waiting",
        "outline": result.model_dump(),
        "notes": [*(state.get("notes") or []), *notes],
        "engine": _engine(state, "writing", offline),
        "messages": [_say("writing", f"Outline of {result.title!r}: " + "; ".join(result.sections), offline)],
    }


def approve_outline(state: ContentState) -> Command[Any]:
    choice = ask_action(APPROVE_OUTLINE, "Approve the outline or edit it.", data={"outline": state.get("outline")})
    decision = _decision("writing", choice)
    if choice.action == "edit_outline":
        current = Outline.model_validate(state.get("outline") or {"title": state.get("topic") or "Article",
                                                                   "sections": ["Overview"]})
        edited = Outline(title=choice.parameters.get("title") or current.title,
                         sections=[" ".join(s.split()) for s in choice.parameters["sections"]])
        return Command(update={"outline": edited.model_dump(), "decisions": [decision]}, goto="write_draft")
    return Command(update={"decisions": [decision]}, goto="write_draft")


async def write_draft(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Open a drafting round (the first, or a revision after the review asked for changes)."""
    rounds = int(state.get("draft_round") or 0) + 1
    offline = not has_model(_values(runtime), "smart")
    notes = state.get("review_notes") or []
    if rounds > 1:
        events.stage_change("writing", f"revising the draft (round {rounds}): {notes[-1]['notes'] if notes else ''}",
                            offline=offline)
    sections = (state.get("outline") or {}).get("sections") or []
    events.step("writing", "draft", f"drafting {len(sections)} sections (round {rounds})", total=len(sections))
    return {"content_stage": "writing", "content_status": "processing", "draft_round": rounds}


def route_sections(state: ContentState) -> list[Send]:
    outline_ = state.get("outline") or {}
    rounds = int(state.get("draft_round") or 1)
    notes = state.get("review_notes") or []
    previous = {d["index"]: d["text"] for d in state.get("section_drafts") or [] if d["round"] == rounds - 1}
    base = {
        "round": rounds,
        "topic": state.get("topic") or "",
        "angle": state.get("angle") or "",
        "title": outline_.get("title") or state.get("topic") or "",
        "sections": list(outline_.get("sections") or []),
        "notes": notes[-1]["notes"] if notes and rounds > 1 else "",
    }
    # each branch gets the numbered evidence only (not every finding): Send arguments live in the checkpoint
    findings = findings_of(state.get("findings"))
    sources = state.get("sources") or []
    base["lines"] = evidence(findings, sources)
    base["docs"] = [{"n": n, "doc": d.model_dump()} for n, d in numbered_docs(findings, sources)]
    return [
        Send("draft_section", {**base, "index": i, "heading": h, "previous": previous.get(i, "")})
        for i, h in enumerate(base["sections"])
    ]


async def draft_section(arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """One section of the draft (a ``Send`` branch)."""
    values = _values(runtime)
    model = await chat_model(values, "smart")
    index, heading_ = int(arg["index"]), str(arg["heading"])
    if model is not None:
        text = await model_section(
            model, topic=arg["topic"], angle=arg["angle"], title=arg["title"], section=heading_,
            lines=arg["lines"], notes=arg["notes"], previous=arg["previous"], config=config,
        )
    else:
        docs = [(int(d["n"]), SourceDoc.model_validate(d["doc"])) for d in arg["docs"]]

        def offline_text() -> str:
            # earlier sections' choices are recomputed (deterministic) so sections do not repeat each other
            used: list[str] = []
            text = ""
            for i, h in enumerate(arg["sections"][: index + 1]):
                text, chosen = offline_section(arg["topic"], h, docs, notes=arg["notes"],
                                               previous=arg["previous"] if i == index else "", used_elsewhere=used)
                used.extend(chosen)
            return text

        text = await asyncio.to_thread(offline_text)
    events.emit(
        events.DRAFT_UPDATED,
        {"round": arg["round"], "section": index, "heading": heading_, "words": words(text), "complete": False,
         "offline": model is None},
    )
    return {"section_drafts": [{"round": arg["round"], "index": index, "heading": heading_, "text": text}]}


async def assemble_draft(state: ContentState) -> dict[str, Any]:
    rounds = int(state.get("draft_round") or 1)
    parts = sorted((d for d in state.get("section_drafts") or [] if d["round"] == rounds), key=lambda d: d["index"])
    title = (state.get("outline") or {}).get("title") or str(state.get("topic") or "")
    docs = numbered_docs(findings_of(state.get("findings")), state.get("sources") or [])
    draft = assemble(title, [(d["heading"], d["text"]) for d in parts], docs)
    offline = bool((state.get("engine") or {}).get("writing", True))
    events.emit(events.DRAFT_UPDATED, {"round": rounds, "words": words(draft), "complete": True, "offline": offline})
    return {"draft": draft, "messages": [_say("writing", f"Draft (round {rounds}):\n\n{draft}", offline)]}


# --- styling --------------------------------------------------------------------------------------------
async def style(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    model = await chat_model(values, "smart")
    choice = state.get("preset_choice") or {}
    preset, notes = resolve_preset(values, choice.get("preset"), choice)
    offline = model is None
    events.stage_change("styling", f"styling for {preset['platform']} ({preset['name']}, {preset['format']})",
                        offline=offline)
    docs = numbered_docs(findings_of(state.get("findings")), state.get("sources") or [])
    draft = str(state.get("draft") or "")
    if model is not None:
        styled = await model_style(model, draft, preset, docs, config)
    else:
        styled = await asyncio.to_thread(offline_style, draft, preset, docs)
    events.step("styling", "styled", f"{words(styled)} words as {preset['format']}", words=words(styled))
    return {
        "content_stage": "styling",
        "content_status": "waiting",
        "preset": preset,
        "styled": styled,
        "notes": [*(state.get("notes") or []), *notes],
        "engine": _engine(state, "styling", offline),
        "messages": [_say("styling", f"Styled ({preset['name']}):\n\n{styled}", offline)],
    }


def approve_style(state: ContentState, runtime: Runtime[Any]) -> Command[Any]:
    restyle = narrowed(APPROVE_STYLE.action("restyle"), preset={"enum": sorted(presets(_values(runtime)))})
    choice = ask_action(APPROVE_STYLE, "Approve the styled article or restyle it.",
                        [APPROVE_STYLE.action("approve_style"), restyle], data={"preset": state.get("preset")})
    decision = _decision("styling", choice)
    if choice.action == "restyle":
        return Command(update={"preset_choice": dict(choice.parameters), "decisions": [decision]}, goto="style")
    return Command(update={"decisions": [decision]}, goto="auto_review")


# --- review ---------------------------------------------------------------------------------------------
async def auto_review(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    offline = not has_model(values, "smart")
    rounds = int(state.get("review_round") or 0) + 1
    events.stage_change("review", "checking citations, length, reading level and banned words", offline=offline)
    preset = state.get("preset") or {}
    result = await asyncio.to_thread(
        lambda: review_article(
            str(state.get("styled") or ""),
            state.get("sources") or [],
            length_words=int(preset.get("length_words") or 800),
            banned=list(setting(values, "content.banned_words") or []),
            max_grade=float(setting(values, "content.max_reading_grade")),
        )
    )
    result["round"] = rounds
    events.emit(events.REVIEW_COMPLETED, {k: result[k] for k in ("round", "passed", "checks", "words", "grade")})
    failed = [c["id"] for c in result["checks"] if not c["passed"]]
    text = "all automatic checks passed" if not failed else "checks that failed: " + ", ".join(failed)
    return {
        "content_stage": "review",
        "content_status": "waiting",
        "review": result,
        "engine": _engine(state, "review", offline),
        "messages": [_say("review", text, offline)],
    }


def review_verdict(state: ContentState, runtime: Runtime[Any]) -> Command[Any]:
    used = int(state.get("review_round") or 0)
    limit = int(setting(_values(runtime), "content.max_review_rounds"))
    offered = [REVIEW_VERDICT.action("approve")]
    if used < limit:
        offered.append(REVIEW_VERDICT.action("request_changes"))
    choice = ask_action(
        REVIEW_VERDICT,
        "Publish the article, or request changes (back to writing)."
        if used < limit else f"Publish the article ({used} of {limit} review rounds used).",
        offered,
        data={"review": state.get("review"), "rounds_used": used, "max_rounds": limit},
    )
    decision = _decision("review", choice)
    if choice.action == "request_changes":
        notes = [*(state.get("review_notes") or []), {"round": used + 1, "notes": choice.parameters["notes"]}]
        return Command(update={"review_round": used + 1, "review_notes": notes, "decisions": [decision]},
                       goto="write_draft")
    return Command(update={"decisions": [decision]}, goto="finalize")


async def finalize(state: ContentState) -> dict[str, Any]:
    article = str(state.get("styled") or state.get("draft") or "")
    offline = all((state.get("engine") or {}).values()) if state.get("engine") else True
    events.stage_change("done", "the article is final", offline=offline, status="done")
    return {
        "content_stage": "done",
        "content_status": "done",
        "final_article": article,
        "status": "done",
        "finished_at": time.time(),
        "messages": [AIMessage(content=article)],
    }


def build() -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(ContentState, input_schema=ContentInput)
    builder.add_node("discover_topics", discover_topics)
    builder.add_node("choose_topic", choose_topic, destinations=("discover_topics", "start_research"))
    builder.add_node("start_research", start_research)
    builder.add_node("plan", make_plan_node("standard"))
    builder.add_node(BRANCH_NODE, research_branch)
    builder.add_node("collect", make_collect_node(plan_next_level=False))
    builder.add_node("write", research_brief)
    builder.add_node("check_sources", check_sources)
    builder.add_node("research_done", research_done)
    builder.add_node("review_research", review_research, destinations=("outline", "write", BRANCH_NODE))
    builder.add_node("outline", outline)
    builder.add_node("approve_outline", approve_outline, destinations=("write_draft",))
    builder.add_node("write_draft", write_draft)
    builder.add_node("draft_section", draft_section)
    builder.add_node("assemble_draft", assemble_draft)
    builder.add_node("style", style)
    builder.add_node("approve_style", approve_style, destinations=("style", "auto_review"))
    builder.add_node("auto_review", auto_review)
    builder.add_node("review_verdict", review_verdict, destinations=("write_draft", "finalize"))
    builder.add_node("finalize", finalize)

    builder.add_conditional_edges(START, route_start, ["discover_topics", "start_research"])
    builder.add_edge("discover_topics", "choose_topic")
    builder.add_edge("start_research", "plan")
    builder.add_conditional_edges("plan", route_after_approve, [BRANCH_NODE, "write"])
    builder.add_edge(BRANCH_NODE, "collect")
    builder.add_conditional_edges("collect", route_after_collect, [BRANCH_NODE, "write"])
    builder.add_edge("write", "check_sources")
    builder.add_edge("check_sources", "research_done")
    builder.add_edge("research_done", "review_research")
    builder.add_edge("outline", "approve_outline")
    builder.add_conditional_edges("write_draft", route_sections, ["draft_section"])
    builder.add_edge("draft_section", "assemble_draft")
    builder.add_edge("assemble_draft", "style")
    builder.add_edge("style", "approve_style")
    builder.add_edge("auto_review", "review_verdict")
    builder.add_edge("finalize", END)
    return builder


graph = build().compile(name=GRAPH_ID)
