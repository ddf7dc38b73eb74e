"""What a web retriever is: a named search backend answering a query with ranked results.

Retrievers call services an administrator configured (a SearxNG URL, a Tavily key), so their requests are
not subject to the page fetcher's SSRF guard; the result URLs they return are, when they are fetched.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

from retrieval.types import WebResult

# Results are scored like reciprocal rank fusion (k = 60), so scores of several retrievers compare.
RANK_CONSTANT = 60


class RetrieverError(Exception):
    """A retriever could not answer (unreachable, HTTP error, bad payload, missing configuration)."""


@runtime_checkable
class WebRetriever(Protocol):
    name: str

    async def search(self, query: str, max_results: int) -> list[WebResult]: ...


def rank_score(rank: int, weight: float = 1.0) -> float:
    """Score of the result at 1-based ``rank``: ``weight`` for the first, slowly decreasing."""
    return round(weight * RANK_CONSTANT / (RANK_CONSTANT + rank - 1), 6)


def make_results(
    name: str, items: list[tuple[str, str, str]], max_results: int, weight: float
) -> list[WebResult]:
    """WebResults from ``(url, title, snippet)`` triples: http(s) only, first occurrence of a URL wins."""
    seen: set[str] = set()
    out: list[WebResult] = []
    for url, title, snippet in items:
        url = (url or "").strip()
        if not url.lower().startswith(("http://", "https://")) or url in seen:
            continue
        seen.add(url)
        rank = len(out) + 1
        out.append(
            WebResult(
                url=url,
                title=(title or "").strip(),
                snippet=(snippet or "").strip(),
                retriever=name,
                rank=rank,
                score=rank_score(rank, weight),
            )
        )
        if len(out) >= max_results:
            break
    return out
