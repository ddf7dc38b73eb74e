"""The editorial team's first two roles: the browser and the editor.

- :func:`browser`: a first, broad research pass on the question (:func:`nodes.research.branch.research_query`,
  in the run's source mode), so the editor plans from what exists;
- :func:`editor`: plans the report as a title and at most ``research.max_sections`` sections with a short
  brief each -- the ``strategic`` model (structured output), or offline the query plan's clusters (key phrases
  of what the browser found that the question does not already name). Given the human's feedback
  (:mod:`nodes.multi_agent.outline_review`), it revises the outline.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from config_schema.access import setting
from nodes.multi_agent.events import team
from nodes.multi_agent.state import (
    MAX_BRIEF_CHARS,
    MAX_TITLE_CHARS,
    MODE,
    RESET,
    EditorialState,
    Outline,
    OutlineSection,
)
from nodes.research import progress
from nodes.research.branch import branch_budget, research_query
from nodes.research.plan import question_of
from nodes.research.state import Finding, checked_source_mode, findings_of
from nodes.research.write import heading
from nodes.run_context import context_values, run_user
from providers import offline
from providers.models import get_model
from providers.offline.keyphrases import keyphrases
from providers.offline.tokens import terms
from providers.structured import StructuredOutputError, structured

log = structlog.get_logger("clew.research.editorial")


async def browser(state: EditorialState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    progress.stage("planning", "browsing the question")
    team("browser", "started")
    question = question_of(state)
    source = checked_source_mode(str(state.get("source_mode") or setting(values, "research.source_mode")))
    max_sections = int(setting(values, "research.max_sections"))
    budget = branch_budget(values, 1 + max_sections)
    finding = await research_query(
        query=question,
        question=question,
        index=0,
        level=1,
        source_mode=source,
        user_id=run_user(config),
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
    values = context_values(runtime)
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
