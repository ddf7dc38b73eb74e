"""Where research branches get their evidence: the user's knowledge base, the web, or both.

The knowledge base is the one of the runtime executing the run (``runtime.knowledge``, reached through
:mod:`engine.current`; opened by ``Runtime.start``). Embedded Qdrant lets one process own its directory: a
process that could not open it has none, and a research needing it fails with a clear
:class:`SourceUnavailable`.

Source modes: ``local`` searches only the knowledge base of the run's user and never touches the network;
``web`` searches the configured web retrievers and fetches the top pages through the SSRF-guarded fetcher
(with no web retriever configured it uses the knowledge base instead and says so, as the
``research.source_mode`` setting documents); ``hybrid`` does both and interleaves the results.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from config_schema.access import setting
from engine.current import runtime_or_none
from providers.types import SourceDoc, dedupe_sources

if TYPE_CHECKING:
    from retrieval.knowledge import KnowledgeBase

# Web results whose pages are fetched per query (the rest are kept as their search snippets).
FETCH_TOP = 3


class SourceUnavailable(RuntimeError):
    """A source the research needs cannot be reached in this process (no knowledge base, no retriever)."""


async def knowledge_base() -> KnowledgeBase | Any:
    """The knowledge base research reads: the current runtime's (:class:`SourceUnavailable` if none)."""
    return knowledge_of(runtime_or_none())


def knowledge_of(runtime: Any) -> KnowledgeBase | Any:
    """``runtime``'s knowledge base (:class:`SourceUnavailable` without a runtime or a knowledge base)."""
    kb = runtime.knowledge if runtime is not None else None
    if kb is None:
        raise SourceUnavailable(
            "no knowledge base is available in this process (embedded Qdrant belongs to one process: run "
            "research where the knowledge base is open, or set QDRANT_URL to share a Qdrant server)"
        )
    return kb


async def search_local(user_id: str, query: str, values: Mapping[str, Any] | None) -> list[SourceDoc]:
    """The user's best knowledge-base chunks for ``query`` as sources (no network)."""
    kb = await knowledge_base()
    k = int(setting(values, "memory.knowledge_top_k"))
    hits = await kb.search(user_id, query, k=k, values=values)
    docs = []
    for hit in hits:
        doc = hit.to_source() if hasattr(hit, "to_source") else hit
        doc.metadata.setdefault("kind", "local")
        docs.append(doc)
    return docs


def web_configured(values: Mapping[str, Any] | None) -> bool:
    from retrieval.web.search import configured_retrievers

    chosen, _ = configured_retrievers(values)
    return bool(chosen)


async def search_web(query: str, values: Mapping[str, Any] | None) -> tuple[list[SourceDoc], dict[str, str]]:
    """Web results for ``query``: the top pages fetched (guarded), the others as their snippets."""
    from retrieval.types import FetchedPage
    from retrieval.web.fetch import default_fetcher
    from retrieval.web.search import search_web as run_search

    response = await run_search(query, values)
    if not response.results:
        return [], dict(response.errors)
    top = response.results[:FETCH_TOP]
    pages = await default_fetcher().fetch_many([r.url for r in top], values)
    docs: list[SourceDoc] = []
    errors = dict(response.errors)
    for result, page in zip(top, pages, strict=True):
        if isinstance(page, FetchedPage) and page.text.strip():
            doc = page.to_source()
            doc.metadata.update({"retriever": result.retriever, "score": result.score})
            if not doc.title:
                doc.title = result.title
            docs.append(doc)
        else:
            if not isinstance(page, FetchedPage):
                errors[result.url] = str(page)
            docs.append(result.to_source())
    docs.extend(r.to_source() for r in response.results[FETCH_TOP:] if r.snippet.strip())
    return [d for d in docs if d.text.strip()], errors


def interleave(*lists: Sequence[SourceDoc]) -> list[SourceDoc]:
    """Round-robin merge (first of each list, then second of each, ...), duplicates removed."""
    out: list[SourceDoc] = []
    longest = max((len(x) for x in lists), default=0)
    for i in range(longest):
        for lst in lists:
            if i < len(lst):
                out.append(lst[i])
    return dedupe_sources(out)


async def gather(
    query: str, mode: str, user_id: str, values: Mapping[str, Any] | None
) -> tuple[list[SourceDoc], list[str]]:
    """Sources for ``query`` in source ``mode``, and notes on what was used or failed.

    Raises :class:`SourceUnavailable` when the mode's only source cannot be reached at all.
    """
    notes: list[str] = []
    if mode == "local":
        return await search_local(user_id, query, values), notes
    if mode == "web" and not web_configured(values):
        notes.append("no web retriever is configured (search.retrievers): used the knowledge base instead")
        return await search_local(user_id, query, values), notes
    web_docs: list[SourceDoc] = []
    if web_configured(values):
        web_docs, errors = await search_web(query, values)
        if errors and not web_docs:
            notes.append(
                "web search found nothing: " + "; ".join(f"{k}: {v}" for k, v in sorted(errors.items()))
            )
    elif mode == "hybrid":
        notes.append("no web retriever is configured (search.retrievers): searched the knowledge base only")
    if mode == "web":
        if not web_docs:
            raise SourceUnavailable(notes[-1] if notes else "web search found nothing")
        return web_docs, notes
    try:
        local_docs = await search_local(user_id, query, values)
    except SourceUnavailable as exc:
        if not web_docs:
            raise
        notes.append(str(exc))
        local_docs = []
    return interleave(local_docs, web_docs), notes
