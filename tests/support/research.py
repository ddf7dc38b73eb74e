"""Shared pieces of the research tests: a made-up corpus, a knowledge base on it, a web stub, a network guard.

- :data:`CORPUS`: short documents about invented subjects (so no fact could come from anywhere else);
- :func:`fill_kb` / :func:`corpus_kb`: the corpus in a knowledge base (a scratch one of its own);
- :class:`WebStub`: a SearxNG-compatible search endpoint and the pages it points at, served on 127.0.0.1
  from a thread; page fetches can be held at a gate (crash tests kill a server while a branch waits);
- :class:`NetworkGuard`: refuses every socket connection and name lookup that is not to the loopback
  interface or a unix socket, and records what was attempted.
"""

from __future__ import annotations

import json
import re
import socket
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlparse

import pytest

from retrieval.knowledge import KnowledgeBase
from tests.support.knowledge import knowledge_base

CORPUS: dict[str, str] = {
    "velmora-lighthouse.md": """# The Velmora lighthouse

The Velmora lighthouse was built in 1871 on the basalt cliffs north of the harbour of Quellin.
Its lamp burned whale oil until 1903, when the keepers switched the Velmora lamp to paraffin vapour.
The Velmora lighthouse keepers kept a logbook of every ship that passed the cliffs during storms.
A Fresnel lens of the second order gives the Velmora lighthouse a range of nineteen nautical miles.
The tower of the Velmora lighthouse is painted in red and white bands so sailors can see it by day.
""",
    "velmora-keepers.md": """# Keepers of Velmora

Three keepers lived at the Velmora lighthouse in rotating watches of four hours each night.
The most famous Velmora keeper, Ada Brennholt, rescued eleven sailors from the schooner Marlow in 1894.
Keepers at Velmora were paid in salt fish, candles and a small salary from the harbour board of Quellin.
The keepers' cottage beside the Velmora tower now houses a museum about the lighthouse and its lamp.
""",
    "quellin-harbour.md": """# Quellin harbour

The harbour of Quellin shelters a fleet of herring boats behind a granite breakwater built in 1850.
Quellin harbour trade grew after the Velmora lighthouse made the northern approach safe at night.
The harbour board of Quellin collected light dues from every ship to pay for the lighthouse lamp.
Storm surges flooded the Quellin harbour quays in 1911 and destroyed the old herring market.
""",
    "velmora-automation.md": """# Automating the Velmora light

The Velmora lighthouse was automated in 1987 and its last keeper left the cliffs that autumn.
An electric lamp with a battery reserve replaced the paraffin vapour burner of the Velmora lighthouse.
Solar panels on the gallery have charged the Velmora lighthouse batteries since 2009.
Engineers from the harbour board inspect the automated Velmora lamp twice a year.
""",
}

QUESTION = "What is the history of the Velmora lighthouse?"


async def fill_kb(kb: KnowledgeBase, user_id: str, corpus: dict[str, str] | None = None) -> None:
    for name, text in (corpus or CORPUS).items():
        await kb.ingest_file(user_id, name, text.encode(), background=False)


@asynccontextmanager
async def corpus_kb(prefix: str, path: Path, user_id: str = "alice") -> AsyncIterator[KnowledgeBase]:
    """A knowledge base on its own scratch database holding :data:`CORPUS` for ``user_id``."""
    async with knowledge_base(prefix, path) as kb:
        await fill_kb(kb, user_id)
        yield kb


# --- network guard -------------------------------------------------------------------------------------


def _local(host: Any) -> bool:
    return str(host) in ("127.0.0.1", "::1", "localhost", "0.0.0.0")


