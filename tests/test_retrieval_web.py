"""Web retrieval against local HTTP servers: SearxNG and Tavily stand-ins, fallback between retrievers,
page fetching (HTML, text, PDF, redirects, limits), the per-host concurrency limit and SSRF refusals."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web

from retrieval.web import BlockedUrlError, FetchError, PageFetcher, search_web
from retrieval.web.search import configured_retrievers
from retrieval.web.ssrf import AllowList, refusal_reason
from tests.support.knowledge import make_pdf

ARTICLE = """<!doctype html><html><head><title>Tardigrades</title></head><body>
<nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
<article><h1>Tardigrades</h1>
<p>Tardigrades are micro-animals that survive extreme cold, radiation and the vacuum of space.</p>
<p>They enter a state called cryptobiosis, losing almost all of their body water.</p>
<p>Researchers found them in moss, lichens and deep-sea sediments on every continent.</p>
</article><footer>Copyright 2026</footer></body></html>"""


class FakeWeb:
    """One aiohttp server on 127.0.0.1 playing SearxNG, Tavily and a few web pages."""

    def __init__(self) -> None:
        self.base = ""
        self.searx_queries: list[str] = []
        self.tavily_bodies: list[dict[str, Any]] = []
        self.active = 0
        self.max_active = 0
        self.release = asyncio.Event()
        self.app = web.Application()
        r = self.app.router
        r.add_get("/searx/search", self.searx)
        r.add_get("/broken/search", self.broken)
        r.add_post("/tavily/search", self.tavily)
        r.add_get("/page.html", lambda _: web.Response(text=ARTICLE, content_type="text/html"))
        r.add_get(
            "/notes.txt", lambda _: web.Response(text="Plain notes about otters.", content_type="text/plain")
        )
        r.add_get("/paper.pdf", self.pdf)
        r.add_get("/image.png", lambda _: web.Response(body=b"\x89PNG\r\n", content_type="image/png"))
        r.add_get("/missing", lambda _: web.Response(status=404, text="nope"))
        r.add_get("/big", lambda _: web.Response(text="x" * 50_000, content_type="text/plain"))
        r.add_get("/slow", self.slow)
        r.add_get("/gate/{n}", self.gate)
        r.add_get("/go/{where}", self.redirect)

    async def searx(self, request: web.Request) -> web.Response:
        assert request.query["format"] == "json"
        self.searx_queries.append(request.query["q"])
        results = [
            {
                "url": f"{self.base}/page.html",
                "title": "Tardigrades",
                "content": "Water bears survive space.",
            },
            {"url": "javascript:alert(1)", "title": "bad", "content": ""},
            {"url": f"{self.base}/notes.txt", "title": "Otter notes", "content": "Otters."},
            {"url": f"{self.base}/page.html", "title": "duplicate", "content": ""},
        ]
        return web.json_response({"query": request.query["q"], "results": results})

    async def broken(self, _: web.Request) -> web.Response:
        return web.Response(status=500, text="searx exploded")

    async def tavily(self, request: web.Request) -> web.Response:
        assert request.headers["Authorization"] == "Bearer tvly-test"
        body = await request.json()
        self.tavily_bodies.append(body)
        results = [
            {"title": "Tavily one", "url": "https://example.org/one", "content": "first", "score": 0.9},
            {"title": "Tavily two", "url": "https://example.org/two", "content": "second", "score": 0.5},
        ]
        return web.json_response({"query": body["query"], "results": results[: body["max_results"]]})

    async def pdf(self, _: web.Request) -> web.Response:
        data = make_pdf(["Cephalopods can edit their own RNA."])
        return web.Response(body=data, content_type="application/pdf")

    async def slow(self, _: web.Request) -> web.Response:
        await self.release.wait()  # until the test ends: longer than any fetch timeout
        return web.Response(text="late")

    async def gate(self, _: web.Request) -> web.Response:
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        await asyncio.sleep(0.1)
        self.active -= 1
        return web.Response(text="gate", content_type="text/plain")

    async def redirect(self, request: web.Request) -> web.Response:
        where = request.match_info["where"]
        target = {
            "ok": "/page.html",
            "private": "http://10.20.30.40/secret",
            "metadata": "http://169.254.169.254/latest/meta-data/iam/",
            "loopback6": "http://[::1]/",
            "loop": "/go/loop",
            "file": "file:///etc/passwd",
        }[where]
        raise web.HTTPFound(location=target)


@pytest.fixture
async def fake() -> AsyncIterator[FakeWeb]:
    server = FakeWeb()
    runner = web.AppRunner(server.app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    server.base = f"http://127.0.0.1:{port}"
    try:
        yield server
    finally:
        server.release.set()
        await runner.cleanup()


@pytest.fixture
async def fetcher() -> AsyncIterator[PageFetcher]:
    f = PageFetcher()
    try:
        yield f
    finally:
        await f.aclose()


LOCAL = {"search.allowed_hosts": ["127.0.0.1"]}

# -- retrievers -------------------------------------------------------------------------------------------


async def test_searxng_json_api(fake: FakeWeb) -> None:
    values = {
        "search.retrievers": ["searxng"],
        "search.searxng_url": f"{fake.base}/searx",
        "search.max_results": 5,
    }
    response = await search_web("water bears", values)
    assert fake.searx_queries == ["water bears"]
    assert response.retriever == "searxng" and response.errors == {}
    assert [r.url for r in response.results] == [f"{fake.base}/page.html", f"{fake.base}/notes.txt"]
    first = response.results[0]
    assert (first.rank, first.score, first.title, first.retriever) == (1, 1.0, "Tardigrades", "searxng")
    assert response.results[1].score < first.score
    assert first.to_source().id == first.url


async def test_failing_retriever_falls_back_to_the_next(fake: FakeWeb) -> None:
    values = {
        "search.retrievers": ["searxng", "tavily"],
        "search.searxng_url": f"{fake.base}/broken",
        "search.tavily_api_key": "tvly-test",
        "search.tavily_base_url": f"{fake.base}/tavily",
        "search.max_results": 1,
        "search.retriever_weights": {"tavily": 0.5},
    }
    response = await search_web("deep sea", values)
    assert response.retriever == "tavily"
    assert "HTTP 500" in response.errors["searxng"]
    assert [r.url for r in response.results] == ["https://example.org/one"]
    assert response.results[0].score == 0.5
    assert fake.tavily_bodies[0]["query"] == "deep sea" and fake.tavily_bodies[0]["max_results"] == 1


async def test_unreachable_and_unconfigured_retrievers(fake: FakeWeb) -> None:
    closed = "http://127.0.0.1:9"  # discard port: nothing listens
    values = {
        "search.retrievers": ["tavily", "searxng"],
        "search.searxng_url": closed,
        "search.timeout_seconds": 5.0,
    }
    chosen, skipped = configured_retrievers(values)
    assert [r.name for r in chosen] == ["searxng"]
    assert skipped == {"tavily": "search.tavily_api_key is not set"}
    response = await search_web("anything", values)
    assert response.retriever is None and response.results == []
    assert set(response.errors) == {"tavily", "searxng"}
    assert "unreachable" in response.errors["searxng"]

    # Then a working one after the unreachable one.
    values["search.retrievers"] = ["searxng", "tavily"]
    values["search.tavily_api_key"] = "tvly-test"
    values["search.tavily_base_url"] = f"{fake.base}/tavily"
    response = await search_web("anything", values)
    assert response.retriever == "tavily" and len(response.results) == 2

    # Nothing configured: no web search at all (the offline default).
    assert (await search_web("anything", None)).results == []


# -- fetching -----------------------------------------------------------------------------------------------


async def test_fetch_html_text_pdf_and_redirect(fake: FakeWeb, fetcher: PageFetcher) -> None:
    page = await fetcher.fetch(f"{fake.base}/page.html", LOCAL)
    assert page.title == "Tardigrades"
    assert "cryptobiosis" in page.text and "About us" not in page.text
    assert page.content_type == "text/html" and page.status_code == 200

    notes = await fetcher.fetch(f"{fake.base}/notes.txt", LOCAL)
    assert notes.text == "Plain notes about otters."
    pdf = await fetcher.fetch(f"{fake.base}/paper.pdf", LOCAL)
    assert "Cephalopods" in pdf.text

    moved = await fetcher.fetch(f"{fake.base}/go/ok", LOCAL)
    assert moved.url == f"{fake.base}/go/ok"
    assert moved.final_url == moved.redirects[-1] == f"{fake.base}/page.html"
    assert "cryptobiosis" in moved.text
    assert moved.to_source().url == moved.final_url


async def test_fetch_limits(fake: FakeWeb, fetcher: PageFetcher) -> None:
    with pytest.raises(FetchError, match="exceeds the limit"):
        await fetcher.fetch(f"{fake.base}/big", {**LOCAL, "search.fetch_max_bytes": 10_000})
    with pytest.raises(FetchError, match="more than 3 redirects"):
        await fetcher.fetch(f"{fake.base}/go/loop", {**LOCAL, "search.fetch_max_redirects": 3})
    with pytest.raises(FetchError, match="timed out"):
        await fetcher.fetch(f"{fake.base}/slow", {**LOCAL, "search.timeout_seconds": 0.3})
    with pytest.raises(FetchError, match="HTTP 404"):
        await fetcher.fetch(f"{fake.base}/missing", LOCAL)
    with pytest.raises(FetchError, match="unsupported content type"):
        await fetcher.fetch(f"{fake.base}/image.png", LOCAL)


async def test_per_host_concurrency_limit(fake: FakeWeb, fetcher: PageFetcher) -> None:
    values = {**LOCAL, "search.per_host_concurrency": 2}
    pages = await fetcher.fetch_many([f"{fake.base}/gate/{i}" for i in range(6)], values)
    assert all(not isinstance(p, Exception) for p in pages)
    assert fake.max_active == 2


# -- SSRF -------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "http://127.0.0.1:{port}/page.html",
        "http://localhost:{port}/page.html",
        "http://169.254.169.254/latest/meta-data/",
        "http://[fd00:ec2::254]/latest/meta-data/",
        "http://metadata.google.internal/computeMetadata/v1/",
        "http://10.0.0.1/",
        "http://192.168.1.1/",
        "http://[::1]:{port}/",
        "http://[::ffff:127.0.0.1]:{port}/",
        "http://2130706433:{port}/",
        "http://0.0.0.0:{port}/",
        "http://100.64.0.1/",
        "http://224.0.0.1/",
        "file:///etc/passwd",
        "ftp://127.0.0.1/",
        "gopher://127.0.0.1:6379/_INFO",
    ],
)
async def test_ssrf_refused_without_allow_list(fake: FakeWeb, fetcher: PageFetcher, url: str) -> None:
    port = fake.base.rsplit(":", 1)[1]
    with pytest.raises(BlockedUrlError):
        await fetcher.fetch(url.format(port=port), None)


@pytest.mark.parametrize("where", ["private", "metadata", "loopback6", "file"])
async def test_ssrf_redirect_from_allowed_host_to_private_address_refused(
    fake: FakeWeb, fetcher: PageFetcher, where: str
) -> None:
    with pytest.raises(BlockedUrlError):
        await fetcher.fetch(f"{fake.base}/go/{where}", LOCAL)


async def test_allow_list_forms(fake: FakeWeb, fetcher: PageFetcher) -> None:
    port = fake.base.rsplit(":", 1)[1]
    for entries in (["127.0.0.0/8"], ["localhost"], ["127.0.0.1"]):
        page = await fetcher.fetch(f"http://localhost:{port}/notes.txt", {"search.allowed_hosts": entries})
        assert "otters" in page.text
    # Allowing one private address does not open the others (nor metadata).
    with pytest.raises(BlockedUrlError):
        await fetcher.fetch("http://169.254.169.254/", {"search.allowed_hosts": ["127.0.0.1"]})
    allow = AllowList.parse(["Example.COM.", "10.0.0.0/8", "::1"])
    assert allow.allows_host("example.com")
    assert refusal_reason(__import__("ipaddress").ip_address("8.8.8.8")) is None


async def test_search_fetch_and_assemble(fake: FakeWeb, fetcher: PageFetcher) -> None:
    from retrieval.memory import ContextItem, assemble_context
    from tests.support.thread_memory import ThreadMemory

    values = {**LOCAL, "search.retrievers": ["searxng"], "search.searxng_url": f"{fake.base}/searx"}
    memory = ThreadMemory()
    response = await search_web("tardigrades", values)
    memory.remember("tardigrades", response.results)
    urls = memory.unvisited([r.url for r in response.results])
    for u in urls:
        memory.visit(u)
    pages = await fetcher.fetch_many(urls, values)
    items = [
        ContextItem.of(p, score=r.score)
        for p, r in zip(pages, response.results, strict=True)
        if not isinstance(p, Exception)
    ]
    ctx = assemble_context(items, values=values)
    assert [i.id for i in ctx.items] == [f"{fake.base}/page.html", f"{fake.base}/notes.txt"]
    assert "cryptobiosis" in ctx.render()
    # A second pass over the same sub-query neither searches nor fetches again.
    assert memory.cached("Tardigrades ") == response.results
    assert memory.unvisited([r.url for r in response.results]) == []
