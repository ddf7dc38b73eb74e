"""Knowledge-base benchmark: ingestion throughput (pages per second) and search latency p50 / p99.

Runs the production code path (``open_knowledge_base``: embedded Qdrant on disk unless ``QDRANT_URL`` is set,
sparse BM25 vectors only, metadata in Postgres) on generated text:

1. ingestion of one generated PDF of ``--pages`` pages (pypdfium2 extraction and clean-up, chunking, vectors, storage), and of
   the same amount of plain text, reported as pages per second (a page is about 3,000 characters);
2. filling the store to at least ``--chunks`` chunks with generated text documents;
3. ``--queries`` searches of 2-4 words drawn from the corpus vocabulary, reported as p50 / p99 / mean latency.

Postgres: ``DATABASE_URL`` if set, else a scratch database created on ``--admin-url`` and dropped after.

    uv run python benchmarks/bench_knowledge.py [--pages 300] [--chunks 10000] [--queries 300]
"""

from __future__ import annotations

import argparse
import asyncio
import itertools
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config_schema.settings import RuntimeSettings  # noqa: E402
from persistence.db import Database  # noqa: E402
from retrieval.knowledge import open_knowledge_base  # noqa: E402

PAGE_CHARS = 3000
SYLLABLES = "ka lo mi ne ru sa ti vo pe da gu li mo ra si te zu bo fe ha".split()


def vocabulary(n: int, rng: random.Random) -> list[str]:
    words: set[str] = set()
    while len(words) < n:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words)


class Corpus:
    """Zipf-distributed words over a synthetic vocabulary, so BM25 sees realistic term statistics."""

    def __init__(self, seed: int = 7, size: int = 20_000) -> None:
        self.rng = random.Random(seed)
        self.words = vocabulary(size, self.rng)
        self.cum_weights = list(itertools.accumulate(1.0 / (rank + 1) ** 1.05 for rank in range(size)))

    def text(self, chars: int) -> str:
        out: list[str] = []
        n = 0
        while n < chars:
            sentence = self.rng.choices(self.words, cum_weights=self.cum_weights, k=self.rng.randint(8, 18))
            s = " ".join(sentence).capitalize() + ". "
            out.append(s)
            n += len(s)
            if self.rng.random() < 0.15:
                out.append("\n\n")
        return "".join(out)

    def query(self) -> str:
        # Mid-frequency words: the kind of terms a real query is made of.
        return " ".join(self.rng.choice(self.words[200:5000]) for _ in range(self.rng.randint(2, 4)))


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_font("Helvetica", size=9)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 4, text)
    return bytes(pdf.output())


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


async def run(args: argparse.Namespace) -> list[tuple[str, str]]:
    corpus = Corpus()
    rows: list[tuple[str, str]] = []
    scratch: str | None = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        scratch = f"clew_bench_kb_{uuid.uuid4().hex[:8]}"
        async with await psycopg.AsyncConnection.connect(args.admin_url, autocommit=True) as admin:
            await admin.execute(f'CREATE DATABASE "{scratch}"')
        url = f"{args.admin_url.rpartition('/')[0]}/{scratch}"
    tmp = Path(tempfile.mkdtemp(prefix="clew-bench-"))
    settings = RuntimeSettings(data_dir=tmp, database_url=url, knowledge_max_upload_bytes=500 * 1024 * 1024)
    db = await Database.open(settings)
    kb = await open_knowledge_base(settings, db)
    user = "bench"
    try:
        mode = f"Qdrant server {settings.qdrant_url}" if settings.qdrant_url else "embedded Qdrant (on disk)"
        rows.append(("vector store", f"{mode}, sparse BM25 only"))

        page_texts = [corpus.text(PAGE_CHARS) for _ in range(args.pages)]
        pdf = await asyncio.to_thread(make_pdf, page_texts)
        t0 = time.perf_counter()
        doc = await kb.ingest_file(user, "bench.pdf", pdf, background=False)
        pdf_s = time.perf_counter() - t0
        rows.append(
            (
                f"PDF ingestion ({args.pages} pages, {len(pdf) / 1e6:.1f} MB, {doc.chunk_count} chunks)",
                f"{args.pages / pdf_s:.1f} pages/s ({pdf_s:.2f} s)",
            )
        )

        text = "\n\n".join(page_texts).encode()
        t0 = time.perf_counter()
        doc = await kb.ingest_file(user, "bench.txt", text, background=False)
        txt_s = time.perf_counter() - t0
        rows.append(
            (
                f"text ingestion ({args.pages} pages, {doc.chunk_count} chunks)",
                f"{args.pages / txt_s:.1f} pages/s ({txt_s:.2f} s)",
            )
        )

        total = await kb.store.count(user)
        # Generated before timing; ~1 chunk per 800 new characters (1000 with 200 overlap).
        fill_docs: list[bytes] = []
        per_doc = 100 * PAGE_CHARS // 3
        while total + sum(len(d) for d in fill_docs) // 800 < args.chunks:
            fill_docs.append(corpus.text(per_doc).encode())
        fill_chars = sum(len(d) for d in fill_docs)
        t0 = time.perf_counter()
        for n, data in enumerate(fill_docs):
            await kb.ingest_file(user, f"fill-{n}.txt", data, background=False)
        n = len(fill_docs)
        fill_s = time.perf_counter() - t0
        if n:
            rows.append(
                (
                    f"bulk text ingestion ({n} documents, {fill_chars / PAGE_CHARS:.0f} pages)",
                    f"{fill_chars / PAGE_CHARS / fill_s:.1f} pages/s, {fill_chars / 1e6 / fill_s:.2f} MB/s",
                )
            )
        total = await kb.store.count(user)
        rows.append(("chunks in the store", f"{total}"))

        for _ in range(5):  # warm-up
            await kb.search(user, corpus.query(), k=8)
        latencies: list[float] = []
        empty = 0
        for _ in range(args.queries):
            q = corpus.query()
            t0 = time.perf_counter()
            hits = await kb.search(user, q, k=8)
            latencies.append((time.perf_counter() - t0) * 1000)
            empty += not hits
        rows.append(
            (
                f"search latency over {total} chunks ({args.queries} queries, k=8)",
                f"p50 {pct(latencies, 50):.1f} ms, p99 {pct(latencies, 99):.1f} ms, "
                f"mean {statistics.fmean(latencies):.1f} ms",
            )
        )
        rows.append(("queries with no hit", f"{empty}"))
    finally:
        await kb.close()
        await db.close()
        if scratch:
            async with await psycopg.AsyncConnection.connect(args.admin_url, autocommit=True) as admin:
                await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    return rows


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--pages", type=int, default=300)
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows = asyncio.run(run(args))
    print("| measure | result |")
    print("|---|---|")
    for k, v in rows:
        print(f"| {k} | {v} |")
    print(f"\n_{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}_")


if __name__ == "__main__":
    main()
