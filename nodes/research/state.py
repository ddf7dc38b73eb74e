"""The research state and the value types the research nodes keep in it.

:class:`ResearchState` is a research thread's state (standard and deep research, and the research stage of
the content pipeline); :class:`ResearchInput` what a research run takes. Graph state is checkpointed to
Postgres and served over the API as JSON, so state holds plain dicts (``model_dump()``); the Pydantic models
below validate them at node boundaries. A :class:`Finding` is what one research branch (one sub-query)
produced: the documents it kept (its evidence, each a :class:`providers.types.SourceDoc` with a stable id),
the learnings extracted from them (each citing those ids) and follow-up questions. A :class:`NumberedSource`
is an entry of the report's source list: ``[n]`` in the report is the source whose ``n`` equals it.

Everything a resumed research needs is in the state (queries, findings, the level schedule); settings are
read from the run context (``config_schema.access.setting``), which the engine snapshots on the run, so a
research resumed after a crash sees the configuration it started with.
"""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal

from langchain_core.messages import AnyMessage
from langgraph.graph.message import add_messages
from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from providers.types import CitedSentence, SourceDoc

SourceMode = Literal["web", "local", "hybrid"]
SOURCE_MODES: tuple[str, ...] = ("web", "local", "hybrid")

# A source kept in state carries at most this much of its text (the full text stays in the branch's finding).
EXCERPT_CHARS = 600


class ReportState(TypedDict, total=False):
    """The keys every research mode's state has, which the research API's progress and result routes read
    (``findings`` too, whose reducer each mode chooses)."""

    messages: Annotated[list[AnyMessage], add_messages]
    question: str
    mode: str
    source_mode: str
    stage: str
    status: str
    queries: list[dict[str, Any]]
    level: int
    depth: int
    total_queries: int
    concurrency: int
    budget_words: int
    plan_decision: str
    report: str
    sources: list[dict[str, Any]]
    quality: dict[str, Any]
    cost: dict[str, Any]
    offline: bool
    notes: list[str]
    error: str | None
    started_at: float
    finished_at: float
    duration: float


class ResearchState(ReportState, total=False):
    """State of a standard or deep research thread (all plain JSON, served as the thread's values)."""

    findings: Annotated[list[dict[str, Any]], operator.add]
    levels: list[int]
    follow_ups: int


class ResearchInput(TypedDict, total=False):
    """What a research run takes: a question (or a chat message) and optionally its source mode."""

    question: str
    messages: Annotated[list[AnyMessage], add_messages]
    source_mode: str


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


def checked_source_mode(mode: str) -> str:
    """``mode`` when it is a source mode (web, local or hybrid); otherwise the research fails saying so."""
    if mode not in SOURCE_MODES:
        raise ResearchFailed(f"unknown source mode {mode!r}: expected one of {', '.join(SOURCE_MODES)}")
    return mode
