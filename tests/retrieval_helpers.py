"""Helpers of the retrieval and knowledge tests: knowledge bases on embedded Qdrant and generated files."""

from __future__ import annotations

from pathlib import Path

from qdrant_client import AsyncQdrantClient

from persistence.db import Database
from retrieval.knowledge import KnowledgeBase


async def make_kb(db: Database, path: Path, **kwargs: object) -> KnowledgeBase:
    """A started knowledge base on an embedded Qdrant in ``path``."""
    kb = KnowledgeBase(db, AsyncQdrantClient(path=str(path / "qdrant")), spool_dir=path / "uploads", **kwargs)  # type: ignore[arg-type]
    await kb.start()
    return kb


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
