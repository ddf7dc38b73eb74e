"""PDF to structured blocks, page by page, with pypdfium2 (PDFium's text layer).

Why pypdfium2: on the same real manuals (see ``docs/research.md``, "Document conversion") it was the fastest
extractor by an order of magnitude, it keeps pages, it marks line-break hyphenation with its own character
(U+FFFE) so a soft hyphen is joined and a real one is kept, and it reads the PDF outline (bookmarks), which
gives headings with their level and page. Text extraction itself is PDFium's; what is ours is the layout
clean-up no extractor does for us:

- **running headers and footers**: a line at the top or bottom of a page that carries the page's printed
  number (found as the most common offset between page index and edge numbers), and lines that repeat at
  the top or bottom of many pages, are dropped;
- **tables of contents and indexes**: lines ending in leader dots and a page number are dropped;
- **hyphenation**: soft hyphens at a line end are joined (``man-`` / ``agement`` → ``management``); an
  identifier cut after an underscore (``ASN1_MAX_`` / ``NAME_SIZE``) is joined too;
- **identifiers**: some PDFs draw underscores as rules, so ``asn1_parser2tree`` reads ``asn1 parser2tree``;
  a spaced form of an identifier the same document spells with underscores elsewhere is restored when the
  identifier contains a digit or belongs to a family of at least three (``ffi_*``, ``asn1_*``);
- **tables**: ruled tables are found by pdfplumber (``retrieval.pdf_tables``, only on pages that draw
  paths); their text lines are replaced by one Markdown table block;
- **headings**: lines matching an outline entry (or, with no outline, a numbered heading like ``2.3 Title``)
  become headings; a Texinfo definition line (``int f (…) [Function]``) opens a definition of ``f``.

Blocking and CPU-bound: call it from a worker thread.
"""

from __future__ import annotations

import re
import statistics
from collections import Counter
from dataclasses import dataclass
from typing import Any

from retrieval.pdf_tables import PdfTable, candidate_pages, find_tables
from retrieval.structure import Block, is_front_matter, mark_front_matter

_EDGE_LINES = 2
_LEADER = re.compile(r"(?:\.\s?){4,}\s*[\divxlcIVXLC]+\s*$|\s\.{3,}\s*\d+\s*$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[\divxlc]{1,6}(?:\s*(?:of|/)\s*\d+)?$", re.IGNORECASE)
# A table's place in a page's text: this private-use character and one more that numbers the table.
_TABLE_MARK = "\ue000"
_EDGE_NUMBER = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,4})\.?\s+([A-Z][^\n]{1,80})$")
_DEFINITION_LINE = re.compile(
    r"^(?P<sig>.*?\b(?P<name>[A-Za-z_][\w]*)\s*\(.*?)\s*\[(?P<cat>Function|Macro|Variable|Data Type|"
    r"Type|Command|Constant|Special Form)\]\s*(?P<rest>.*)$"
)
_BULLET = re.compile(r"^\s*(?:[•▪◦●‣∗*\-–]|\d{1,3}[.)])\s+")
_IDENTIFIER = re.compile(r"\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+\b")
_TERMINAL = (".", ":", "!", "?", ";")


@dataclass(slots=True)
class _Line:
    text: str
    page: int
    heading_level: int | None = None
    heading: str | None = None
    term: str | None = None
    starts_paragraph: bool = False


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


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
                kept_lines.append(_TABLE_MARK + chr(0xE100 + len(tables)))
                kept_ys.append(y)
                tables.append(page_tables[k])
        pages[index] = "\r\n".join(kept_lines)
        baselines[index] = kept_ys
    return tables


def _page_texts(
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


def _split_lines(raw: str, baselines: list[float | None]) -> tuple[list[str], list[bool]]:
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


def _edge_indices(lines: list[str]) -> list[int]:
    filled = [i for i, ln in enumerate(lines) if ln]
    return sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))


