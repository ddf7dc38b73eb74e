"""Documents to structured text: plain text, Markdown, HTML, PDF, DOCX, PPTX, XLSX, CSV and EPUB.

Shared by the knowledge base (uploaded files) and the web fetcher (fetched pages). Each extractor returns
the text and its :class:`retrieval.structure.Block` list (heading path, page, definition term per block):

- PDF: pypdfium2, page by page, with the clean-up in :mod:`retrieval.pdf_text` (running headers/footers,
  page numbers and table-of-contents lines removed, hyphenation joined, identifiers kept, outline headings);
- DOCX, PPTX, XLSX, CSV, EPUB and uploaded HTML: Microsoft's ``markitdown`` converts them to markdown that
  keeps headings, lists, tables and definition lists (HTML navigation is removed first with BeautifulSoup);
- Markdown is read as written; plain text is split into paragraphs;
- web pages keep trafilatura's main-content extraction (:func:`html_to_text`), which drops boilerplate
  that a local manual does not have.

The choice of converters is documented with the comparison in ``docs/research.md``. Every function here is
blocking and CPU-bound, so callers run it with ``asyncio.to_thread``. Parsing failures are raised as
:class:`CorruptFileError` so callers can answer "this file is damaged" instead of crashing.
"""

from __future__ import annotations

import codecs
import io
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from retrieval.structure import Block, blocks_text, markdown_blocks

PAGE_SEPARATOR = "\n\n"


class ExtractionError(ValueError):
    """The content could not be turned into text."""


class CorruptFileError(ExtractionError):
    """The file claims a format but cannot be parsed as it."""


class EmptyDocumentError(ExtractionError):
    """The file parsed but holds no text."""


@dataclass(slots=True)
class ExtractedText:
    """Text of a document; ``page_starts`` gives the offset where each page begins (PDF only).

    ``blocks`` is the same text as structured blocks (None for extractors that only give text);
    ``block_starts`` the offset of each block in ``text``.
    """

    text: str
    title: str | None = None
    page_starts: list[int] | None = field(default=None)
    blocks: list[Block] | None = field(default=None)
    block_starts: list[int] | None = field(default=None)


def _from_blocks(blocks: list[Block], title: str | None) -> ExtractedText:
    text, starts = blocks_text(blocks)
    return ExtractedText(text=text, title=title, blocks=blocks, block_starts=starts)


def decode_text(data: bytes) -> str:
    """Decode bytes of a text file: BOMs first, then UTF-8, then Windows-1252 (never fails)."""
    if data.startswith(codecs.BOM_UTF8):
        return data[len(codecs.BOM_UTF8) :].decode("utf-8", errors="replace")
    if data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        return data.decode("utf-16", errors="replace")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", errors="replace")


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = re.sub(r"[ \t\f\v]+\n", "\n", text)
    return re.sub(r"\n{3,}", "\n\n", text).strip()


def extract_plain(data: bytes) -> ExtractedText:
    text = _clean(decode_text(data))
    blocks = [Block(text=p.strip()) for p in re.split(r"\n\s*\n", text) if p.strip()]
    return _from_blocks(blocks, None)


_MD_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def extract_markdown(data: bytes) -> ExtractedText:
    # Markdown is already readable text; it is kept as written (headings help both BM25 and readers).
    text = _clean(decode_text(data))
    m = _MD_TITLE.search(text)
    return _from_blocks(markdown_blocks(text), m.group(1).strip() if m else None)


def html_to_text(html: str, url: str | None = None) -> ExtractedText:
    """Main text of an HTML page with trafilatura; falls back to all visible text for thin pages."""
    import trafilatura  # heavy (lxml, justext, courlan): imported on first use

    text = trafilatura.extract(
        html,
        url=url,
        output_format="txt",
        include_comments=False,
        include_tables=True,
        favor_recall=True,
    )
    if not text or not text.strip():
        text = trafilatura.html2txt(html) or ""
    title: str | None = None
    meta = trafilatura.extract_metadata(html, default_url=url)
    if meta is not None and meta.title:
        title = meta.title.strip()
    return ExtractedText(text=_clean(text), title=title)


# DocBook, Texinfo and Sphinx navigation: header/footer bars, tables of contents, breadcrumbs, indexes.
_NAV_SELECTORS = (
    "nav, header, footer, script, style, noscript, [role=navigation], .navheader, .navfooter, .toc, "
    ".header, .footer, .nav-panel, .breadcrumb, .breadcrumbs, .sphinxsidebar, .related, div.contents"
)


