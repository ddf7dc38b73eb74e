"""One research branch (one sub-query): retrieve, compress, extract -- and the fan-out that schedules them.

:func:`research_query` is the body of a ``Send`` branch (the ``research_branch`` node,
:func:`research_branch`). It gathers sources (:mod:`nodes.sources`, in the
run's source mode), keeps the most relevant text within the branch's share of the context budget
(:func:`retrieval.memory.assemble_context`), then extracts learnings, each citing the ids of the documents
it comes from, and follow-up questions. With a ``fast`` model configured the model extracts them
(structured output, documents numbered in the prompt, numbers mapped back to ids; a learning citing a number
that was not given is dropped); otherwise the offline engine quotes the best sentences (of the documents'
prose, :func:`nodes.research.prose.prose_text`). A branch that finds
nothing or fails returns a :class:`Finding` with ``error`` set rather than raising, so one bad query does
not take the research down; the caller decides what a level of failures means.

:func:`next_sends` is the fan-out: one ``Send`` per planned query not yet researched, at most
``concurrency`` at a time (the rest go out when the batch is back), so the setting bounds the load on the
searched sites and the model whatever the run's config says, and every finished branch is checkpointed;
:func:`dispatch` is the route that sends them (or goes on to ``write`` when every query has its finding).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.errors import GraphBubbleUp
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, Field

from config_schema.access import setting
from nodes.research import progress
from nodes.research.prose import prose_text
from nodes.research.state import Finding
from nodes.run_context import context_values, run_user
from nodes.sources import SourceUnavailable, gather
from providers import offline
from providers.models import get_model
from providers.structured import StructuredOutputError, structured
from providers.types import CitedSentence, SourceDoc
from retrieval.memory import assemble_context

log = structlog.get_logger("clew.research.branch")

BRANCH_NODE = "research_branch"
MIN_BRANCH_WORDS = 300
LEARNINGS_PER_BRANCH = 6


class _Learning(BaseModel):
    text: str = Field(min_length=1)
    sources: list[int] = Field(min_length=1, description="numbers of the documents this learning comes from")


class Extraction(BaseModel):
    """What the fast model returns for a branch."""

    learnings: list[_Learning] = Field(default_factory=list)
    follow_up_questions: list[str] = Field(default_factory=list)


def branch_budget(values: Mapping[str, Any] | None, branches: int) -> int:
    """Words of context one branch may keep: its share of ``memory.context_word_budget``."""
    total = int(setting(values, "memory.context_word_budget"))
    return max(MIN_BRANCH_WORDS, total // max(1, branches))


async def _extract_with_model(
    model: Any,
    query: str,
    question: str,
    docs: Sequence[SourceDoc],
    follow_ups: int,
    config: RunnableConfig | None,
) -> tuple[list[CitedSentence], list[str]]:
    # Each passage comes with where it is (page, section), so the model can say it and cite precisely;
    # title pages and licence notices are not evidence (kept only when nothing else was found).
    docs = [d for d in docs if not d.metadata.get("front_matter")] or list(docs)
    blocks = "\n\n".join(f"[{i}] {d.located_label()}\n{d.text}" for i, d in enumerate(docs, start=1))
    messages = [
        SystemMessage(
            content="You extract facts from documents for a research report. Use only the documents."
        ),
        HumanMessage(
            content=(
                f"Overall question: {question}\nSearch query: {query}\n\nDocuments:\n\n{blocks}\n\n"
                f"Return up to {LEARNINGS_PER_BRANCH} concise learnings relevant to the query, each with the "
                f"numbers of the documents it comes from, and up to {follow_ups} follow-up questions worth "
                "researching next."
            )
        ),
    ]
    extraction = await structured(model, Extraction, messages, config=config)
    learnings = []
    for item in extraction.learnings:
        ids = list(dict.fromkeys(docs[n - 1].id for n in item.sources if 1 <= n <= len(docs)))
        if ids and item.text.strip():
            learnings.append(CitedSentence(text=" ".join(item.text.split()), source_ids=ids))
    return learnings, [q for q in (" ".join(f.split()) for f in extraction.follow_up_questions) if q][
        :follow_ups
    ]


async def _extract_offline(
    query: str, docs: Sequence[SourceDoc], follow_ups: int
) -> tuple[list[CitedSentence], list[str]]:
    summary = await offline.asummarize(query, docs, LEARNINGS_PER_BRANCH)
    more = await offline.aplan_queries(query, follow_ups + 1, [d.text for d in docs])
    return list(summary.sentences), [q for q in more if q.lower() != query.lower()][:follow_ups]


async def research_query(
    *,
    query: str,
    question: str,
    index: int,
    level: int,
    source_mode: str,
    user_id: str,
    values: Mapping[str, Any] | None,
    budget_words: int,
    follow_ups: int = 3,
    config: RunnableConfig | None = None,
) -> Finding:
    """Retrieve, compress and extract for one query; failures come back as ``Finding.error``."""
    finding = Finding(index=index, query=query, level=level)
    try:
        docs, notes = await gather(query, source_mode, user_id, values)
        finding.notes = notes
        if not docs:
            finding.error = "no sources found for this query"
            return finding
        model = get_model(values, "fast")
        if model is None:
            docs = [d.model_copy(update={"text": prose_text(d.text)}) for d in docs]
            docs = [d for d in docs if d.text]
        kept = await _compress(docs, budget_words)
        finding.docs = kept
        learnings: list[CitedSentence] = []
        follow: list[str] = []
        if model is not None:
            try:
                learnings, follow = await _extract_with_model(
                    model, query, question, kept, follow_ups, config
                )
            except StructuredOutputError as exc:
                finding.notes.append(f"model extraction failed, quoted the sources instead: {exc}")
        if not learnings:
            learnings, follow_offline = await _extract_offline(query, kept, follow_ups)
            follow = follow or follow_offline
        finding.learnings = learnings
        finding.follow_ups = follow
        if not learnings:
            finding.error = "the sources found say nothing usable about this query"
    except GraphBubbleUp:
        raise
    except SourceUnavailable as exc:
        finding.error = str(exc)
    except Exception as exc:  # one failing query must not end the research; the level decides
        log.warning("research branch failed", query=query, error=str(exc), exc_info=exc)
        finding.error = f"{type(exc).__name__}: {exc}"
    return finding


async def _compress(docs: Sequence[SourceDoc], budget_words: int) -> list[SourceDoc]:
    assembled = await asyncio.to_thread(assemble_context, list(docs), budget_words)
    kept = assembled.sources()
    # assemble_context orders by relevance; keep retrieval order among the kept ones (stable numbering)
    order = {d.id: i for i, d in enumerate(docs)}
    return sorted(kept, key=lambda d: order.get(d.id, len(order)))


# --- fan-out ----------------------------------------------------------------------------------------------


def done_indices(state: Mapping[str, Any]) -> set[int]:
    return {int(f["index"]) for f in state.get("findings") or []}


def pending_queries(state: Mapping[str, Any], level: int | None = None) -> list[dict[str, Any]]:
    """Planned queries (of ``level``, or any) with no finding yet, in plan order."""
    done = done_indices(state)
    return [
        q
        for q in state.get("queries") or []
        if int(q["index"]) not in done and (level is None or int(q.get("level", 1)) == level)
    ]


def next_sends(state: Mapping[str, Any]) -> list[Send]:
    """One ``Send`` per pending query of the current level, at most ``concurrency`` of them."""
    level = int(state.get("level") or 1)
    batch = pending_queries(state, level)[: max(1, int(state.get("concurrency") or 1))]
    return [
        Send(
            BRANCH_NODE,
            {
                "query": q["query"],
                "index": int(q["index"]),
                "level": level,
                "question": state.get("question", ""),
                "source_mode": state.get("source_mode", "local"),
                "budget_words": int(state.get("budget_words") or MIN_BRANCH_WORDS),
                "follow_ups": int(state.get("follow_ups") or 3),
                "total_queries": int(state.get("total_queries") or len(state.get("queries") or [])),
                "completed": len(state.get("findings") or []),
                "depth": int(state.get("depth") or 1),
                "breadth": len([x for x in state.get("queries") or [] if int(x.get("level", 1)) == level]),
                "total_breadth": int((state.get("levels") or [0])[0] or 0),
            },
        )
        for q in batch
    ]


def dispatch(state: Mapping[str, Any]) -> list[Send] | str:
    """The route to the next batch of branches (:func:`next_sends`), or to ``write`` when none is pending."""
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


def run_key_of(config: RunnableConfig) -> str:
    conf = config.get("configurable") or {}
    return f"{conf.get('thread_id', '')}:{conf.get('run_id', '')}"


async def research_branch(
    arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]
) -> dict[str, Any]:
    """The ``Send`` target: research one query, report progress, return its finding."""
    query, index, level = str(arg["query"]), int(arg["index"]), int(arg.get("level", 1))
    progress.branch(index, query, "started", level=level)
    finding = await research_query(
        query=query,
        question=str(arg.get("question") or query),
        index=index,
        level=level,
        source_mode=str(arg.get("source_mode") or "local"),
        user_id=run_user(config),
        values=context_values(runtime),
        budget_words=int(arg.get("budget_words") or MIN_BRANCH_WORDS),
        follow_ups=int(arg.get("follow_ups") or 3),
        config=config,
    )
    progress.branch(
        index,
        query,
        "failed" if finding.failed else "done",
        level=level,
        sources=len(finding.docs),
        error=finding.error,
    )
    run_key = run_key_of(config)
    completed = await progress.COUNTER.increment(run_key, floor=int(arg.get("completed") or 0))
    progress.progress(
        current_depth=level,
        total_depth=int(arg.get("depth") or 1),
        current_breadth=int(arg.get("breadth") or 1),
        total_breadth=int(arg.get("total_breadth") or arg.get("breadth") or 1),
        completed_queries=completed,
        total_queries=int(arg.get("total_queries") or 1),
        current_query=query,
    )
    return {"findings": [finding.model_dump(mode="json")]}
