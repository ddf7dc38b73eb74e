"""Short-term memory: context within a word budget keeping the most relevant text, and per-thread caches."""

from __future__ import annotations

from providers.offline.tokens import word_count
from providers.types import SourceDoc
from retrieval.memory import ContextItem, assemble_context, cut_to_words
from retrieval.types import FetchedPage, SearchHit
from tests.support.thread_memory import MemoryCaches, ThreadMemory, normalize_url, thread_memory


def _item(i: str, words: int, score: float) -> ContextItem:
    return ContextItem(id=i, text=" ".join(f"{i}w{n}" for n in range(words)), score=score, title=f"T{i}")


def test_budget_keeps_the_most_relevant_text() -> None:
    items = [_item("low", 60, 0.1), _item("top", 50, 0.9), _item("mid", 80, 0.5), _item("tiny", 10, 0.05)]
    ctx = assemble_context(items, word_budget=150)
    # top (50) + mid (80) = 130; low (60) does not fit and 20 words of room is too little to cut to;
    # tiny (10) still fits.
    assert [i.id for i in ctx.items] == ["top", "mid", "tiny"]
    assert ctx.words == 140 and ctx.budget == 150
    assert ctx.dropped == ["low"] and ctx.truncated == []

    # 55 words of room: low is cut to them, and nothing is left for tiny.
    ctx = assemble_context(items, word_budget=185)
    assert [i.id for i in ctx.items] == ["top", "mid", "low"]
    assert ctx.truncated == ["low"]
    assert word_count(ctx.items[2].text) == 55
    assert ctx.items[2].text.startswith("loww0 loww1") and ctx.words == 185
    assert ctx.dropped == ["tiny"]


def test_default_budget_from_settings() -> None:
    big = [_item(str(n), 1000, 1.0 / (n + 1)) for n in range(30)]
    ctx = assemble_context(big)
    assert ctx.budget == 25_000
    assert ctx.words == 25_000
    assert [i.id for i in ctx.items] == [str(n) for n in range(25)]
    ctx = assemble_context(big, values={"memory.context_word_budget": 3000})
    assert ctx.words == 3000 and len(ctx.items) == 3


def test_duplicates_are_dropped() -> None:
    a = ContextItem(id="u1", text="Alpha beta gamma.", score=0.2)
    a_better = ContextItem(id="u1", text="Alpha beta gamma.", score=0.8)
    same_text = ContextItem(id="u2", text="alpha   BETA gamma.", score=0.5)
    ctx = assemble_context([a, same_text, a_better], word_budget=100)
    assert [(i.id, i.score) for i in ctx.items] == [("u1", 0.8)]
    assert ctx.dropped == ["u2"]


def test_cjk_text_is_counted_and_cut() -> None:
    text = "量子计算" * 30  # 120 characters = 80 words
    assert word_count(text) == 80
    cut = cut_to_words(text, 60)
    assert len(cut) == 90 and word_count(cut) == 60
    assert cut_to_words("one two three", 2) == "one two"
    assert cut_to_words("one two", 5) == "one two"


def test_conversions_and_render() -> None:
    hit = SearchHit(
        document_id="d", chunk_id="c1", text="Knowledge text.", score=0.7, title="Doc", source="a.pdf"
    )
    page = FetchedPage(
        url="https://e.org/x",
        final_url="https://e.org/y",
        status_code=200,
        content_type="text/html",
        title="Page",
        text="Web text.",
    )
    src = SourceDoc(id="s", text="Source text.", metadata={"score": 0.9})
    ctx = assemble_context([hit, ContextItem.of(page, score=0.8), src], word_budget=1000)
    assert [i.id for i in ctx.items] == ["s", "https://e.org/x", "c1"]
    rendered = ctx.render()
    assert rendered.splitlines()[0] == "[1] s"
    assert "[2] Page (https://e.org/y)\nWeb text." in rendered
    assert "[3] Doc\nKnowledge text." in rendered
    assert ctx.sources()[2].metadata["document_id"] == "d"


def test_thread_memory_visited_urls_and_subqueries() -> None:
    m = ThreadMemory()
    assert m.visit("https://Example.org/a/?utm_source=x&b=1#frag")
    assert not m.visit("https://example.org:443/a?b=1")
    assert m.visited("HTTPS://EXAMPLE.ORG/a?b=1")
    assert not m.visited("https://example.org/a?b=2")
    assert m.unvisited(
        ["https://example.org/a?b=1", "https://x.org/", "https://x.org/#top", "https://y.org"]
    ) == [
        "https://x.org/",
        "https://y.org",
    ]
    assert normalize_url("http://h.org:80/") == "http://h.org/"

    assert m.cached("What is BM25?") is None
    m.remember("What is BM25?", ["r1"])
    assert m.cached("what is   bm25") == ["r1"]

    small = ThreadMemory(max_entries=2)
    for u in ("https://a.org", "https://b.org", "https://c.org"):
        small.visit(u)
    assert not small.visited("https://a.org") and small.visited("https://c.org")


def test_caches_are_per_thread_and_bounded() -> None:
    caches = MemoryCaches(max_threads=2)
    caches.for_thread("t1").visit("https://a.org")
    assert not caches.for_thread("t2").visited("https://a.org")
    caches.for_thread("t1")  # t1 used most recently
    caches.for_thread("t3")  # evicts t2
    assert "t1" in caches and "t3" in caches and "t2" not in caches
    assert caches.for_thread("t1").visited("https://a.org")
    caches.drop("t1")
    assert "t1" not in caches

    assert thread_memory("shared-thread") is thread_memory("shared-thread")
