"""Per-thread caches of visited URLs and sub-query results, as the web-retrieval tests use them.

Moved here from ``retrieval/memory.py``: no graph used them (a research run keeps what it must not repeat in
its state), only tests did. :class:`ThreadMemory` remembers, per thread, which URLs were visited and what
each sub-query returned (bounded LRU); :class:`MemoryCaches` holds one per thread id.
"""

from __future__ import annotations

import re
from collections import OrderedDict
from collections.abc import Hashable, Sequence
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
