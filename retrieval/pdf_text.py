"""PDF to structured blocks, page by page, with pypdfium2 (PDFium's text layer).

Why pypdfium2: on the same real manuals (see ``docs/research.md``, "Document conversion") it was the fastest
extractor by an order of magnitude, it keeps pages, it marks line-break hyphenation with its own character
(U+FFFE) so a soft hyphen is joined and a real one is kept, and it reads the PDF outline (bookmarks), which
gives headings with their level and page. Text extraction itself is PDFium's; what is ours is the layout
clean-up no extractor does for us (page reading and tables in ``retrieval.pdf_pages`` /
``retrieval.pdf_tables``, page furniture in ``retrieval.pdf_furniture``, the rest here):

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

from retrieval.pdf_furniture import drop_furniture, norm
from retrieval.pdf_pages import TABLE_MARK, read_pages, split_lines
from retrieval.structure import Block, is_front_matter, mark_front_matter

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
                low = norm(line)
                for k, (level, title) in enumerate(pending):
                    t = norm(title)
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
    raw_pages, baselines, outline, title, tables = read_pages(data)
    titles = {norm(t) for _, t, _ in outline}
    split_pages = [split_lines(p, b) for p, b in zip(raw_pages, baselines, strict=True)]
    split = [lines for lines, _ in split_pages]
    starts = [flags for _, flags in split_pages]
    pages = drop_furniture(split, titles)
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
        if text.startswith(TABLE_MARK) and len(text) == 2:
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
            if current and norm(current[-1]).replace("_", " ") == norm(ln.term.replace("_", " ")):
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
