"""Shared value types for sources and cited text, used by retrieval, the offline engine and the graphs.

A :class:`SourceDoc` is one piece of evidence (a web page, a knowledge-base chunk) with a stable ``id``.
Everything that cites refers to sources by that id and numbers them only from the list it was given, so a
report can never cite a source nobody retrieved.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from pydantic import BaseModel, Field


class SourceDoc(BaseModel):
    """One retrieved document: ``id`` is stable (a URL or a knowledge-base chunk id) and unique in a list."""

    id: str = Field(min_length=1)
    url: str = ""
    title: str = ""
    text: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    def label(self) -> str:
        """What a source list shows for this document: its title, else its URL, else its id."""
        return self.title.strip() or self.url.strip() or self.id

    def location(self) -> str:
        """Where in its document this source is: ``p. 12``, ``pp. 12–13``, ``§4.1 Schema functions``.

        Read from ``metadata``: ``pages`` (or ``page``) and ``headings`` (the heading path, outermost
        first), as the knowledge base stores them on every chunk; empty when neither is known.
        """
        return location_text(self.metadata)

    def located_label(self) -> str:
        """The label followed by the location, as citations show it: ``libfoo manual, p. 12, §4.1 …``."""
        where = self.location()
        label = self.label()
        return f"{label}, {where}" if where and where not in label else label


def location_text(metadata: Mapping[str, Any]) -> str:
    """``p. 12`` / ``pp. 12–14`` and ``§4.1 Title`` (or ``§ Title``) from a source's metadata."""
    raw_pages = metadata.get("pages") or ([metadata["page"]] if metadata.get("page") else [])
    pages = sorted({int(p) for p in raw_pages if isinstance(p, int | float | str) and str(p).isdigit()})
    parts: list[str] = []
    if len(pages) == 1:
        parts.append(f"p. {pages[0]}")
    elif pages:
        parts.append(f"pp. {pages[0]}–{pages[-1]}")
    headings = metadata.get("headings") or []
    if headings:
        section = " ".join(str(headings[-1]).split())
        parts.append(f"§{section}" if section[:1].isdigit() else f"§ {section}")
    return ", ".join(parts)


def page_at(metadata: Mapping[str, Any], offset: int) -> int | None:
    """The page that character ``offset`` of a source's text is on, from its ``page_marks`` (``[[offset,
    page], …]``, as the knowledge base stores them per chunk); None when the source has no marks."""
    page: int | None = None
    for mark in metadata.get("page_marks") or []:
        try:
            start, number = int(mark[0]), int(mark[1])
        except (TypeError, ValueError, IndexError):
            continue
        if start > offset:
            break
        page = number
    return page


def quoted_pages(doc: SourceDoc, quotes: Iterable[str]) -> list[int]:
    """The pages of ``doc`` the ``quotes`` (sentences taken from its text) are on, in page order.

    A quote is found by its last words (a quoted passage may have its heading or term put before it, and
    whitespace differs), then its first; one not found, or a source without ``page_marks``, adds nothing.
    """
    if not doc.metadata.get("page_marks"):
        return []
    pages: set[int] = set()
    for quote in quotes:
        words = quote.split()
        for part in (words[-10:], words[:10]):
            if not part:
                continue
            found = re.search(r"\s+".join(map(re.escape, part)), doc.text)
            if found:
                page = page_at(doc.metadata, found.start())
                if page is not None:
                    pages.add(page)
                break
    return sorted(pages)


Source = SourceDoc
"""Alias: the same model under the shorter name."""


class CitedSentence(BaseModel):
    """A sentence and the ids of the sources it comes from (at least one)."""

    text: str
    source_ids: list[str] = Field(min_length=1)


class Summary(BaseModel):
    """Cited sentences answering ``question`` and the numbered sources they cite (``[n]`` = ``sources[n-1]``)."""

    question: str
    sentences: list[CitedSentence]
    sources: list[SourceDoc]
    offline: bool = True


def dedupe_sources(sources: Sequence[SourceDoc]) -> list[SourceDoc]:
    """Keep the first document of each id, in order (the order that fixes citation numbers)."""
    seen: set[str] = set()
    out: list[SourceDoc] = []
    for s in sources:
        if s.id not in seen:
            seen.add(s.id)
            out.append(s)
    return out
