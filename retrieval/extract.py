"""Text extraction from the formats clew reads: plain text, Markdown, HTML, PDF and DOCX.

Shared by the knowledge base (uploaded files) and the web fetcher (fetched pages). Every function here is
blocking and CPU-bound, so callers run it with ``asyncio.to_thread``. Parsing failures are raised as
:class:`CorruptFileError` so callers can answer "this file is damaged" instead of crashing.
"""

from __future__ import annotations

import codecs
import io
import re
from dataclasses import dataclass, field

PAGE_SEPARATOR = "\n\n"


class ExtractionError(ValueError):
    """The content could not be turned into text."""


class CorruptFileError(ExtractionError):
    """The file claims a format but cannot be parsed as it."""


class EmptyDocumentError(ExtractionError):
    """The file parsed but holds no text."""


@dataclass(slots=True)
class ExtractedText:
    """Text of a document; ``page_starts`` gives the offset where each page begins (PDF only)."""

    text: str
    title: str | None = None
    page_starts: list[int] | None = field(default=None)


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
    return ExtractedText(text=_clean(decode_text(data)))


_MD_TITLE = re.compile(r"^\s{0,3}#\s+(.+?)\s*#*\s*$", re.MULTILINE)


def extract_markdown(data: bytes) -> ExtractedText:
    # Markdown is already readable text; it is kept as written (headings help both BM25 and readers).
    text = _clean(decode_text(data))
    m = _MD_TITLE.search(text)
    return ExtractedText(text=text, title=m.group(1).strip() if m else None)


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


def extract_html(data: bytes) -> ExtractedText:
    return html_to_text(decode_text(data))


def extract_pdf(data: bytes) -> ExtractedText:
    """Text of every page of a PDF (pypdf), with the offset where each page starts."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptFileError("the PDF is encrypted with a password")
        pages = [page.extract_text() or "" for page in reader.pages]
        title = reader.metadata.title if reader.metadata is not None else None
    except CorruptFileError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise CorruptFileError(f"the PDF cannot be read: {exc}") from exc
    if not pages:
        raise CorruptFileError("the PDF has no pages")
    starts: list[int] = []
    parts: list[str] = []
    offset = 0
    for page_text in pages:
        cleaned = _clean(page_text)
        starts.append(offset)
        parts.append(cleaned)
        offset += len(cleaned) + len(PAGE_SEPARATOR)
    return ExtractedText(
        text=PAGE_SEPARATOR.join(parts),
        title=str(title).strip() if title else None,
        page_starts=starts,
    )


def extract_docx(data: bytes) -> ExtractedText:
    """Paragraphs and tables of a Word document (python-docx), in body order."""
    import zipfile

    import docx
    from docx.opc.exceptions import PackageNotFoundError
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
        lines: list[str] = []
        first_heading: str | None = None
        for block in document.iter_inner_content():
            if isinstance(block, Paragraph):
                text = block.text.strip()
                if (
                    text
                    and first_heading is None
                    and (block.style.name or "").startswith(("Heading", "Title"))
                ):
                    first_heading = text
                lines.append(text)
            elif isinstance(block, Table):
                for row in block.rows:
                    cells = [c.text.strip() for c in row.cells]
                    lines.append(" | ".join(c for c in cells if c))
        title = (document.core_properties.title or "").strip() or first_heading
    except (PackageNotFoundError, zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise CorruptFileError(f"the Word document cannot be read: {exc}") from exc
    except Exception as exc:  # lxml raises its own XMLSyntaxError family for damaged parts
        if type(exc).__module__.startswith("lxml"):
            raise CorruptFileError(f"the Word document cannot be read: {exc}") from exc
        raise
    return ExtractedText(text=_clean("\n".join(lines)), title=title)


def probe_pdf(data: bytes) -> None:
    """Cheap check that a PDF opens, has pages and its first page's text can be read."""
    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data), strict=False)
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorruptFileError("the PDF is encrypted with a password")
        if len(reader.pages) == 0:
            raise CorruptFileError("the PDF has no pages")
        reader.pages[0].extract_text()
    except CorruptFileError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, AttributeError, IndexError, OSError) as exc:
        raise CorruptFileError(f"the PDF cannot be read: {exc}") from exc


def probe(kind: str, data: bytes) -> None:
    """Refuse a damaged file before it is accepted for background ingestion (blocking)."""
    if kind == "pdf":
        probe_pdf(data)
    elif kind == "docx":
        extract_docx(data)  # python-docx parses the whole package anyway; this is the cheap part
