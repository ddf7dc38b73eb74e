"""Which uploads the knowledge base accepts: a file's kind from its extension, confirmed by its content.

The extension must name a supported kind and the first bytes must agree with it (a PDF starts with
``%PDF-``, a DOCX is a zip holding ``word/document.xml``, a PPTX ``ppt/presentation.xml``, an XLSX
``xl/workbook.xml``, an EPUB ``META-INF/container.xml``; text files, CSV included, hold no binary bytes), so a renamed
image or archive is refused before any parser sees it. Parsing itself happens in :mod:`retrieval.extract`.
"""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import PurePath
from typing import Literal

from retrieval.extract import (
    CorruptFileError,
    ExtractedText,
    extract_csv,
    extract_docx,
    extract_epub,
    extract_html,
    extract_markdown,
    extract_pdf,
    extract_plain,
    extract_pptx,
    extract_xlsx,
)

FileKind = Literal["txt", "md", "html", "pdf", "docx", "pptx", "xlsx", "csv", "epub"]

EXTENSIONS: dict[str, FileKind] = {
    ".txt": "txt",
    ".text": "txt",
    ".md": "md",
    ".markdown": "md",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
    ".docx": "docx",
    ".pptx": "pptx",
    ".xlsx": "xlsx",
    ".csv": "csv",
    ".epub": "epub",
}

CONTENT_TYPES: dict[FileKind, str] = {
    "txt": "text/plain",
    "md": "text/markdown",
    "html": "text/html",
    "pdf": "application/pdf",
    "docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "csv": "text/csv",
    "epub": "application/epub+zip",
}

KIND_BY_CONTENT_TYPE: dict[str, FileKind] = {v: k for k, v in CONTENT_TYPES.items()}

EXTRACTORS: dict[FileKind, Callable[[bytes], ExtractedText]] = {
    "txt": extract_plain,
    "md": extract_markdown,
    "html": extract_html,
    "pdf": extract_pdf,
    "docx": extract_docx,
    "pptx": extract_pptx,
    "xlsx": extract_xlsx,
    "csv": extract_csv,
    "epub": extract_epub,
}

# The part a zip package of each kind must hold, and what to call the kind in an error.
_ZIP_MARKERS: dict[str, tuple[str, str]] = {
    "docx": ("word/document.xml", "Word .docx document"),
    "pptx": ("ppt/presentation.xml", "PowerPoint .pptx presentation"),
    "xlsx": ("xl/workbook.xml", "Excel .xlsx workbook"),
    "epub": ("META-INF/container.xml", "EPUB book"),
}

# Magic numbers of common binary formats a text upload must not start with.
_BINARY_MAGIC: tuple[bytes, ...] = (
    b"\x89PNG",
    b"GIF8",
    b"\xff\xd8\xff",
    b"\x1f\x8b",
    b"BZh",
    b"\xfd7zXZ",
    b"7z\xbc\xaf",
    b"Rar!",
    b"\xd0\xcf\x11\xe0",  # OLE2: .doc, .xls
    b"\x7fELF",
    b"MZ",
    b"%PDF-",
    b"PK\x03\x04",
)


class UnsupportedFileTypeError(ValueError):
    """The file's extension or content is not one the knowledge base reads."""


def supported_extensions() -> list[str]:
    return sorted(EXTENSIONS)


def _looks_like_text(head: bytes) -> bool:
    if head.startswith((b"\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff")):
        return True
    if any(head.startswith(m) for m in _BINARY_MAGIC) or b"\x00" in head:
        return False
    # Control characters other than tab, newline, carriage return and form feed mark binary content.
    controls = sum(1 for b in head if b < 32 and b not in (9, 10, 12, 13))
    return controls <= len(head) // 100


def detect_kind(filename: str, data: bytes) -> FileKind:
    """The file's kind, or :class:`UnsupportedFileTypeError` when extension and content disagree.

    A zip that is damaged raises :class:`CorruptFileError` (the type is right, the file is broken).
    """
    ext = PurePath(filename).suffix.lower()
    kind = EXTENSIONS.get(ext)
    if kind is None:
        shown = ext or "a file without extension"
        raise UnsupportedFileTypeError(
            f"{shown} is not supported; upload one of {', '.join(supported_extensions())}"
        )
    head = data[:4096]
    if kind == "pdf":
        if b"%PDF-" not in head[:1024]:
            raise UnsupportedFileTypeError(f"{filename} is not a PDF (no %PDF header)")
    elif kind in _ZIP_MARKERS:
        part, label = _ZIP_MARKERS[kind]
        if not head.startswith(b"PK\x03\x04"):
            raise UnsupportedFileTypeError(f"{filename} is not a {label} (not a zip package)")
        try:
            with zipfile.ZipFile(io.BytesIO(data)) as archive:
                names = set(archive.namelist())
        except (zipfile.BadZipFile, OSError, ValueError) as exc:
            raise CorruptFileError(f"the {label} is damaged: {exc}") from exc
        if part not in names:
            raise UnsupportedFileTypeError(f"{filename} is a zip archive but not a {label}")
    elif not _looks_like_text(head):
        raise UnsupportedFileTypeError(f"{filename} does not contain text (binary content)")
    return kind
