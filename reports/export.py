"""Export a markdown report as markdown, HTML, PDF or DOCX bytes, plus the HTTP metadata for a download.

This is the entry point the API (``GET /api/v1/research/{thread_id}/export/{fmt}``) and the CLI use. The
markdown is parsed once (:mod:`reports.document`) and rendered by :mod:`reports.pdf_render` or
:mod:`reports.docx_render`; parsing and rendering are CPU-bound, so :func:`export_report` runs them in a
worker thread and never blocks the event loop.

``title`` names the document: it becomes the PDF/DOCX metadata title and is shown as the first heading
unless the report already opens with a level-1 heading (the same rule holds for the markdown export).
HTML is markdown-it-py's CommonMark rendering (raw HTML in the markdown is escaped, never passed through) in
a minimal standalone page.
"""

from __future__ import annotations

import asyncio
import html
import re
import unicodedata
from typing import Literal, get_args
from urllib.parse import quote

from domain.errors import InvalidInput
from reports.document import clean_text, parse
from reports.docx_render import render_docx
from reports.pdf_render import render_pdf

ExportFormat = Literal["md", "html", "pdf", "docx"]
EXPORT_FORMATS: tuple[ExportFormat, ...] = get_args(ExportFormat)

_CONTENT_TYPES: dict[ExportFormat, str] = {
    "md": "text/markdown; charset=utf-8",
    "html": "text/html; charset=utf-8",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
_ALIASES: dict[str, ExportFormat] = {"markdown": "md", "word": "docx", "htm": "html"}


def parse_format(value: str) -> ExportFormat:
    """Validate a user-given format name (``md|html|pdf|docx``, also ``markdown``); unknown -> InvalidInput."""
    name = value.strip().lower().lstrip(".")
    name = _ALIASES.get(name, name)
    for fmt in EXPORT_FORMATS:
        if fmt == name:
            return fmt
    raise InvalidInput(
        f"unsupported export format {value!r}; use one of {', '.join(EXPORT_FORMATS)}",
        code="unsupported_format",
        supported=list(EXPORT_FORMATS),
    )


def content_type(fmt: ExportFormat) -> str:
    """The media type of an export."""
    return _CONTENT_TYPES[parse_format(fmt)]


def _slug(text: str, ascii_only: bool) -> str:
    if ascii_only:
        text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    slug = re.sub(r"[^\w]+", "-", text, flags=re.UNICODE).strip("-_").lower()
    return slug[:80].rstrip("-_")


def filename(title: str | None, fmt: ExportFormat) -> str:
    """A safe download file name from the title, e.g. ``"Solar power in 2024"`` -> ``solar-power-in-2024.pdf``.

    Letters of any script are kept (a Chinese title stays Chinese); path separators, punctuation and
    control characters are not. Without a usable title the name is ``report.<fmt>``.
    """
    fmt = parse_format(fmt)
    return f"{_slug(clean_text(title or ''), ascii_only=False) or 'report'}.{fmt}"


def content_disposition(title: str | None, fmt: ExportFormat) -> str:
    """A ``Content-Disposition`` header value: an ASCII ``filename`` plus the UTF-8 ``filename*`` (RFC 6266)."""
    fmt = parse_format(fmt)
    ascii_name = f"{_slug(clean_text(title or ''), ascii_only=True) or 'report'}.{fmt}"
    return f"attachment; filename=\"{ascii_name}\"; filename*=UTF-8''{quote(filename(title, fmt))}"


def render_report(markdown: str, fmt: ExportFormat, title: str | None = None) -> bytes:
    """Blocking version of :func:`export_report` (for threads and the CLI)."""
    fmt = parse_format(fmt)
    if fmt in ("md", "html"):
        text = clean_text(markdown)
        doc = parse(text, title) if title else None
        if doc is not None and doc.title:
            text = f"# {doc.title}\n\n{text}"
        return text.encode("utf-8") if fmt == "md" else _html_page(text, title)
    doc = parse(markdown, title)
    if fmt == "pdf":
        return render_pdf(doc)
    return render_docx(doc)


def _html_page(markdown: str, title: str | None) -> bytes:
    from markdown_it import MarkdownIt

    body = MarkdownIt("commonmark", {"html": False}).enable("table").render(markdown)
    head = html.escape(clean_text(title or "") or "Report")
    page = (
        f'<!DOCTYPE html>\n<html>\n<head>\n<meta charset="utf-8">\n<title>{head}</title>\n</head>\n'
        f"<body>\n{body}</body>\n</html>\n"
    )
    return page.encode("utf-8")


async def export_report(markdown: str, fmt: ExportFormat, title: str | None = None) -> bytes:
    """Render ``markdown`` as ``fmt`` (``md``, ``html``, ``pdf`` or ``docx``) and return the file's bytes.

    Any text is accepted: characters the PDF fonts cannot draw are replaced, never fatal. An unknown
    ``fmt`` raises :class:`domain.errors.InvalidInput`.
    """
    fmt = parse_format(fmt)  # reject a bad format before handing work to a thread
    return await asyncio.to_thread(render_report, markdown, fmt, title)


__all__ = [
    "EXPORT_FORMATS",
    "ExportFormat",
    "content_disposition",
    "content_type",
    "export_report",
    "filename",
    "parse_format",
    "render_report",
]
