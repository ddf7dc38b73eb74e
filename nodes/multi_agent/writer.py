"""The editorial team's last roles: the writer and the publisher.

- :func:`writer`: introduction, table of contents, the sections, conclusion, and one numbered source list:
  every section's local ``[n]`` is renumbered into the report's numbering (by first citation, each document
  once). The ``smart`` model writes the introduction and conclusion; offline they are quoted sentences;
- :func:`publisher`: the citation check every mode runs (:func:`nodes.research.review.review`), the cost
  summary and the answer message (:func:`nodes.research.review.finalize`), and the export links (md in the
  state; pdf and docx rendered on request by ``GET /api/v1/research/{id}/export/{fmt}``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from pydantic import BaseModel, Field

from nodes.multi_agent.drafts import MARK, sentences_of, with_marks
from nodes.multi_agent.events import team
from nodes.multi_agent.state import EditorialState
from nodes.research import progress
from nodes.research.review import finalize, review
from nodes.research.state import NumberedSource, ResearchFailed, findings_of
from nodes.research.write import retrieved_docs
from nodes.run_context import context_values
from providers import offline
from providers.models import get_model
from providers.structured import StructuredOutputError, structured
from providers.types import SourceDoc
from reports.citations import renumber_citations

log = structlog.get_logger("clew.research.editorial")


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
    values = context_values(runtime)
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


async def publisher(state: EditorialState, config: RunnableConfig) -> dict[str, Any]:
    team("publisher", "started")
    checked = await review(state)  # type: ignore[arg-type]
    final = await finalize({**state, **checked}, config)  # type: ignore[arg-type]
    thread_id = str((config.get("configurable") or {}).get("thread_id") or "")
    exports = {fmt: f"/api/v1/research/{thread_id}/export/{fmt}" for fmt in ("md", "pdf", "docx")}
    team("publisher", "done", passed=bool(checked["quality"].get("passed")))
    return {**checked, **final, "exports": exports}
