"""Short-term memory of a research run: context assembled within a word budget, and per-thread caches.

:func:`assemble_context` takes scored pieces of text (knowledge-base hits, fetched pages, snippets), drops
duplicates, and keeps the most relevant within ``memory.context_word_budget`` words (default 25,000): pieces
are taken best first; one that does not fit is cut to the room left when enough room is left to be worth it,
else skipped for smaller, less relevant ones. Words are counted like the offline engine counts them (CJK
characters count about 1.5 to a word), so both agree on what fits.

:class:`ThreadMemory` remembers, per thread, which URLs were already visited and what each sub-query
returned, so a research run does not fetch a page or repeat a search twice. It is an in-process cache
(bounded LRU over threads); it is an optimisation only, graphs keep what they must not lose in their state.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Hashable, Iterable, Mapping, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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


# -- per-thread caches ------------------------------------------------------------------------------------

_TRACKING_PARAMS = re.compile(r"^(utm_\w+|fbclid|gclid|mc_cid|mc_eid|ref_src)$", re.IGNORECASE)


def normalize_url(url: str) -> str:
    """A URL's identity for "already visited": scheme and host lower-cased, default port, fragment and
    tracking parameters dropped, trailing slash of a non-root path removed."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return url.strip()
    scheme = parts.scheme.lower()
    host = (parts.hostname or "").lower().rstrip(".")
    if ":" in host:
        host = f"[{host}]"
    if port and not ((scheme == "http" and port == 80) or (scheme == "https" and port == 443)):
        host = f"{host}:{port}"
    path = parts.path or "/"
    if len(path) > 1 and path.endswith("/"):
        path = path.rstrip("/")
    query = urlencode(
        [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _TRACKING_PARAMS.match(k)]
    )
    return urlunsplit((scheme, host, path, query, ""))


def normalize_query(query: str) -> str:
    return " ".join(query.casefold().split()).rstrip("?.!。？！ ")


class ThreadMemory:
    """Visited URLs and sub-query results of one thread (bounded, oldest entries evicted first)."""

    def __init__(self, max_entries: int = 2048) -> None:
        self.max_entries = max_entries
        self._visited: OrderedDict[str, None] = OrderedDict()
        self._results: OrderedDict[str, Any] = OrderedDict()

    # visited URLs
    def visit(self, url: str) -> bool:
        """Mark ``url`` visited; True if it was new (so the caller should fetch it)."""
        key = normalize_url(url)
        if key in self._visited:
            self._visited.move_to_end(key)
            return False
        self._visited[key] = None
        while len(self._visited) > self.max_entries:
            self._visited.popitem(last=False)
        return True

    def visited(self, url: str) -> bool:
        return normalize_url(url) in self._visited

    def unvisited(self, urls: Sequence[str]) -> list[str]:
        """The URLs not visited yet, first occurrence of each, in order (does not mark them)."""
        out: list[str] = []
        seen: set[str] = set()
        for u in urls:
            key = normalize_url(u)
            if key not in self._visited and key not in seen:
                seen.add(key)
                out.append(u)
        return out

    @property
    def visited_urls(self) -> list[str]:
        return list(self._visited)

    # sub-query results
    def cached(self, query: str) -> Any | None:
        """What ``query`` returned before in this thread, or None."""
        key = normalize_query(query)
        if key not in self._results:
            return None
        self._results.move_to_end(key)
        return self._results[key]

    def remember(self, query: str, results: Any) -> None:
        self._results[normalize_query(query)] = results
        self._results.move_to_end(normalize_query(query))
        while len(self._results) > self.max_entries:
            self._results.popitem(last=False)

    def __len__(self) -> int:
        return len(self._visited) + len(self._results)


class MemoryCaches:
    """:class:`ThreadMemory` per thread id, least recently used threads evicted beyond ``max_threads``."""

    def __init__(self, max_threads: int = 1024, max_entries: int = 2048) -> None:
        self.max_threads = max_threads
        self.max_entries = max_entries
        self._threads: OrderedDict[Hashable, ThreadMemory] = OrderedDict()

    def for_thread(self, thread_id: Hashable) -> ThreadMemory:
        key = str(thread_id)
        memory = self._threads.get(key)
        if memory is None:
            memory = self._threads[key] = ThreadMemory(self.max_entries)
            while len(self._threads) > self.max_threads:
                self._threads.popitem(last=False)
        else:
            self._threads.move_to_end(key)
        return memory

    def drop(self, thread_id: Hashable) -> None:
        self._threads.pop(str(thread_id), None)

    def __contains__(self, thread_id: object) -> bool:
        return str(thread_id) in self._threads

    def __len__(self) -> int:
        return len(self._threads)


MEMORY = MemoryCaches()
"""The process-wide caches."""


def thread_memory(thread_id: Hashable) -> ThreadMemory:
    """The caches of ``thread_id`` in this process."""
    return MEMORY.for_thread(thread_id)
