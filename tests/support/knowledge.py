"""Knowledge bases for tests: on embedded Qdrant over a scratch database, and generated files to upload.

- fixtures ``knowledge_db`` (one scratch database per session) and ``kb`` (a fresh knowledge base per test),
  loaded by ``pytest_plugins = ["tests.support.knowledge"]`` from ``test_knowledge_*.py``;
- :func:`knowledge_base`: a scratch database with a knowledge base on it, for a module's own fixture;
- :func:`make_kb`, :func:`filler`, :func:`make_pdf`, :func:`make_docx`.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
from qdrant_client import AsyncQdrantClient

from persistence.db import Database
from retrieval.knowledge import KnowledgeBase
from tests.support.pg import scratch_database


@pytest.fixture(scope="session")
async def knowledge_db() -> AsyncIterator[Database]:
    """A scratch database (migrations applied) shared by the session's knowledge tests."""
    async with scratch_database("clew_test_kb") as db:
        yield db


@pytest.fixture
async def kb(knowledge_db: Database, tmp_path: Path) -> AsyncIterator[KnowledgeBase]:
    """A sparse-only knowledge base on a fresh embedded Qdrant."""
    base = await make_kb(knowledge_db, tmp_path)
    try:
        yield base
    finally:
        await base.close()


async def make_kb(db: Database, path: Path, **kwargs: object) -> KnowledgeBase:
    """A started knowledge base on an embedded Qdrant in ``path``."""
    kb = KnowledgeBase(db, AsyncQdrantClient(path=str(path / "qdrant")), spool_dir=path / "uploads", **kwargs)  # type: ignore[arg-type]
    await kb.start()
    return kb


@asynccontextmanager
async def knowledge_base(prefix: str, path: Path) -> AsyncIterator[KnowledgeBase]:
    """A started knowledge base on its own scratch database (Qdrant in ``path``); closed and dropped after."""
    async with scratch_database(prefix) as db:
        kb = await make_kb(db, path)
        try:
            yield kb
        finally:
            await kb.close()


async def wait_background(kb: KnowledgeBase) -> None:
    """Wait until every background ingestion ``kb`` started in this process has finished."""
    while kb._tasks:
        await asyncio.gather(*list(kb._tasks.values()), return_exceptions=True)


# -- test files -----------------------------------------------------------------------------------------

_FILLER_WORDS = (
    "river market ledger harbor window lantern orchard meadow copper timber canvas signal "
    "pattern archive bridge garden station journal kettle mirror parcel quarry saddle thimble"
).split()


def filler(n_sentences: int, seed: int = 0) -> str:
    """Deterministic filler prose that shares no rare words with the test facts."""
    import random

    rng = random.Random(seed)
    sentences = []
    for _ in range(n_sentences):
        words = [rng.choice(_FILLER_WORDS) for _ in range(rng.randint(8, 14))]
        sentences.append(" ".join(words).capitalize() + ".")
    return " ".join(sentences)


def make_pdf(pages: list[str]) -> bytes:
    from fpdf import FPDF

    pdf = FPDF()
    pdf.set_title("Test PDF")
    pdf.set_font("Helvetica", size=11)
    for text in pages:
        pdf.add_page()
        pdf.multi_cell(0, 6, text)
    return bytes(pdf.output())


def make_docx(title: str, paragraphs: list[str], table: list[list[str]] | None = None) -> bytes:
    import io

    import docx

    document = docx.Document()
    document.add_heading(title, level=1)
    for p in paragraphs:
        document.add_paragraph(p)
    if table:
        t = document.add_table(rows=len(table), cols=len(table[0]))
        for r, row in enumerate(table):
            for c, cell in enumerate(row):
                t.cell(r, c).text = cell
    buf = io.BytesIO()
    document.save(buf)
    return buf.getvalue()
