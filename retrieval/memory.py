"""Short-term memory of a research run: the context assembled within a word budget.

:func:`assemble_context` takes scored pieces of text (knowledge-base hits, fetched pages, snippets), drops
duplicates, and keeps the most relevant within ``memory.context_word_budget`` words (default 25,000): pieces
are taken best first; one that does not fit is cut to the room left when enough room is left to be worth it,
else skipped for smaller, less relevant ones. Words are counted like the offline engine counts them (CJK
characters count about 1.5 to a word), so both agree on what fits.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping
from typing import Any

from pydantic import BaseModel, Field

from config_schema.access import setting
from providers.offline.tokens import CJK_RUN, TOKEN_RE, word_count
from providers.types import SourceDoc
from retrieval.types import FetchedPage, SearchHit, WebResult

# A piece cut to less than this many words is not worth keeping.
MIN_PARTIAL_WORDS = 50


class ContextItem(BaseModel):
    """A scored piece of text with where it came from."""

    id: str
    text: str
    score: float = 0.0
    title: str = ""
    url: str = ""
    metadata: dict[str, Any] = Field(default_factory=dict)

    @classmethod
    def of(
        cls, obj: ContextItem | SearchHit | SourceDoc | FetchedPage | WebResult, score: float | None = None
    ) -> ContextItem:
        """Convert what retrieval returns (``score`` overrides the object's own)."""
        if isinstance(obj, ContextItem):
            return obj if score is None else obj.model_copy(update={"score": score})
        if isinstance(obj, SearchHit):
            src = obj.to_source()
            own = obj.score
        elif isinstance(obj, WebResult):
            src = obj.to_source()
            own = obj.score
        elif isinstance(obj, FetchedPage):
            src = obj.to_source()
            own = 0.0
        else:
            src = obj
            own = float(obj.metadata.get("score", 0.0) or 0.0)
        return cls(
            id=src.id,
            text=src.text,
            score=own if score is None else score,
            title=src.title,
            url=src.url,
            metadata=dict(src.metadata),
        )

    def to_source(self) -> SourceDoc:
        return SourceDoc(
            id=self.id,
            url=self.url,
            title=self.title,
            text=self.text,
            metadata={**self.metadata, "score": self.score},
        )


class AssembledContext(BaseModel):
    """The kept pieces (best first), their word count, and what was left out."""

    items: list[ContextItem]
    words: int
    budget: int
    dropped: list[str] = Field(default_factory=list)
    truncated: list[str] = Field(default_factory=list)

    def render(self) -> str:
        """The pieces as numbered blocks ``[n] title (url)`` then the text, for a prompt."""
        blocks = []
        for i, item in enumerate(self.items, start=1):
            label = item.title or item.url or item.id
            where = f" ({item.url})" if item.url and item.url != label else ""
            blocks.append(f"[{i}] {label}{where}\n{item.text}")
        return "\n\n".join(blocks)

    def sources(self) -> list[SourceDoc]:
        return [i.to_source() for i in self.items]


def cut_to_words(text: str, max_words: float) -> str:
    """The longest prefix of ``text`` holding at most ``max_words`` words (counted like :func:`word_count`)."""
    count = 0.0
    end = 0
    for m in TOKEN_RE.finditer(text):
        tok = m.group(0)
        if CJK_RUN.fullmatch(tok):
            room_chars = int((max_words - count) * 1.5)
            if room_chars < len(tok):
                end = m.start() + max(room_chars, 0)
                return text[:end].rstrip()
            count += len(tok) / 1.5
        else:
            if count + 1 > max_words:
                return text[:end].rstrip()
            count += 1
        end = m.end()
    return text


def _text_key(text: str) -> str:
    return hashlib.sha1(" ".join(text.split()).casefold().encode()).hexdigest()


def assemble_context(
    items: Iterable[ContextItem | SearchHit | SourceDoc | FetchedPage | WebResult],
    word_budget: int | None = None,
    values: Mapping[str, Any] | None = None,
) -> AssembledContext:
    """Keep the most relevant text within the budget (``word_budget`` or ``memory.context_word_budget``)."""
    budget = int(word_budget if word_budget is not None else setting(values, "memory.context_word_budget"))
    best: dict[str, tuple[int, ContextItem]] = {}
    for order, raw in enumerate(items):
        item = ContextItem.of(raw)
        if not item.text.strip():
            continue
        prev = best.get(item.id)
        if prev is None or item.score > prev[1].score:
            best[item.id] = (prev[0] if prev else order, item)
    ranked = sorted(best.values(), key=lambda p: (-p[1].score, p[0]))
    kept: list[ContextItem] = []
    dropped: list[str] = []
    truncated: list[str] = []
    seen_text: set[str] = set()
    used = 0.0
    for _, item in ranked:
        key = _text_key(item.text)
        if key in seen_text:
            dropped.append(item.id)
            continue
        words = word_count(item.text)
        room = budget - used
        if words <= room:
            kept.append(item)
            used += words
            seen_text.add(key)
        elif room >= MIN_PARTIAL_WORDS:
            cut = cut_to_words(item.text, room)
            kept.append(item.model_copy(update={"text": cut}))
            used += word_count(cut)
            seen_text.add(key)
            truncated.append(item.id)
        else:
            dropped.append(item.id)
    return AssembledContext(
        items=kept, words=round(used), budget=budget, dropped=dropped, truncated=truncated
    )
