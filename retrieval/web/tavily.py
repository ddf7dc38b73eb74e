"""Tavily retriever through ``langchain-tavily`` (API key from ``search.tavily_api_key``)."""

from __future__ import annotations

from typing import Any

from retrieval.types import WebResult
from retrieval.web.base import RetrieverError, make_results


class TavilyRetriever:
    name = "tavily"

    def __init__(self, api_key: str, *, base_url: str | None = None, weight: float = 1.0) -> None:
        if not api_key:
            raise RetrieverError("tavily needs search.tavily_api_key")
        self.api_key = api_key
        self.base_url = base_url.rstrip("/") if base_url else None
        self.weight = weight

    async def search(self, query: str, max_results: int) -> list[WebResult]:
        from langchain_tavily import TavilySearch

        tool = TavilySearch(
            tavily_api_key=self.api_key,
            api_base_url=self.base_url,
            max_results=max_results,
            search_depth="basic",
            topic="general",
        )
        try:
            raw: Any = await tool.ainvoke({"query": query})
        except Exception as exc:
            raise RetrieverError(f"tavily failed ({type(exc).__name__}: {exc})") from exc
        if isinstance(raw, str):  # the tool turns "no results" into a message for the model
            return []
        if not isinstance(raw, dict):
            raise RetrieverError(f"tavily answered an unexpected payload ({type(raw).__name__})")
        if "error" in raw:
            raise RetrieverError(f"tavily failed ({raw['error']})")
        items = raw.get("results") or []
        triples = [(str(r.get("url", "")), str(r.get("title", "")), str(r.get("content", ""))) for r in items]
        return make_results(self.name, triples, max_results, self.weight)
