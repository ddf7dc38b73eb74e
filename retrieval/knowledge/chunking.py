"""Splitting extracted text into overlapping chunks (1000 characters, 200 overlap by default).

LangChain's ``RecursiveCharacterTextSplitter`` breaks on paragraphs, then lines, then words, so a chunk
rarely cuts a sentence. Each chunk keeps its start offset and, for PDFs, the page it starts on, so a
citation can point at the page.
"""

from __future__ import annotations

from bisect import bisect_right
from dataclasses import dataclass

from langchain_text_splitters import RecursiveCharacterTextSplitter

from retrieval.extract import ExtractedText

CHUNK_SIZE = 1000
CHUNK_OVERLAP = 200


@dataclass(slots=True)
class TextChunk:
    index: int
    text: str
    start: int
    page: int | None


def split_text(
    extracted: ExtractedText, *, chunk_size: int = CHUNK_SIZE, chunk_overlap: int = CHUNK_OVERLAP
) -> list[TextChunk]:
    """Chunks of ``extracted.text`` in order (blocking: run in a thread for large texts)."""
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
        out.append(TextChunk(index=len(out), text=text, start=start, page=page))
    return out