_local = threading.local()


def _converter() -> Any:
    """This thread's MarkItDown instance (building one loads its file-type detector; reuse it)."""
    converter = getattr(_local, "markitdown", None)
    if converter is None:
        from markitdown import MarkItDown

        converter = _local.markitdown = MarkItDown(enable_plugins=False)
    return converter


def _markitdown(data: bytes, extension: str) -> tuple[str, str | None]:
    """Markdown of a file (markitdown) and its title; CorruptFileError when it cannot be converted."""
    from markitdown import StreamInfo

    try:
        result = _converter().convert_stream(io.BytesIO(data), stream_info=StreamInfo(extension=extension))
    except Exception as exc:  # markitdown wraps every converter failure in its own exception types
        raise CorruptFileError(f"the {extension.lstrip('.').upper()} file cannot be read: {exc}") from exc
    return result.markdown or "", (result.title or "").strip() or None


def _first_heading(blocks: list[Block]) -> str | None:
    return next((b.headings[0] for b in blocks if b.headings), None)


def extract_html(data: bytes) -> ExtractedText:
    """An uploaded HTML document: navigation removed (BeautifulSoup), then markdown (markitdown)."""
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(decode_text(data), "html.parser")
    title = soup.title.get_text(" ", strip=True) if soup.title else None
    for element in soup.select(_NAV_SELECTORS):
        element.decompose()
    markdown, md_title = _markitdown(str(soup).encode(), ".html")
    blocks = markdown_blocks(_clean(markdown))
    if not blocks and markdown.strip():
        # A page that is nothing but navigation (an index of links) is still a document: keep it whole.
        blocks = [Block(text=_clean(markdown), kind="list")]
    return _from_blocks(blocks, title or md_title or _first_heading(blocks))


def _office(extension: str) -> Callable[[bytes], ExtractedText]:
    def extract(data: bytes) -> ExtractedText:
        markdown, title = _markitdown(data, extension)
        blocks = markdown_blocks(_clean(markdown))
        return _from_blocks(blocks, title or _first_heading(blocks))

    extract.__name__ = f"extract_{extension.lstrip('.')}"
    extract.__doc__ = f"A {extension} file as structured markdown (markitdown)."
    return extract


extract_docx = _office(".docx")
extract_pptx = _office(".pptx")
extract_xlsx = _office(".xlsx")
extract_csv = _office(".csv")
extract_epub = _office(".epub")


def extract_pdf(data: bytes) -> ExtractedText:
    """Text of every page of a PDF as blocks (pypdfium2, :mod:`retrieval.pdf_text`), page-aware."""
    import pypdfium2 as pdfium

    from retrieval.pdf_text import pdf_blocks

    try:
        blocks, title, pages = pdf_blocks(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise CorruptFileError("the PDF is encrypted with a password") from exc
        raise CorruptFileError(f"the PDF cannot be read: {exc}") from exc
    if pages == 0:
        raise CorruptFileError("the PDF has no pages")
    out = _from_blocks(blocks, title)
    # Offsets where each page's first block starts (a page with no text starts where the next one does).
    starts: list[int] = []
    assert out.block_starts is not None
    for page in range(1, pages + 1):
        first = next(
            (o for b, o in zip(blocks, out.block_starts, strict=True) if (b.page or 0) >= page), None
        )
        starts.append(first if first is not None else len(out.text))
    out.page_starts = starts
    return out


def probe_pdf(data: bytes) -> None:
    """Cheap check that a PDF opens, has pages and its first page's text can be read (pypdfium2)."""
    import pypdfium2 as pdfium

    try:
        doc = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        if "password" in str(exc).lower():
            raise CorruptFileError("the PDF is encrypted with a password") from exc
        raise CorruptFileError(f"the PDF cannot be read: {exc}") from exc
    try:
        if len(doc) == 0:
            raise CorruptFileError("the PDF has no pages")
        page = doc[0]
        textpage = page.get_textpage()
        textpage.get_text_range()
        textpage.close()
        page.close()
    except pdfium.PdfiumError as exc:
        raise CorruptFileError(f"the PDF cannot be read: {exc}") from exc
    finally:
        doc.close()


def probe(kind: str, data: bytes) -> None:
    """Refuse a damaged file before it is accepted for background ingestion (blocking)."""
    if kind == "pdf":
        probe_pdf(data)
    elif kind in ("docx", "pptx", "xlsx", "epub"):
        _office(f".{kind}")(data)  # the package is parsed whole anyway; this is the cheap part
