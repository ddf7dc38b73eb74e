"""Splitting a document into chunks that know where they are: heading path and page number(s).

A document with structure (:class:`retrieval.structure.Block` list, which every extractor gives) is cut at
block boundaries: blocks of one section (same heading path) are packed into chunks of up to ``chunk_size``
characters, a chunk never spans two sections, and a table, list item or definition is only split when it
alone is longer than a chunk (then LangChain's ``RecursiveCharacterTextSplitter`` cuts it on paragraphs,
lines, then words, and every piece of a definition repeats its term). Each chunk records its heading path,
the pages it covers (and where in its text each page begins, so a quoted sentence can be cited with its own
page), the section's ordinal in the document and whether it is legal front matter.

Text without blocks falls back to the 1000/200 recursive split with the page of the chunk's start.
"""

from __future__ import annotations

import re
from bisect import bisect_right
from dataclasses import dataclass, field

from langchain_text_splitters import RecursiveCharacterTextSplitter

from retrieval.extract import ExtractedText
from retrieval.structure import Block

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


@dataclass(slots=True)
class TextChunk:
    """One chunk: ``page`` is the first page, ``pages`` all pages it covers (empty when not paged)."""

    index: int
    text: str
    start: int
    page: int | None
    headings: list[str] = field(default_factory=list)
    pages: list[int] = field(default_factory=list)
    section_index: int | None = None
    front_matter: bool = False
    # (character offset in ``text``, page) where each page of the chunk begins, first page at offset 0
    page_marks: list[tuple[int, int]] = field(default_factory=list)


def _piece_marks(block: Block, piece: str, after: int) -> tuple[list[tuple[int, int]], int]:
    """Where each page begins in ``piece`` (a block or a piece cut from it, found at or after offset
    ``after`` of the block), as (offset, page); and the offset in the block where the piece starts."""
    if block.page is None:
        return [], after
    if piece == block.text:
        at = 0
    else:  # pieces are re-joined with other whitespace, and a definition's piece repeats its term first
        marker = piece.find("\n:   ")
        rest = piece[marker + 5 :] if marker >= 0 and block.kind == "definition" else piece
        words = rest.split()[:12]
        found = re.compile(r"\s+".join(map(re.escape, words))).search(block.text, after) if words else None
        at = max(0, found.start() - (len(piece) - len(rest))) if found else after
    first = block.page
    inside: list[tuple[int, int]] = []
    for offset, page in block.page_breaks:
        if offset <= at:
            first = page
        elif offset < at + len(piece):
            inside.append((offset - at, page))
    return [(0, first), *inside], at


# Where a long block may be cut: after a sentence (or a line ending one), never inside it.
_SENTENCE_GAP = re.compile(r"(?<=[.!?:;])\n|(?<=[.!?])[ \t]+(?=[A-Z0-9(\"'\[])")


def _pieces(block: Block, chunk_size: int, chunk_overlap: int) -> list[str]:
    """A block cut to fit chunks: whole rows for a table, whole sentences otherwise; a definition's pieces
    each start with its term."""
    if len(block.text) <= chunk_size:
        return [block.text]
    marker = block.text.find("\n:   ")
    prefix = block.text[: marker + 5] if block.kind == "definition" and 0 < marker < 300 else ""
    body = block.text[len(prefix) :] if prefix else block.text
    limit = max(200, chunk_size - len(prefix))
    units = body.split("\n") if block.kind == "table" else [u for u in _SENTENCE_GAP.split(body) if u.strip()]
    joiner = "\n"  # a list item or table row keeps its own line
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=limit, chunk_overlap=chunk_overlap, strip_whitespace=True
    )
    pieces: list[str] = []
    current = ""
    for unit in units:
        for part in [unit] if len(unit) <= limit else splitter.split_text(unit):
            if current and len(current) + 1 + len(part) > limit:
                pieces.append(current)
                current = ""
            current = f"{current}{joiner}{part}" if current else part
    if current:
        pieces.append(current)
    return [prefix + p for p in pieces if p.strip()]


def _split_blocks(extracted: ExtractedText, chunk_size: int, chunk_overlap: int) -> list[TextChunk]:
    blocks = extracted.blocks or []
    starts = extracted.block_starts or [0] * len(blocks)
    out: list[TextChunk] = []
    section = -1
    previous_key: tuple[tuple[str, ...], bool] | None = None
    parts: list[str] = []
    pages: list[int] = []
    marks: list[tuple[int, int]] = []
    first_start = 0
    current_key: tuple[tuple[str, ...], bool] = ((), False)

    def emit() -> None:
        nonlocal parts, pages, marks
        text = "\n\n".join(parts).strip()
        if text:
            ordered = sorted(set(pages))
            out.append(
                TextChunk(
                    index=len(out),
                    text=text,
                    start=first_start,
                    page=ordered[0] if ordered else None,
                    headings=list(current_key[0]),
                    pages=ordered,
                    section_index=section,
                    front_matter=current_key[1],
                    page_marks=[m for k, m in enumerate(marks) if k == 0 or m[1] != marks[k - 1][1]],
                )
            )
        parts, pages, marks = [], [], []

    for block, start in zip(blocks, starts, strict=True):
        key = (block.headings, block.front_matter)
        if key != previous_key:
            emit()
            if previous_key is None or block.headings != previous_key[0]:
                section += 1
            previous_key = key
            current_key = key
            first_start = start
        cursor = 0
        for piece in _pieces(block, chunk_size, chunk_overlap):
            size = sum(len(p) + 2 for p in parts)
            if parts and size + len(piece) > chunk_size:
                emit()
                first_start = start
            offset = sum(len(p) + 2 for p in parts)
            piece_marks, at = _piece_marks(block, piece, cursor)
            cursor = at + max(1, len(piece) * 9 // 10)  # past this piece (repeated text is not found again)
            marks.extend((offset + o, page) for o, page in piece_marks)
            parts.append(piece)
            pages.extend(page for _, page in piece_marks)  # the pages this piece is on, not its block's
    emit()
    return out


def split_text(
    extracted: ExtractedText, *, chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP
) -> list[TextChunk]:
    """Chunks of ``extracted`` in order (blocking: run in a thread for large texts)."""
    if extracted.blocks:
        return _split_blocks(extracted, chunk_size, chunk_overlap)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size, chunk_overlap=chunk_overlap, add_start_index=True, strip_whitespace=True
    )
    docs = splitter.create_documents([extracted.text])
    out: list[TextChunk] = []
    for doc in docs:
        text = doc.page_content.strip()
        if not text:
            continue
        start = int(doc.metadata.get("start_index", 0))
        page = None
        if extracted.page_starts:
            page = max(bisect_right(extracted.page_starts, max(start, 0)), 1)
        out.append(TextChunk(index=len(out), text=text, start=start, page=page, pages=[page] if page else []))
    return out
