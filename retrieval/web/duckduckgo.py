"""DuckDuckGo retriever through the ``ddgs`` package (no key; its client is blocking, so it runs in a thread)."""

from __future__ import annotations

import asyncio
from typing import Any

from retrieval.types import WebResult
from retrieval.web.base import RetrieverError, make_results


class DuckDuckGoRetriever:
    name = "duckduckgo"

    def __init__(self, *, timeout: float = 15.0, weight: float = 1.0, region: str = "wt-wt") -> None:
        self.timeout = timeout
        self.weight = weight
        self.region = region

    def _search_blocking(self, query: str, max_results: int) -> list[dict[str, Any]]:
        from ddgs import DDGS

        return DDGS(timeout=max(1, int(self.timeout))).text(
            query, region=self.region, max_results=max_results
        )

    async def search(self, query: str, max_results: int) -> list[WebResult]:
        try:
            items = await asyncio.to_thread(self._search_blocking, query, max_results)
        except Exception as exc:  # ddgs raises its own exception family (and httpx / lxml ones) when it fails
            raise RetrieverError(f"duckduckgo failed ({type(exc).__name__}: {exc})") from exc
        triples = [
            (str(r.get("href", "")), str(r.get("title", "")), str(r.get("body", ""))) for r in items or []
        ]
        return make_results(self.name, triples, max_results, self.weight)
