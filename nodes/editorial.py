"""The editorial team of a multi-agent research: browser, editor, the human's outline review, writer, publisher.

``graphs/multi_agent_research.py`` wires these around the per-section team (:mod:`nodes.section_team`):

- :func:`browser`: a first, broad research pass on the question (:func:`nodes.research.branch.research_query`, in
  the run's source mode), so the editor plans from what exists;
- :func:`editor`: plans the report as a title and at most ``research.max_sections`` sections with a short
  brief each -- the ``strategic`` model (structured output), or offline the query plan's clusters (key phrases
  of what the browser found that the question does not already name). Given the human's feedback, it revises
  the outline;
- :func:`review_outline`: the human's review, a typed ``approval`` interrupt with the options ``approve``
  (accept), ``edit`` (``edited`` is the whole outline ``{title, sections: [{title, brief}]}``, used
  verbatim) and ``feedback`` (``comment`` says what to change; the editor revises, at most
  ``research.max_plan_revisions`` times, after which feedback accepts the outline as it is and the report
  says so). On when ``research.human_review`` is on or unset;
- :func:`section_team`: the ``Send`` target, one per section, running the section subgraph;
- :func:`writer`: introduction, table of contents, the sections, conclusion, and one numbered source list:
  every section's local ``[n]`` is renumbered into the report's numbering (by first citation, each document
  once). The ``smart`` model writes the introduction and conclusion; offline they are quoted sentences;
- :func:`publisher`: the citation check every mode runs (:func:`nodes.research.review.review`), the cost
  summary and the answer message (:func:`nodes.research.review.finalize`), and the export links (md in the
  state; pdf and docx rendered on request by ``GET /api/v1/research/{id}/export/{fmt}``).

Findings (the browser's and every section's) go to ``findings`` and the planned queries to ``queries``, the
same keys standard research uses, so the research API's progress and result routes read this mode unchanged.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from typing import Annotated, Any

import structlog
from langchain_core.messages import AnyMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphInterrupt
from langgraph.graph.message import add_messages
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from config_schema.access import setting
from engine.context import AUTH_USER_ID
from nodes.interrupts import ask_approval
from nodes.research import progress
from nodes.research.branch import branch_budget, research_query
from nodes.research.plan import question_of
from nodes.research.review import finalize, review
from nodes.research.state import SOURCE_MODES, Finding, NumberedSource, ResearchFailed, findings_of
from nodes.research.write import heading, retrieved_docs
from nodes.section_team import MARK, SECTION_GRAPH, section_result, sentences_of, with_marks
from nodes.team_events import team
from providers import offline
from providers.models import get_model
from providers.offline.keyphrases import keyphrases
from providers.offline.tokens import terms
from providers.structured import StructuredOutputError, structured
from providers.types import SourceDoc
from reports.citations import renumber_citations

log = structlog.get_logger("clew.research.editorial")

SECTION_NODE = "section_team"
MAX_TITLE_CHARS = 200
MAX_BRIEF_CHARS = 1000
MAX_EDITED_SECTIONS = 10
MODE = "multi_agent"


class OutlineSection(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    brief: str = Field(default="", max_length=MAX_BRIEF_CHARS)


class Outline(BaseModel):
    """A report's plan: its title and its sections, each with a short brief."""

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    sections: list[OutlineSection] = Field(min_length=1)


OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": "\\S"},
        "sections": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_EDITED_SECTIONS,
            "items": {
                "type": "object",
                "properties": {
                    "title": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_TITLE_CHARS,
                        "pattern": "\\S",
                    },
                    "brief": {"type": "string", "maxLength": MAX_BRIEF_CHARS},
                },
                "required": ["title"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "sections"],
    "additionalProperties": False,
}
"""JSON schema of an edited outline (the ``edited`` value of the review's ``edit`` answer)."""


RESET: dict[str, Any] = {"__reset__": True}