def _printed_offset(pages: list[list[str]]) -> int | None:
    """The most common (printed number - page index) among numbers at page edges, if it is common enough."""
    offsets: Counter[int] = Counter()
    for index, lines in enumerate(pages):
        seen: set[int] = set()
        for i in _edge_indices(lines):
            m = _EDGE_NUMBER.search(lines[i])
            for group in m.groups() if m else ():
                if group:
                    seen.add(int(group) - index)
        offsets.update(seen)
    if not offsets:
        return None
    offset, count = offsets.most_common(1)[0]
    return offset if count >= max(2, len(pages) // 4) else None


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Edge lines (digits masked) that repeat on many pages: running headers and footers."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({re.sub(r"\d+", "#", _norm(lines[i])) for i in _edge_indices(lines)})
    threshold = 2 if len(pages) <= 4 else max(3, len(pages) // 3)
    return {key for key, n in counts.items() if n >= threshold}


def _drop_furniture(pages: list[list[str]], titles: set[str]) -> list[list[str]]:
    offset = _printed_offset(pages)
    running = _running_lines(pages)
    out: list[list[str]] = []
    for index, lines in enumerate(pages):
        edges = set(_edge_indices(lines))
        kept: list[str] = []
        for i, line in enumerate(lines):
            if not line:
                kept.append("")
                continue
            if _LEADER.search(line):
                kept.append("")
                continue
            if i in edges and not any(_norm(line).endswith(t) for t in titles):
                if _PAGE_NUMBER.match(line) or re.sub(r"\d+", "#", _norm(line)) in running:
                    kept.append("")
                    continue
                if offset is not None and len(line) < 90:
                    m = _EDGE_NUMBER.search(line)
                    if m and any(g and int(g) == index + offset for g in m.groups()):
                        kept.append("")
                        continue
            kept.append(line)
        out.append(kept)
    return out


def _identifier_repairs(text: str) -> list[tuple[re.Pattern[str], str]]:
    found = set(_IDENTIFIER.findall(text))
    families = Counter(ident.split("_", 1)[0].lower() for ident in found)
    repairs = []
    for ident in sorted(found, key=len, reverse=True):
        parts = ident.split("_")
        if not (any(ch.isdigit() for ch in ident) or families[parts[0].lower()] >= 3):
            continue
        spaced = r"\s".join(re.escape(p) for p in parts)
        repairs.append((re.compile(rf"(?<![\w-]){spaced}(?![\w-])"), ident))
    return repairs


def _mark_headings(
    pages: list[list[str]], starts: list[list[bool]], outline: list[tuple[int, str, int]]
) -> list[_Line]:
    by_page: dict[int, list[tuple[int, str]]] = {}
    for level, title, index in outline:
        by_page.setdefault(index, []).append((level, title))
    out: list[_Line] = []
    for index, lines in enumerate(pages):
        pending = list(by_page.get(index, []))
        for k, line in enumerate(lines):
            entry = _Line(line, index + 1, starts_paragraph=starts[index][k])
            if line:
                low = _norm(line)
                for k, (level, title) in enumerate(pending):
                    t = _norm(title)
                    if (low == t or low.endswith(" " + t)) and len(low) <= len(t) + 14:
                        entry.heading_level, entry.heading = level + 1, line
                        del pending[k]
                        break
                if entry.heading is None and not outline:
                    m = _NUMBERED_HEADING.match(line)
                    if m and not line.endswith(_TERMINAL) and len(line.split()) <= 12:
                        entry.heading_level, entry.heading = m.group(1).count(".") + 1, line
                if entry.heading is None:
                    d = _DEFINITION_LINE.match(line)
                    if d:
                        entry.term = d.group("name")
                        entry.text = f"{d.group('sig')} {d.group('rest')}".strip()
            out.append(entry)
    return out


def _join(previous: str, line: str) -> str:
    if previous.endswith("_") or (previous.endswith("-") and not previous.endswith(" -")):
        return previous + line
    return f"{previous} {line}"


def pdf_blocks(data: bytes) -> tuple[list[Block], str | None, int]:
    """Blocks of a PDF (see the module docstring), its title and its page count.

    Raises whatever pypdfium2 raises for a file it cannot open (``pypdfium2.PdfiumError``).
    """
    raw_pages, baselines, outline, title, tables = _page_texts(data)
    titles = {_norm(t) for _, t, _ in outline}
    split_pages = [_split_lines(p, b) for p, b in zip(raw_pages, baselines, strict=True)]
    split = [lines for lines, _ in split_pages]
    starts = [flags for _, flags in split_pages]
    pages = _drop_furniture(split, titles)
    if not title:
        # No title in the metadata: the first line of the first page, which is often the running header
        # (the document's name, repeated on every page) that was just removed from the text.
        first = next((ln for ln in split[0] if ln), "") if split else ""
        if re.search(r"\d", first) or not 0 < len(first) <= 80:
            first = next((ln for ln in pages[0] if ln), "") if pages else ""
        title = first if 0 < len(first) <= 80 else None
    lines = _mark_headings(pages, starts, outline)
    repairs = _identifier_repairs("\n".join(ln.text for ln in lines))

    def fix(text: str) -> str:
        for pattern, ident in repairs:
            text = pattern.sub(ident, text)
        return text

    widths = [len(ln.text) for ln in lines if ln.text and ln.heading is None]
    full = statistics.median(widths) if widths else 80
    blocks: list[Block] = []
    path: list[tuple[int, str]] = []
    term: str | None = None
    current: list[str] = []
    breaks: list[tuple[int, int]] = []  # (offset in "\n".join(current), page) where a new page begins
    current_page: int | None = None
    last_page: int | None = None
    kind = "paragraph"

    signature: str | None = None  # a definition's signature, until its first description block is written
    depth = 0  # open parentheses of a signature that continues on the next line

    def flush() -> None:
        nonlocal current, current_page, signature, breaks
        if current:
            joined = fix("\n".join(current))  # identifier repairs keep lengths: offsets stay valid
            text = joined.strip()
            if text:
                heads = tuple(h for _, h in path)
                body = f"{fix(signature or term or '')}\n:   {text}" if term else text
                shift = len(body) - len(text) - (len(joined) - len(joined.lstrip()))
                page_breaks = tuple((max(0, o + shift), p) for o, p in breaks if 0 < o + shift < len(body))
                signature = None
                blocks.append(
                    Block(
                        text=body,
                        headings=heads,
                        page=current_page,
                        kind="definition" if term else kind,  # type: ignore[arg-type]
                        term=term,
                        front_matter=is_front_matter(text),
                        end_page=last_page,
                        page_breaks=page_breaks,
                    )
                )
        current, current_page, breaks = [], None, []

    for ln in lines:
        text = ln.text
        if not text:
            continue
        if text.startswith(_TABLE_MARK) and len(text) == 2:
            flush()
            term = signature = None
            table = tables[ord(text[1]) - 0xE100]
            blocks.append(Block(text=table.markdown(), headings=tuple(h for _, h in path), page=ln.page,
                                kind="table"))
            continue
        if ln.heading is not None and ln.heading_level is not None:
            flush()
            term = signature = None
            while path and path[-1][0] >= ln.heading_level:
                path.pop()
            path.append((ln.heading_level, fix(ln.heading)))
            continue
        if ln.term is not None:
            # A line just before that spells the same name (spaces for underscores) is its heading.
            if current and _norm(current[-1]).replace("_", " ") == _norm(ln.term.replace("_", " ")):
                current.pop()
            flush()
            term, signature = ln.term, text
            depth = text.count("(") - text.count(")")
            continue
        if signature is not None and depth > 0 and not current:
            signature = _join(signature, text)  # the signature goes on: "(const char * file, …"
            depth += text.count("(") - text.count(")")
            continue
        bullet = _BULLET.match(text) is not None
        if current and (
            bullet
            or (ln.starts_paragraph and not (current[-1][-1:].islower() or current[-1].endswith(",")))
            or (len(current[-1]) < 0.7 * full and current[-1].endswith(_TERMINAL))
        ):
            flush()
        if not current:
            current_page = last_page = ln.page
            kind = "list" if bullet else "paragraph"
            current = [text]
        else:
            if ln.page != last_page:
                breaks.append((len("\n".join(current)) + 1, ln.page))
            last_page = ln.page
            joined = _join(current[-1], text)
            if joined.startswith(current[-1] + " "):
                current.append(text)
            else:
                current[-1] = joined
    flush()
    return mark_front_matter(blocks), title, len(raw_pages)
