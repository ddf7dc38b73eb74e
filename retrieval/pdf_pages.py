"""Reading a PDF's pages with PDFium (pypdfium2): each page's text lines, their heights, outline and title.

PDFium gives a page's text with generated line breaks; what this module adds is the geometry needed later
(the baseline of each line, for paragraph breaks) and the tables: pages that draw paths are handed to
pdfplumber (``retrieval.pdf_tables``), and each table's text lines are replaced by one marker line
(:data:`TABLE_MARK` and a character numbering the table) that ``retrieval.pdf_text`` turns into a table block.
Line-break hyphenation (PDFium's U+FFFE, or U+00AD) is joined when a page is split into lines.

Blocking and CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import statistics
from typing import Any

from retrieval.pdf_tables import PdfTable, candidate_pages, find_tables

# A table's place in a page's text: this private-use character and one more that numbers the table.
TABLE_MARK = "\ue000"


def _baselines(textpage: Any, text: str) -> list[float | None]:
    """The height on the page of each ``\r\n``-separated line of ``text`` (PDFium's text of ``textpage``).

    PDFium's text has one character per character index (its generated line breaks included), so a line's
    first characters are found by offset; the highest bottom among the first few is the line's baseline
    (a descender or a bullet sits lower).
    """
    out: list[float | None] = []
    index = 0
    aligned = len(text) == textpage.count_chars()
    for line in text.split("\r\n"):
        y: float | None = None
        if aligned and line.strip():
            bottoms = []
            for k in range(index, min(index + len(line), index + 12)):
                if not text[k].isspace():
                    bottoms.append(textpage.get_charbox(k)[1])
            y = max(bottoms) if bottoms else None
        out.append(y)
        index += len(line) + 2
    return out


def _place_tables(
    pages: list[str], baselines: list[list[float | None]], found: dict[int, list[PdfTable]]
) -> list[PdfTable]:
    """Replace the text lines inside each found table by one marker line (in place); the tables in marker
    order. A table whose lines have no known baseline stays as text."""
    tables: list[PdfTable] = []
    for index, page_tables in sorted(found.items()):
        lines = pages[index].split("\r\n")
        ys = baselines[index]
        if len(ys) != len(lines):
            continue
        kept_lines: list[str] = []
        kept_ys: list[float | None] = []
        placed: set[int] = set()
        for line, y in zip(lines, ys, strict=True):
            k = next((k for k, t in enumerate(page_tables) if t.contains(y)), None)
            if k is None:
                kept_lines.append(line)
                kept_ys.append(y)
            elif k not in placed:
                placed.add(k)
                kept_lines.append(TABLE_MARK + chr(0xE100 + len(tables)))
                kept_ys.append(y)
                tables.append(page_tables[k])
        pages[index] = "\r\n".join(kept_lines)
        baselines[index] = kept_ys
    return tables


def read_pages(
    data: bytes,
) -> tuple[list[str], list[list[float | None]], list[tuple[int, str, int]], str | None, list[PdfTable]]:
    """Each page's raw text and line baselines, the outline as (level, title, page index), the title, and the
    tables found (each one's lines replaced by a marker line in its page's text)."""
    import pypdfium2 as pdfium

    doc = pdfium.PdfDocument(data)
    try:
        pages: list[str] = []
        baselines: list[list[float | None]] = []
        ruled: list[int] = []
        for i in range(len(doc)):
            page = doc[i]
            textpage = page.get_textpage()
            try:
                text = textpage.get_text_range() or ""
                pages.append(text)
                try:
                    baselines.append(_baselines(textpage, text))
                except Exception:  # geometry is a refinement: without it, paragraphs come from the text
                    baselines.append([None] * len(text.split("\r\n")))
                try:
                    if candidate_pages(page):
                        ruled.append(i)
                except Exception:  # tables are a refinement too
                    pass
            finally:
                textpage.close()
                page.close()
        outline: list[tuple[int, str, int]] = []
        try:
            for item in doc.get_toc(max_depth=8):
                dest = item.get_dest()
                index = dest.get_index() if dest is not None else None
                title = " ".join((item.get_title() or "").split())
                if title and index is not None:
                    outline.append((int(item.level), title, int(index)))
        except Exception:  # a damaged outline only costs us the headings
            outline = []
        title = None
        try:
            title = (doc.get_metadata_dict().get("Title") or "").strip() or None
        except Exception:
            title = None
    finally:
        doc.close()
    tables = _place_tables(pages, baselines, find_tables(data, ruled))
    return pages, baselines, outline, title, tables


def split_lines(raw: str, baselines: list[float | None]) -> tuple[list[str], list[bool]]:
    """A page's lines (whitespace collapsed, hyphenation joined) and which of them start a paragraph.

    PDFium writes U+FFFE where a word was hyphenated at a line break (U+00AD in other PDFs): the two halves
    are joined. A line starts a paragraph when the gap above it is clearly wider than the page's usual line
    spacing (1.3 times its median).
    """
    raw_lines = raw.replace("\x00", "").split("\r\n")
    if len(baselines) != len(raw_lines):
        baselines = [None] * len(raw_lines)
    lines: list[str] = []
    firsts: list[float | None] = []  # baseline of a line's first part (gap above it)
    lasts: list[float | None] = []  # baseline of its last part (gap below it), after a hyphen join
    carry = ""
    carry_y: float | None = None
    for line, y in zip(raw_lines, baselines, strict=True):
        line = line.replace("\r", " ").replace("\n", " ").replace("\x02", "\ufffe")
        first = y
        if carry:
            line, first = carry + line.lstrip(), carry_y
            carry, carry_y = "", None
        if line.rstrip().endswith(("\ufffe", "\u00ad")):
            carry, carry_y = line.rstrip()[:-1], first
            continue
        lines.append(" ".join(line.replace("\ufffe", "").replace("\u00ad", "").split()))
        firsts.append(first)
        lasts.append(y)
    if carry:
        lines.append(" ".join(carry.split()))
        firsts.append(carry_y)
        lasts.append(carry_y)
    gaps = [
        a - b for a, b in zip(lasts, firsts[1:], strict=False) if a is not None and b is not None and a - b > 0
    ]
    spacing = statistics.median(gaps) if gaps else None
    starts = [False] * len(lines)
    for i in range(1, len(lines)):
        above, here = lasts[i - 1], firsts[i]
        if spacing and above is not None and here is not None and above - here > 1.3 * spacing:
            starts[i] = True
    return lines, starts