def extend_or_reset(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Reducer of ``findings`` and ``sections``: parallel branches append; an update starting with
    :data:`RESET` replaces the list (a new research on the same thread starts afresh)."""
    items = list(right or [])
    if items and items[0] == RESET:
        return items[1:]
    return [*(left or []), *items]


class EditorialState(TypedDict, total=False):
    """State of a multi-agent research thread (plain JSON, served as the thread's values)."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    mode: str
    source_mode: str
    stage: str
    status: str
    queries: list[dict[str, Any]]
    findings: Annotated[list[dict[str, Any]], extend_or_reset]
    outline: dict[str, Any]
    outline_history: list[dict[str, Any]]
    plan_revisions: int
    plan_feedback: str | None
    plan_decision: str
    plan_note: str | None
    sections: Annotated[list[dict[str, Any]], extend_or_reset]
    total_sections: int
    total_queries: int
    level: int
    depth: int
    concurrency: int
    budget_words: int
    report: str
    sources: list[dict[str, Any]]
    quality: dict[str, Any]
    cost: dict[str, Any]
    offline: bool
    exports: dict[str, str]
    notes: list[str]
    error: str | None
    started_at: float
    finished_at: float
    duration: float


class EditorialInput(TypedDict, total=False):
    """What a multi-agent research takes: a question (or a chat message) and optionally its source mode."""

    question: str
    messages: Annotated[list[AnyMessage], add_messages]
    source_mode: str


def _values(runtime: Runtime[Any] | None) -> Mapping[str, Any] | None:
    ctx = getattr(runtime, "context", None) if runtime is not None else None
    return ctx if isinstance(ctx, Mapping) else None


def _user(config: RunnableConfig) -> str:
    return str((config.get("configurable") or {}).get(AUTH_USER_ID) or "local")


def wants_outline_review(values: Mapping[str, Any] | None) -> bool:
    """``research.human_review``, on while unset: this mode's default."""
    value = setting(values, "research.human_review")
    return True if value is None else bool(value)


# --- browser ----------------------------------------------------------------------------------------------


async def browser(state: EditorialState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    progress.stage("planning", "browsing the question")
    team("browser", "started")
    question = question_of(state)
    source = str(state.get("source_mode") or setting(values, "research.source_mode"))
    if source not in SOURCE_MODES:
        raise ResearchFailed(f"unknown source mode {source!r}: expected one of {', '.join(SOURCE_MODES)}")
    max_sections = int(setting(values, "research.max_sections"))
    budget = branch_budget(values, 1 + max_sections)
    finding = await research_query(
        query=question,
        question=question,
        index=0,
        level=1,
        source_mode=source,
        user_id=_user(config),
        values=values,
        budget_words=budget,
        follow_ups=0,
        config=config,
    )
    team(
        "browser",
        "failed" if finding.failed else "done",
        sources=len(finding.docs),
        message=finding.error or "",
    )
    return {
        "question": question,
        "mode": MODE,
        "source_mode": source,
        "stage": "browsed",
        "status": "running",
        "queries": [{"index": 0, "level": 1, "query": question}],
        "findings": [RESET, finding.model_dump(mode="json")],
        "sections": [RESET],
        "outline": {},
        "plan_decision": "",
        "plan_note": None,
        "plan_feedback": None,
        "report": "",
        "level": 1,
        "depth": 2,
        "total_queries": 1,
        "concurrency": int(setting(values, "research.concurrency")),
        "budget_words": budget,
        "plan_revisions": 0,
        "outline_history": [],
        "started_at": time.time(),
        "notes": [],
        "error": None,
    }


# --- editor -------------------------------------------------------------------------------------------------


def _browsed(state: Mapping[str, Any]) -> Finding | None:
    for f in findings_of(state.get("findings")):
        if f.level == 1 and f.index == 0:
            return f
    return None


def offline_outline(
    question: str,
    texts: Sequence[str],
    n: int,
    *,
    feedback: str | None = None,
    previous: Outline | None = None,
) -> Outline:
    """The offline editor: sections from the query plan's clusters (key phrases of the browsed text).

    With ``feedback``, its key phrases that the question does not name (those the browsed text also has, when
    there are any) become the first sections and the previous outline fills the rest.
    """
    topics = [_aspect(q, question, texts) for q in offline.plan_queries(question, n + 1, list(texts))[1:]]
    if feedback:
        q_terms = set(terms(question))
        found = {t for text in texts for t in terms(text)}
        asked = [k.phrase for k in keyphrases(feedback, top=2 * n) if not set(terms(k.phrase)) <= q_terms]
        # phrases the sources know come first ("cover", "please" are the feedback's words, not topics)
        wanted = [p for p in asked if set(terms(p)) & found] or asked
        earlier = [s.title for s in previous.sections] if previous else topics
        topics = [*wanted, *earlier]
    seen: set[str] = set()
    picked: list[str] = []
    for t in topics:
        key = " ".join(terms(t))
        if t.strip() and key not in seen:
            seen.add(key)
            picked.append(heading(t))
    picked = picked[:n] or [heading(question)]
    return Outline(
        title=heading(question)[:MAX_TITLE_CHARS],
        sections=[
            OutlineSection(
                title=t[:MAX_TITLE_CHARS],
                brief=f"{t} -- {question}"[:MAX_BRIEF_CHARS],
            )
            for t in picked
        ],
    )


def _aspect(query: str, question: str, texts: Sequence[str]) -> str:
    """A section title from a planned query: the aspect without the question's main key phrase that the
    query plan puts before it ("clew survive api process" -> "API process"), written as the browsed text
    writes it (the key phrases are lower-cased)."""
    main = keyphrases(question, top=1)
    aspect = query
    if main and query.lower().startswith(main[0].phrase.lower() + " "):
        aspect = query[len(main[0].phrase) + 1 :]
    found = None
    pattern = re.compile(r"(?<!\w)" + r"\s+".join(map(re.escape, aspect.split())) + r"(?!\w)", re.I)
    for text in texts:
        found = pattern.search(text)
        if found:
            break
    written = " ".join(found.group(0).split()) if found else aspect
    return aspect if written.isupper() and " " in written else written  # not SQL's or a heading's capitals


EDITOR_PROMPT = (
    "You are the editor of a research team. Plan a report answering the question: a title and its sections, "
    "each with a short brief saying what the section must cover. Sections must not overlap; together they "
    "answer the question. Do not plan an introduction, a conclusion or a sources section: the writer adds them."
)


async def editor(state: EditorialState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    question = state["question"]
    n = int(setting(values, "research.max_sections"))
    feedback = state.get("plan_feedback")
    revision = int(state.get("plan_revisions") or 0) + (1 if feedback else 0)
    previous = Outline.model_validate(state["outline"]) if feedback and state.get("outline") else None
    progress.stage("planning", "revising the outline" if feedback else "planning the report")
    team("editor", "started", revision=revision)
    browsed = _browsed(state)
    texts = [d.text for d in (browsed.docs if browsed else [])]
    outline: Outline | None = None
    model = get_model(values, "strategic")
    if model is not None:
        known = (
            "\n".join(f"- {s.text}" for s in (browsed.learnings if browsed else [])) or "(nothing found yet)"
        )
        parts = [f"Question: {question}", f"At most {n} sections.", f"What a first search found:\n{known}"]
        if previous is not None:
            parts.append(f"Your previous outline:\n{previous.model_dump_json()}")
            parts.append(f"The reviewer's feedback, which the new outline must follow:\n{feedback}")
        try:
            outline = await structured(
                model,
                Outline,
                [SystemMessage(content=EDITOR_PROMPT), HumanMessage(content="\n\n".join(parts))],
                config=config,
            )
            outline = outline.model_copy(update={"sections": outline.sections[:n]})
        except StructuredOutputError as exc:
            log.warning("outline planning by the model failed; using the offline editor", error=str(exc))
    if outline is None:
        outline = await asyncio.to_thread(
            offline_outline, question, texts, n, feedback=feedback, previous=previous
        )
    team("editor", "done", revision=revision, sections=len(outline.sections))
    history = list(state.get("outline_history") or [])
    if previous is not None:
        history.append({"outline": previous.model_dump(), "feedback": feedback})
    return {
        "outline": outline.model_dump(),
        "outline_history": history,
        "plan_revisions": revision,
        "plan_feedback": None,
        "stage": "planned",
    }


# --- the human's review of the outline ----------------------------------------------------------------------


def _outline_text(outline: Mapping[str, Any]) -> str:
    lines = [f"# {outline['title']}"]
    for i, s in enumerate(outline["sections"], start=1):
        lines.append(f"{i}. {s['title']}" + (f" -- {s['brief']}" if s.get("brief") else ""))
    return "\n".join(lines)


async def review_outline(state: EditorialState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
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


def route_after_review(state: EditorialState) -> Any:
    if state.get("plan_decision") == "feedback":
        return "editor"
    return dispatch(state)


# --- the sections -------------------------------------------------------------------------------------------


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


async def section_team(arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """The ``Send`` target: one section's researcher -> reviewer -> reviser subgraph."""
    n, total, title = int(arg["index"]) + 1, int(arg["total"]), str(arg["title"])
    team("section", "started", section=n, sections=total, title=title, revision=0)
    final = await SECTION_GRAPH.ainvoke(arg, config, context=runtime.context)
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


async def sections_done(state: EditorialState, config: RunnableConfig) -> dict[str, Any]:
    """Close a batch of sections (seeds the progress counter from the durable state)."""
    done = len(state.get("sections") or [])
    progress.COUNTER.seed(f"{(config.get('configurable') or {}).get('thread_id', '')}:sections", done)
    return {"stage": "researching" if pending_sections(state) else "researched"}


def route_after_sections(state: EditorialState) -> Any:
    return dispatch(state)


# --- writer -------------------------------------------------------------------------------------------------


class Framing(BaseModel):
    """What the writing model returns: the report's introduction and conclusion."""

    introduction: str = Field(min_length=1)
    conclusion: str = Field(min_length=1)


WRITER_PROMPT = (
    "You are the writer of a research team. The sections of the report are written; write its introduction "
    "(what the report covers and why) and its conclusion (what the sections establish together). Use only "
    "what the sections say, cite with their bracketed source numbers, and add no headings."
)


class _Table:
    """Provisional numbers: every document the report may cite, by source key, in order of registration."""

    def __init__(self) -> None:
        self.keys: list[str] = []
        self.entries: dict[str, NumberedSource] = {}

    def add(self, entry: NumberedSource) -> int:
        if entry.id not in self.entries:
            self.keys.append(entry.id)
            self.entries[entry.id] = entry
        return self.keys.index(entry.id) + 1

    def marks(self, ids: Sequence[str]) -> str:
        return "".join(f"[{self.keys.index(i) + 1}]" for i in dict.fromkeys(ids) if i in self.entries)


def _section_text(section: Mapping[str, Any], table: _Table, notes: list[str]) -> str:
    local = {int(s["n"]): table.add(NumberedSource.model_validate(s)) for s in section.get("sources") or []}
    dropped: list[int] = []

    def number(n: int) -> int | None:
        if n in local:
            return local[n]
        dropped.append(n)
        return None

    text = renumber_citations(str(section.get("draft") or ""), number)
    if dropped:
        notes.append(
            f"section “{section.get('title')}”: removed citation(s) "
            + ", ".join(f"[{n}]" for n in sorted(set(dropped)))
            + " that matched none of its sources"
        )
    return text


def _key(sentence: str) -> str:
    return " ".join(MARK.sub("", sentence).split()).strip(" .!?").lower()


def _without_repeats(texts: Sequence[str]) -> list[str]:
    """The sections' texts without a sentence an earlier section already has (sections are researched in
    parallel and often quote the same source); a section keeps at least its first sentence."""
    seen: set[str] = set()
    out = []
    for text in texts:
        sentences = sentences_of(text)
        fresh = [s for s in sentences if _key(s) not in seen]
        if len(fresh) < len(sentences):
            text = " ".join(fresh or sentences[:1])
        seen.update(_key(s) for s in sentences)
        out.append(text)
    return out


def _offline_framing(
    question: str, docs: Sequence[SourceDoc], table: _Table, used: set[str]
) -> tuple[str, str]:
    """Offline introduction (up to 3 sentences) and conclusion (up to 2): the sentences answering the question
    best that no section quotes already (``used``: the sections' sentences, as :func:`_key`). When the
    sections quote them all (a small corpus), the introduction repeats the best two and the conclusion the
    next one."""
    summary = offline.summarize(question, docs, 5 + len(used))
    ranked = [s for s in summary.sentences if table.marks(s.source_ids)]
    fresh = [s for s in ranked if _key(s.text) not in used]
    intro = fresh[:3] or ranked[:2]
    close = [s for s in fresh if s not in intro][:2] or [s for s in ranked if s not in intro][:1]

    def para(items: Sequence[Any]) -> str:
        return " ".join(with_marks(s.text, table.marks(s.source_ids)) for s in items)

    return para(intro), para(close)


def _final_numbering(body: str, table: _Table) -> tuple[str, list[NumberedSource]]:
    """Renumber the provisional numbers by first citation in the body; unknown numbers stay as they are."""
    order: list[int] = []

    def number(p: int) -> int:
        if not 1 <= p <= len(table.keys):
            return p  # not a stored source: larger than any final number, the citation check reports it
        if p not in order:
            order.append(p)
        return order.index(p) + 1

    text = renumber_citations(body, number)
    numbered = [
        table.entries[table.keys[p - 1]].model_copy(update={"n": n}) for n, p in enumerate(order, start=1)
    ]
    return text, numbered


async def writer(state: EditorialState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = _values(runtime)
    progress.stage("writing", "writing the report")
    team("writer", "started")
    outline = state["outline"]
    question = state["question"]
    sections = sorted(state.get("sections") or [], key=lambda s: int(s["index"]))
    if not any(s.get("draft") for s in sections):
        raise ResearchFailed("no section of this research found any usable source")
    notes = list(state.get("notes") or [])
    table = _Table()
    texts = _without_repeats([_section_text(s, table, notes) for s in sections])
    for s in sections:
        if s.get("error"):
            notes.append(f"section “{s['title']}”: {s['error']}")
        elif not s.get("accepted"):
            last = (s.get("reviews") or [{}])[-1]
            notes.append(
                f"section “{s['title']}” was not accepted by its reviewer after {s.get('revisions', 0)} "
                f"revision(s): {'; '.join(last.get('notes') or []) or 'no notes'}"
            )
    if state.get("plan_note"):
        notes.append(str(state["plan_note"]))
    docs = retrieved_docs(findings_of(state.get("findings")))
    for d in docs:
        table.add(NumberedSource.of(1, d))
    model = get_model(values, "smart")
    intro = conclusion = ""
    if model is not None:
        catalogue = "\n".join(f"[{i}] {table.entries[k].title}" for i, k in enumerate(table.keys, start=1))
        body = "\n\n".join(f"## {s['title']}\n\n{t}" for s, t in zip(sections, texts, strict=True) if t)
        try:
            framing = await structured(
                model,
                Framing,
                [
                    SystemMessage(content=WRITER_PROMPT),
                    HumanMessage(
                        content=f"Question: {question}\nTitle: {outline['title']}\n\nSections:\n\n{body}"
                        f"\n\nSources:\n{catalogue}"
                    ),
                ],
                config=config,
            )
            intro, conclusion = framing.introduction.strip(), framing.conclusion.strip()
        except StructuredOutputError as exc:
            log.warning("introduction by the model failed; quoting the sources instead", error=str(exc))
    if not intro:
        used = {_key(sentence) for t in texts for sentence in sentences_of(t)}
        intro, conclusion = await asyncio.to_thread(_offline_framing, question, docs, table, used)
    parts = [f"# {outline['title']}", ""]
    if model is None:
        parts += [f"> {offline.OFFLINE_NOTICE}", ""]
    if state.get("plan_note"):
        parts += [f"> {state['plan_note']}", ""]
    headings = (
        (["Introduction"] if intro else [])
        + [s["title"] for s in sections]
        + (["Conclusion"] if conclusion else [])
    )
    parts += ["## Contents", ""] + [f"{i}. {h}" for i, h in enumerate(headings, start=1)] + [""]
    if intro:
        parts += ["## Introduction", "", intro, ""]
    for s, text in zip(sections, texts, strict=True):
        parts += [f"## {s['title']}", "", text or "_No usable source was found for this section._", ""]
    if conclusion:
        parts += ["## Conclusion", "", conclusion, ""]
    body, numbered = await asyncio.to_thread(_final_numbering, "\n".join(parts), table)
    cited_docs = [SourceDoc(id=s.id, url=s.url, title=s.title) for s in numbered]
    markdown = body.rstrip() + "\n\n" + offline.format_sources(cited_docs) + "\n"
    team("writer", "done", sources=len(numbered))
    return {
        "report": markdown,
        "sources": [s.model_dump() for s in numbered],
        "offline": model is None,
        "stage": "written",
        "notes": notes,
    }


# --- publisher ----------------------------------------------------------------------------------------------


async def publisher(state: EditorialState, config: RunnableConfig) -> dict[str, Any]:
    team("publisher", "started")
    checked = await review(state)  # type: ignore[arg-type]
    final = await finalize({**state, **checked}, config)  # type: ignore[arg-type]
    thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
    exports = {fmt: f"/api/v1/research/{thread_id}/export/{fmt}" for fmt in ("md", "pdf", "docx")}
    team("publisher", "done", passed=bool(checked["quality"].get("passed")))
    return {**checked, **final, "exports": exports}
