"""Value types the research nodes pass between each other and keep in graph state.

Graph state is checkpointed to Postgres and served over the API as JSON, so state holds plain dicts
(``model_dump()``); these Pydantic models validate them at node boundaries. A :class:`Finding` is what one
research branch (one sub-query) produced: the documents it kept (its evidence, each a
:class:`providers.types.SourceDoc` with a stable id), the learnings extracted from them (each citing those
ids) and follow-up questions. A :class:`NumberedSource` is an entry of the report's source list: ``[n]``
in the report is the source whose ``n`` equals it.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, Field

from providers.types import CitedSentence, SourceDoc

SourceMode = Literal["web", "local", "hybrid"]
SOURCE_MODES: tuple[str, ...] = ("web", "local", "hybrid")

# A source kept in state carries at most this much of its text (the full text stays in the branch's finding).
EXCERPT_CHARS = 600


class ResearchFailed(ValueError):
    """The research cannot go on (every branch of a level failed, nothing to research).

    A ``ValueError`` on purpose: the run engine does not retry those, and retrying a research whose every
    source failed deterministically would only fail again.
    """


class Finding(BaseModel):
    """The outcome of one research branch (one sub-query)."""

    index: int
    query: str
    level: int = 1
    docs: list[SourceDoc] = Field(default_factory=list)
    learnings: list[CitedSentence] = Field(default_factory=list)
    follow_ups: list[str] = Field(default_factory=list)
    error: str | None = None
    notes: list[str] = Field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.error is not None


class NumberedSource(BaseModel):
    """An entry of a report's source list; the report cites it as ``[n]``."""

    n: int = Field(ge=1)
    id: str
    title: str = ""
    url: str = ""
    kind: str = ""
    excerpt: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(cls, n: int, doc: SourceDoc) -> NumberedSource:
        meta = {k: v for k, v in doc.metadata.items() if isinstance(v, str | int | float | bool)}
        return cls(
            n=n,
            id=doc.id,
            title=doc.label(),
            url=doc.url,
            kind=str(doc.metadata.get("kind") or ("web" if doc.url.startswith("http") else "local")),
            excerpt=doc.text[:EXCERPT_CHARS],
            metadata=meta,
        )


class Quality(BaseModel):
    """The report's quality check: ``passed`` is False when a citation has no stored source."""

    passed: bool
    cited: list[int] = Field(default_factory=list)
    missing: list[int] = Field(default_factory=list)
    uncited_sources: list[int] = Field(default_factory=list)
    unretrieved_sources: list[str] = Field(default_factory=list)
    problems: list[str] = Field(default_factory=list)


def findings_of(raw: list[dict[str, Any]] | None) -> list[Finding]:
    """State's findings as models, in branch order (index), whatever order the branches finished in."""
    out = [Finding.model_validate(f) for f in raw or []]
    return sorted(out, key=lambda f: (f.level, f.index))
