"""Web search with fallback: the configured retrievers are tried in order until one returns results.

``search.retrievers`` lists them (e.g. ``["searxng", "duckduckgo"]``); one that is listed but not configured
(no SearxNG URL, no Tavily key) is skipped with a reason, one that fails, times out or finds nothing hands
over to the next. The response says which retriever answered and why the earlier ones did not.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog

from config_schema.access import setting
from retrieval.types import WebSearchResponse
from retrieval.web.base import RetrieverError, WebRetriever
from retrieval.web.duckduckgo import DuckDuckGoRetriever
from retrieval.web.searxng import SearxngRetriever
from retrieval.web.tavily import TavilyRetriever

log = structlog.get_logger("clew.web")


def configured_retrievers(values: Mapping[str, Any] | None) -> tuple[list[WebRetriever], dict[str, str]]:
    """The retrievers ``search.retrievers`` names that are usable, and why the others are not."""
    names = list(setting(values, "search.retrievers") or [])
    timeout = float(setting(values, "search.timeout_seconds"))
    weights = setting(values, "search.retriever_weights") or {}
    out: list[WebRetriever] = []
    skipped: dict[str, str] = {}
    for name in dict.fromkeys(names):
        weight = float(weights.get(name, 1.0)) if isinstance(weights, Mapping) else 1.0
        if name == "searxng":
            url = setting(values, "search.searxng_url")
            if not url:
                skipped[name] = "search.searxng_url is not set"
                continue
            out.append(SearxngRetriever(str(url), timeout=timeout, weight=weight))
        elif name == "tavily":
            key = setting(values, "search.tavily_api_key")
            if not key:
                skipped[name] = "search.tavily_api_key is not set"
                continue
            out.append(
                TavilyRetriever(str(key), base_url=setting(values, "search.tavily_base_url"), weight=weight)
            )
        elif name == "duckduckgo":
            out.append(DuckDuckGoRetriever(timeout=timeout, weight=weight))
        else:
            skipped[name] = "unknown retriever"
    return out, skipped


async def search_web(
    query: str,
    values: Mapping[str, Any] | None = None,
    *,
    retrievers: Sequence[WebRetriever] | None = None,
    max_results: int | None = None,
) -> WebSearchResponse:
    """Results of the first retriever that answers; ``retrievers`` overrides the configured ones."""
    skipped: dict[str, str] = {}
    if retrievers is None:
        chosen, skipped = configured_retrievers(values)
    else:
        chosen = list(retrievers)
    limit = int(max_results or setting(values, "search.max_results"))
    timeout = float(setting(values, "search.timeout_seconds"))
    errors = dict(skipped)
    query = query.strip()
    if not query:
        return WebSearchResponse(query=query, retriever=None, results=[], errors=errors)
    for retriever in chosen:
        try:
            async with asyncio.timeout(timeout):
                results = await retriever.search(query, limit)
        except TimeoutError:
            errors[retriever.name] = f"timed out after {timeout:g} s"
        except RetrieverError as exc:
            errors[retriever.name] = str(exc)
        except Exception as exc:  # a third-party client failing in an unforeseen way must not end the search
            errors[retriever.name] = f"{type(exc).__name__}: {exc}"
        else:
            if results:
                if errors:
                    log.info("web search fell back", query=query, used=retriever.name, errors=errors)
                return WebSearchResponse(
                    query=query, retriever=retriever.name, results=results[:limit], errors=errors
                )
            errors[retriever.name] = "no results"
        log.warning("web retriever failed", retriever=retriever.name, error=errors[retriever.name])
    return WebSearchResponse(query=query, retriever=None, results=[], errors=errors)
