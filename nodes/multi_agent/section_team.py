"""One section of a multi-agent research: researcher -> reviewer -> (reviser -> reviewer)* as a subgraph.

``graphs/multi_agent_research.py`` builds the subgraph from these roles and the root graph sends one ``Send``
per planned section to a node that runs it (:mod:`nodes.multi_agent.sections`); the finished section goes back
to the root as a pending write, so a section that finished before a crash is never researched again.

- **researcher**: researches the section's query (its title, with the question's main phrase when the title
  lacks it) in the run's source mode through :func:`nodes.research.branch.research_query` (retrieve, compress,
  extract cited learnings), then drafts the section body citing the section's own numbered sources
  ``[1]..[k]``: the ``smart`` model writes it from the learnings, or the offline engine quotes them.
- **reviewer**: checks the draft against its brief and its sources. The checks that need no model always
  run: every sentence cites a source, every cited number is one of the section's sources, the title's key
  phrases are covered. With a ``strategic`` model, the model also judges (unsupported claims, missing
  citations, off-brief content) and returns notes. The draft is accepted when no check failed and the model
  (if any) accepts.
- **reviser**: rewrites the draft following the notes -- the ``smart`` model, or offline: drop sentences
  that cite nothing and numbers that are not the section's, and quote the sources on the missing key phrases.
  At most ``research.max_section_revisions`` rewrites; a section still not accepted then is kept with the
  reviewer's last notes.

The section's numbering is local; the writer renumbers every section into one source list. The result (see
:func:`section_result`) is plain JSON: ``{index, title, brief, draft, sources, accepted, revisions,
reviews, offline, error}``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.graph import END
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from config_schema.access import setting
from nodes.multi_agent.drafts import (
    MARK,
    catalogue,
    cite_marks,
    clean_body,
    local_sources,
    offline_draft,
    section_query,
    sentences_of,
    with_marks,
)
from nodes.multi_agent.events import team
from nodes.multi_agent.state import SectionState
from nodes.research.branch import research_query
from nodes.research.state import Finding
from nodes.research.write import by_document, reply_text
from nodes.run_context import context_values, run_user
from providers import offline
from providers.models import get_model
from providers.offline.keyphrases import keyphrases
from providers.offline.tokens import terms
from providers.structured import StructuredOutputError, structured
from reports.citations import find_citations, renumber_citations

log = structlog.get_logger("clew.research.section")

RESEARCHER_PROMPT = (
    "You are the researcher of one section of a research report written by a team. Write the section's body "
    "from the learnings only: one to three paragraphs, no heading, no list of sources. Cite every sentence "
    "with the bracketed numbers of its sources, e.g. [1] or [2][3], using only numbers from the source list."
)
REVIEWER_PROMPT = (
    "You are the reviewer of one section of a research report. Check the draft against its brief and its "
    "numbered sources: claims the sources do not support, sentences without a citation, content off the "
    "brief. Accept it when it is sound; otherwise return short, concrete notes for the reviser."
)
REVISER_PROMPT = (
    "You are the reviser of one section of a research report. Rewrite the draft so that it answers every "
    "note of the reviewer. Keep to the brief and to the numbered sources; cite every sentence with their "
    "bracketed numbers. Reply with the section's body only: no heading, no list of sources."
)


class SectionReview(BaseModel):
    """What the reviewing model returns."""

    accept: bool = Field(description="true when the draft needs no change")
    notes: list[str] = Field(default_factory=list, description="what the reviser must change")


def _where(state: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "section": int(state.get("index", 0)) + 1,
        "sections": int(state.get("total") or 0) or None,
        "title": str(state.get("title") or ""),
    }


async def researcher(state: SectionState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    where = _where(state)
    team("researcher", "started", revision=0, **where)
    question = str(state.get("question") or state["title"])
    finding = await research_query(
        query=section_query(str(state["title"]), question),
        question=question,
        index=where["section"],
        level=2,
        source_mode=str(state.get("source_mode") or "local"),
        user_id=run_user(config),
        values=values,
        budget_words=int(state.get("budget_words") or 300),
        follow_ups=0,
        config=config,
    )
    model = get_model(values, "smart")
    out: dict[str, Any] = {
        "finding": finding.model_dump(mode="json"),
        "revision": 0,
        "reviews": [],
        "offline": model is None,
    }
    if finding.failed:
        team("researcher", "failed", revision=0, message=finding.error or "", **where)
        return {**out, "draft": "", "sources": [], "accepted": False}
    _, numbered = local_sources(finding)
    number = {s.id: s.n for s in numbered}
    learnings = by_document([finding])[0].learnings
    draft = ""
    if model is not None:
        lines = [
            f"- {s.text} {cite_marks(s.source_ids, number)}"
            for s in learnings
            if cite_marks(s.source_ids, number)
        ]
        sources = [s.model_dump() for s in numbered]
        prompt = [
            SystemMessage(content=RESEARCHER_PROMPT),
            HumanMessage(
                content=(
                    f"Report question: {question}\nSection: {state['title']}\nBrief: {state.get('brief', '')}"
                    f"\n\nLearnings:\n" + "\n".join(lines) + "\n\nSources:\n" + catalogue(sources)
                )
            ),
        ]
        reply = await model.ainvoke(prompt, config=config)
        draft = clean_body(reply_text(reply))
    if not draft:
        draft = offline_draft(learnings, number)
    team("researcher", "done", revision=0, sources=len(numbered), **where)
    return {**out, "draft": draft, "sources": [s.model_dump() for s in numbered]}


def route_after_research(state: SectionState) -> str:
    return "reviewer" if state.get("draft") else END


def _phrases(text: str, top: int) -> list[str]:
    return [k.phrase for k in keyphrases(text, top=top) if terms(k.phrase)]


def uncovered_keywords(draft: str, title: str, brief: str) -> tuple[list[str], bool]:
    """The key phrases of the title and the brief the draft does not cover (a phrase counts as covered when
    half of its terms occur), and whether the draft is off the brief: it covers no phrase of the title, or
    fewer than half of all."""
    title_phrases = _phrases(title, 3)
    key = list(dict.fromkeys([*title_phrases, *_phrases(brief, 3)]))
    have = set(terms(draft))

    def covered(phrase: str) -> bool:
        words = terms(phrase)
        return 2 * sum(1 for t in words if t in have) >= len(words)

    missing = [k for k in key if not covered(k)]
    off = bool(key) and (
        (bool(title_phrases) and all(k in missing for k in title_phrases)) or 2 * len(missing) > len(key)
    )
    return missing, off


def mechanical_review(
    draft: str, sources: Sequence[Mapping[str, Any]], title: str, brief: str = ""
) -> list[str]:
    """The checks that need no model: every sentence cited, every citation stored, the brief's keywords
    (the key phrases of the title and the brief) covered."""
    problems: list[str] = []
    uncited = [s for s in sentences_of(draft) if not MARK.search(s)]
    if uncited:
        problems.append(
            f"{len(uncited)} sentence(s) cite no source, e.g. “{uncited[0][:120]}”: cite or remove them"
        )
    stored = {int(s["n"]) for s in sources}
    missing = [n for n in find_citations(draft) if n not in stored]
    if missing:
        problems.append(
            "cites " + ", ".join(f"[{n}]" for n in missing) + " but the section has no such source"
        )
    absent, off = uncovered_keywords(draft, title, brief)
    if off:
        problems.append(f"off the brief: the draft does not cover {', '.join(absent)}")
    return problems


async def reviewer(state: SectionState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    where = _where(state)
    revision = int(state.get("revision") or 0)
    team("reviewer", "started", revision=revision, **where)
    draft = str(state.get("draft") or "")
    sources = state.get("sources") or []
    problems = await asyncio.to_thread(
        mechanical_review, draft, sources, str(state.get("title") or ""), str(state.get("brief") or "")
    )
    notes = list(problems)
    verdict: bool | None = None
    model = get_model(values, "strategic")
    if model is not None:
        prompt = [
            SystemMessage(content=REVIEWER_PROMPT),
            HumanMessage(
                content=(
                    f"Section: {state.get('title')}\nBrief: {state.get('brief', '')}\n\nDraft:\n{draft}\n\n"
                    f"Sources:\n{catalogue(sources)}"
                    + (
                        "\n\nProblems found by the automatic checks:\n"
                        + "\n".join(f"- {p}" for p in problems)
                        if problems
                        else ""
                    )
                )
            ),
        ]
        try:
            review = await structured(model, SectionReview, prompt, config=config)
            verdict = review.accept
            notes.extend(n for n in (" ".join(x.split()) for x in review.notes) if n and n not in notes)
        except StructuredOutputError as exc:
            log.warning("section review by the model failed; the automatic checks decide", error=str(exc))
    accepted = not problems and verdict is not False
    record = {
        "round": revision,
        "accepted": accepted,
        "notes": notes,
        "checks": problems,
        "by": "model" if verdict is not None else "checks",
    }
    team("reviewer", "accepted" if accepted else "rejected", revision=revision, notes=notes, **where)
    return {"reviews": [*(state.get("reviews") or []), record], "accepted": accepted}


def route_after_review(state: SectionState, runtime: Runtime[Any]) -> str:
    """Done when accepted or when ``research.max_section_revisions`` rewrites were made; else rewrite."""
    if state.get("accepted"):
        return END
    limit = int(setting(context_values(runtime), "research.max_section_revisions"))
    return "reviser" if int(state.get("revision") or 0) < limit else END


def offline_revision(
    draft: str,
    sources: Sequence[Mapping[str, Any]],
    finding: Finding,
    title: str,
    problems: Sequence[str],
    brief: str = "",
) -> str:
    """The offline reviser: keep cited sentences with stored numbers; off the brief, add the sources' best
    sentences on the keywords the draft misses."""
    stored = {int(s["n"]) for s in sources}
    kept = []
    for sentence in sentences_of(renumber_citations(draft, lambda n: n if n in stored else None)):
        if MARK.search(sentence):
            kept.append(sentence)
    text = " ".join(kept)
    if any(p.startswith("off the brief") for p in problems) or not kept:
        docs, numbered = local_sources(finding)
        number = {s.id: s.n for s in numbered}
        absent, _ = uncovered_keywords(text, title, brief)
        summary = offline.summarize(" ".join([title, *absent]), docs, 3)
        have = {s.lower() for s in kept}
        extra = [
            with_marks(s.text, cite_marks(s.source_ids, number))
            for s in summary.sentences
            if cite_marks(s.source_ids, number) and s.text.lower() not in have and s.text not in text
        ]
        text = " ".join([*kept, *extra[:2]])
    return text


async def reviser(state: SectionState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    where = _where(state)
    revision = int(state.get("revision") or 0) + 1
    team("reviser", "started", revision=revision, **where)
    draft = str(state.get("draft") or "")
    sources = state.get("sources") or []
    last = (state.get("reviews") or [{}])[-1]
    notes = list(last.get("notes") or [])
    model = get_model(values, "smart")
    text = ""
    if model is not None:
        prompt = [
            SystemMessage(content=REVISER_PROMPT),
            HumanMessage(
                content=(
                    f"Section: {state.get('title')}\nBrief: {state.get('brief', '')}\n\nDraft:\n{draft}\n\n"
                    "Reviewer's notes:\n"
                    + "\n".join(f"- {n}" for n in notes)
                    + f"\n\nSources:\n{catalogue(sources)}"
                )
            ),
        ]
        reply = await model.ainvoke(prompt, config=config)
        text = clean_body(reply_text(reply))
    if not text:
        finding = Finding.model_validate(state.get("finding") or {"index": 0, "query": ""})
        text = await asyncio.to_thread(
            offline_revision,
            draft,
            sources,
            finding,
            str(state.get("title") or ""),
            list(last.get("checks") or []),
            str(state.get("brief") or ""),
        )
    team("reviser", "done", revision=revision, **where)
    return {"draft": text or draft, "revision": revision}


def section_result(state: Mapping[str, Any]) -> dict[str, Any]:
    """What the root graph keeps of a finished section (plain JSON)."""
    finding = state.get("finding") or {}
    return {
        "index": int(state.get("index", 0)),
        "title": str(state.get("title") or ""),
        "brief": str(state.get("brief") or ""),
        "draft": str(state.get("draft") or ""),
        "sources": list(state.get("sources") or []),
        "accepted": bool(state.get("accepted")),
        "revisions": int(state.get("revision") or 0),
        "reviews": list(state.get("reviews") or []),
        "offline": bool(state.get("offline", True)),
        "error": finding.get("error"),
    }
