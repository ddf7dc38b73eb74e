"""SearxNG retriever: a self-hosted metasearch engine queried through its JSON API (``format=json``).

The instance must have ``json`` among its enabled formats (``search.formats`` in its settings.yml).
"""

from __future__ import annotations

from typing import Any

import httpx

from retrieval.types import WebResult
from retrieval.web.base import RetrieverError, make_results


class SearxngRetriever:
    name = "searxng"

    def __init__(
        self, base_url: str, *, timeout: float = 15.0, weight: float = 1.0, language: str = "auto"
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.weight = weight
        self.language = language

    async def search(self, query: str, max_results: int) -> list[WebResult]:
        params = {"q": query, "format": "json", "pageno": 1, "language": self.language, "safesearch": 1}
        try:
            async with httpx.AsyncClient(timeout=self.timeout, trust_env=False) as client:
                response = await client.get(f"{self.base_url}/search", params=params)
        except httpx.HTTPError as exc:
            raise RetrieverError(f"searxng at {self.base_url} is unreachable ({type(exc).__name__})") from exc
        if response.status_code != 200:
            hint = " (is the json format enabled?)" if response.status_code == 403 else ""
            raise RetrieverError(f"searxng answered HTTP {response.status_code}{hint}")
        try:
            payload: Any = response.json()
            items = payload["results"]
            triples = [
                (str(r.get("url", "")), str(r.get("title", "")), str(r.get("content", ""))) for r in items
            ]
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise RetrieverError(f"searxng answered an unexpected payload ({exc})") from exc
        return make_results(self.name, triples, max_results, self.weight)