class NetworkGuard:
    """Refuse non-loopback connections and lookups (install with pytest's monkeypatch)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.refused: list[str] = []
        real_connect = socket.socket.connect
        real_connect_ex = socket.socket.connect_ex
        real_getaddrinfo = socket.getaddrinfo
        guard = self

        def check(sock: socket.socket, address: Any) -> None:
            if sock.family == socket.AF_UNIX:
                return
            host = address[0] if isinstance(address, tuple) else address
            if not _local(host):
                guard.refused.append(f"connect {address}")
                raise ConnectionRefusedError(f"network guard: refused connection to {address}")

        def connect(sock: socket.socket, address: Any) -> None:
            check(sock, address)
            return real_connect(sock, address)

        def connect_ex(sock: socket.socket, address: Any) -> int:
            check(sock, address)
            return real_connect_ex(sock, address)

        def getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
            if host is not None and not _local(host if not isinstance(host, bytes) else host.decode()):
                guard.refused.append(f"getaddrinfo {host}")
                raise socket.gaierror(f"network guard: refused lookup of {host}")
            return real_getaddrinfo(host, *args, **kwargs)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# --- web stub ------------------------------------------------------------------------------------------

_WORD = re.compile(r"[a-z]{4,}")


def _topics(query: str) -> list[str]:
    words = [w for w in _WORD.findall(query.lower()) if w not in {"what", "does", "history", "with", "from"}]
    return list(dict.fromkeys(words))[:3] or ["general"]


def page_html(topic: str) -> str:
    sentences = [
        f"The {topic} archive of the Orvane institute records how the {topic} question was first studied.",
        f"Researchers at Orvane measured the {topic} effect across twelve coastal villages in one winter.",
        f"According to the Orvane survey, the {topic} pattern repeats every seven years without exception.",
        f"Critics of the Orvane method argue that the {topic} data were collected in a single season.",
        f"A later Orvane report linked the {topic} findings to changes in the local fishing calendar.",
    ]
    body = "".join(f"<p>{s}</p>" for s in sentences)
    return (
        f"<html><head><title>Orvane notes on {topic}</title></head><body><article><h1>Orvane notes on "
        f"{topic}</h1>{body}</article></body></html>"
    )


class WebStub:
    """SearxNG ``/search?format=json`` and ``/page/<topic>`` pages on 127.0.0.1, in a thread."""

    def __init__(self) -> None:
        self.searches: list[str] = []
        self.pages: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.hold_from_search: int | None = None  # page requests after this many searches wait for the gate
        self.held = threading.Event()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def _send(self, status: int, body: bytes, ctype: str) -> None:
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", ctype)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body)
                except OSError:
                    pass  # the client died (a killed server)

            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                url = urlparse(self.path)
                if url.path == "/search":
                    query = parse_qs(url.query).get("q", [""])[0]
                    with stub._lock:
                        stub.searches.append(query)
                    results = [
                        {
                            "url": f"{stub.url}/page/{t}",
                            "title": f"Orvane notes on {t}",
                            "content": f"Notes about {t} from the Orvane institute.",
                        }
                        for t in _topics(query)
                    ]
                    self._send(200, json.dumps({"results": results}).encode(), "application/json")
                elif url.path.startswith("/page/"):
                    topic = url.path.rsplit("/", 1)[-1]
                    with stub._lock:
                        stub.pages.append(topic)
                        n = len(stub.searches)
                    if (
                        stub.hold_from_search is not None
                        and n >= stub.hold_from_search
                        and not stub.gate.is_set()
                    ):
                        stub.held.set()
                        stub.gate.wait(60)
                    self._send(200, page_html(topic).encode(), "text/html; charset=utf-8")
                else:
                    self._send(404, b"not found", "text/plain")

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = int(self.server.server_address[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> WebStub:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.gate.set()
        self.server.shutdown()
        self.server.server_close()

    def hold(self, from_search: int) -> None:
        """Hold page fetches once ``from_search`` searches were made, until :meth:`release`."""
        self.held.clear()
        self.gate.clear()
        self.hold_from_search = from_search

    def release(self) -> None:
        self.hold_from_search = None
        self.gate.set()

    def reset(self) -> None:
        with self._lock:
            self.searches.clear()
            self.pages.clear()

    def env(self) -> dict[str, str]:
        """Server environment making this stub the only web retriever (system layer settings)."""
        return {
            "CLEW_SETTING__SEARCH__RETRIEVERS": '["searxng"]',
            "CLEW_SETTING__SEARCH__SEARXNG_URL": self.url,
            "CLEW_SETTING__SEARCH__ALLOWED_HOSTS": '["127.0.0.1"]',
        }

    def values(self) -> dict[str, Any]:
        """The same as resolved run settings, for graphs run in-process."""
        return {
            "search.retrievers": ["searxng"],
            "search.searxng_url": self.url,
            "search.allowed_hosts": ["127.0.0.1"],
        }


def write_corpus(root: Path) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    for name, text in CORPUS.items():
        (root / name).write_text(text)
    return root
