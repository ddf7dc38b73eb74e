"""Pydantic models that retrieval hands to the rest of clew: documents, chunks, hits, web results, pages.

They are the boundary between the retrieval layer and its callers (API routes, graph nodes, the CLI), so
they carry everything a caller needs to cite a source: its ids, title, file name or URL and the text.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from providers.types import SourceDoc

DocumentStatus = Literal["pending", "processing", "ready", "error"]


class Document(BaseModel):
    """One uploaded knowledge-base document (its metadata row; the text lives in its chunks)."""

    document_id: UUID
    user_id: str
    filename: str
    content_type: str
    size_bytes: int
    status: DocumentStatus
    error: str | None = None
    chunk_count: int = 0
    title: str | None = None
    created_at: datetime
    updated_at: datetime


class Chunk(BaseModel):
    """A piece of a document's text as it is stored in the vector store."""

    chunk_id: str
    document_id: str
    user_id: str
    index: int
    text: str
    title: str | None = None
    source: str
    page: int | None = None
    start: int = 0


class SearchHit(BaseModel):
    """A knowledge-base chunk that matched a query; ``score`` is the fused relevance in [0, 1]."""

    document_id: str
    chunk_id: str
    text: str
    score: float
    title: str | None = None
    source: str
    url: str | None = None
    metadata: dict[str, Any] = Field(default_factory=dict)

    def to_source(self) -> SourceDoc:
        """This chunk as a citable source (id = chunk id)."""
        meta = {
            **self.metadata,
            "document_id": self.document_id,
            "filename": self.source,
            "score": self.score,
        }
        return SourceDoc(
            id=self.chunk_id,
            url=self.url or "",
            title=self.title or self.source,
            text=self.text,
            metadata=meta,
        )


class WebResult(BaseModel):
    """One result of a web retriever: where it points and the snippet the search engine gave."""

    url: str
    title: str = ""
    snippet: str = ""
    retriever: str
    rank: int
    score: float

    def to_source(self) -> SourceDoc:
        """The result's snippet as a source (id = URL), for when the page itself is not fetched."""
        return SourceDoc(
            id=self.url,
            url=self.url,
            title=self.title,
            text=self.snippet,
            metadata={"retriever": self.retriever, "rank": self.rank, "score": self.score, "kind": "web"},
        )


class WebSearchResponse(BaseModel):
    """What a web search returned, which retriever answered, and why earlier ones were skipped."""

    query: str
    retriever: str | None
    results: list[WebResult]
    errors: dict[str, str] = Field(default_factory=dict)


class FetchedPage(BaseModel):
    """A fetched web page reduced to its readable text."""

    url: str
    final_url: str
    status_code: int
    content_type: str
    title: str | None = None
    text: str
    redirects: list[str] = Field(default_factory=list)

    def to_source(self) -> SourceDoc:
        """The page as a source (id = the URL asked for, so caches and citations agree)."""
        return SourceDoc(
            id=self.url,
            url=self.final_url,
            title=self.title or "",
            text=self.text,
            metadata={"content_type": self.content_type, "kind": "web"},
        )
