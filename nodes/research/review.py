"""Reviewing a finished report: citation integrity and the research's cost summary (``review``, ``finalize``).

:func:`review_citations` runs :func:`reports.citations.check_citations` against the sources stored in the
state and also checks that each stored source was retrieved by a branch of this run. A report citing a
number with no stored source (or storing a source nobody retrieved) fails its quality check: ``passed`` is
False and ``problems`` says why. The report is kept either way -- a reader decides -- but the failure is in
the state, the result API and the CLI's output.

:func:`cost_summary` sums the model usage recorded for the thread (``persistence.usage``, written by the run
engine as each call ends) -- every run of the research, including the ones before an approval -- or, when
the graph runs outside the engine, what a :class:`providers.usage.UsageTracker` among the run's callbacks saw.

The nodes: ``review`` (:func:`review`) runs the citation check on the written report, ``finalize``
(:func:`finalize`) adds the cost summary, the duration and the report as the answer message (or says that
the plan was rejected).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig

from nodes.research import progress
from nodes.research.state import NumberedSource, Quality, ResearchState, findings_of
from nodes.research.write import retrieved_docs
from reports.citations import check_citations

log = structlog.get_logger("clew.research.review")


def review_citations(
    markdown: str, sources: Sequence[Mapping[str, Any]], retrieved_ids: Iterable[str]
) -> Quality:
    """The quality check of ``markdown`` against the stored ``sources`` (see the module docstring)."""
    check = check_citations(markdown, list(sources))
    retrieved = set(retrieved_ids)
    unretrieved = [str(s.get("id")) for s in sources if str(s.get("id")) not in retrieved]
    problems = []
    if check.missing:
        problems.append(
            "cites "
            + ", ".join(f"[{n}]" for n in check.missing)
            + " but no such source was retrieved and stored"
        )
    if unretrieved:
        problems.append(f"{len(unretrieved)} stored source(s) were not retrieved in this run")
    return Quality(
        passed=check.ok and not unretrieved,
        cited=check.cited,
        missing=check.missing,
        uncited_sources=check.uncited_sources,
        unretrieved_sources=unretrieved,
        problems=problems,
    )


async def areview_citations(
    markdown: str, sources: Sequence[NumberedSource | Mapping[str, Any]], retrieved_ids: Iterable[str]
) -> Quality:
    """:func:`review_citations` in a worker thread (markdown parsing is CPU work)."""
    plain = [s.model_dump() if isinstance(s, NumberedSource) else dict(s) for s in sources]
    ids = list(retrieved_ids)
    return await asyncio.to_thread(review_citations, markdown, plain, ids)


def _trackers(config: RunnableConfig | None) -> list[Any]:
    from providers.usage import UsageTracker

    callbacks = (config or {}).get("callbacks")
    handlers = getattr(callbacks, "handlers", callbacks) or []
    return [h for h in handlers if isinstance(h, UsageTracker)]


async def cost_summary(config: RunnableConfig | None, *, offline: bool) -> dict[str, Any]:
    """``{"usd", "input_tokens", "output_tokens", "calls", "offline", "by_model"}`` for this research."""
    from engine.current import runtime_or_none

    runtime = runtime_or_none()
    conf = (config or {}).get("configurable") or {}
    thread_id = conf.get("thread_id")
    totals: dict[str, Any] = {
        "usd": 0.0,
        "input_tokens": 0,
        "output_tokens": 0,
        "calls": 0,
        "offline": offline,
        "by_model": {},
    }
    if runtime is not None and thread_id:
        try:
            from persistence.usage import thread_usage

            t = await thread_usage(runtime.db, str(thread_id))
            _add(totals, "", t.calls, t.input_tokens, t.output_tokens, t.cost_usd)
            return totals
        except Exception as exc:  # accounting must not fail a finished research
            log.warning("could not read usage for the cost summary", error=str(exc))
    for tracker in _trackers(config):
        for model, t in tracker.by_model().items():
            _add(totals, model, t.calls, t.input_tokens, t.output_tokens, t.cost_usd)
    return totals


def _add(totals: dict[str, Any], model: str, calls: int, tin: int, tout: int, usd: float) -> None:
    totals["calls"] += calls
    totals["input_tokens"] += tin
    totals["output_tokens"] += tout
    totals["usd"] = round(totals["usd"] + float(usd), 8)
    if not model:
        return
    by = totals["by_model"].setdefault(model, {"calls": 0, "input_tokens": 0, "output_tokens": 0, "usd": 0.0})
    by["calls"] += calls
    by["input_tokens"] += tin
    by["output_tokens"] += tout
    by["usd"] = round(by["usd"] + float(usd), 8)


async def review(state: ResearchState) -> dict[str, Any]:
    """The ``review`` node: the written report's citation check (``quality``)."""
    progress.stage("reviewing", "checking citations")
    retrieved = [d.id for d in retrieved_docs(findings_of(state.get("findings")))]
    quality = await areview_citations(state.get("report", ""), state.get("sources") or [], retrieved)
    if not quality.passed:
        log.warning("report failed its citation check", problems=quality.problems)
    return {"quality": quality.model_dump()}


async def finalize(state: ResearchState, config: RunnableConfig) -> dict[str, Any]:
    """The ``finalize`` node: cost, duration, status and the answer message."""
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
