"""Reviewing a finished report: citation integrity and the research's cost summary.

:func:`review_citations` runs :func:`reports.citations.check_citations` against the sources stored in the
state and also checks that each stored source was retrieved by a branch of this run. A report citing a
number with no stored source (or storing a source nobody retrieved) fails its quality check: ``passed`` is
False and ``problems`` says why. The report is kept either way -- a reader decides -- but the failure is in
the state, the result API and the CLI's output.

:func:`cost_summary` sums the model usage recorded for the thread (``persistence.usage``, written by the run
engine as each call ends) -- every run of the research, including the ones before an approval -- or, when
the graph runs outside the engine, what a :class:`providers.usage.UsageTracker` among the run's callbacks saw.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import structlog
from langchain_core.runnables import RunnableConfig

from nodes.research_types import NumberedSource, Quality
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
    from nodes.sources import bound_runtime

    runtime = bound_runtime()

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
