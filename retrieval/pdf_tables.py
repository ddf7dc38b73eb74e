"""Tables in a PDF, found with pdfplumber and written as Markdown tables.

PDFium (``retrieval.pdf_text``) gives a table as loose text lines: "Setting Default Maximum", "priority 50
100", with nothing left of the columns. pdfplumber (pdfminer.six underneath) finds ruled tables from the
page's drawn lines and returns their cells, so a table keeps its rows and columns. It is much slower than
PDFium, so it only opens the pages where PDFium sees enough drawn paths to make a grid.

Unruled tables (columns made by spacing alone, as Texinfo's ``@multitable``) are not detected: pdfplumber's
text strategy finds them but also turns ordinary two-column prose into "tables", which is worse than lines.

Blocking and CPU-bound: call it from a worker thread (``retrieval.extract`` does).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Any

# A ruled table of two rows and two columns draws at least six segments (or a few rectangles); a page with
# fewer path objects has no table for pdfplumber to find and is not opened.
_MIN_PATHS = 4


@dataclass(frozen=True, slots=True)
class PdfTable:
    """One table on a page: its vertical extent in PDF user space (points, origin at the bottom left, as
    PDFium reports character boxes: ``bottom < top``) and its rows of cell texts, header row first."""

    top: float
    bottom: float
    rows: tuple[tuple[str, ...], ...]

    def contains(self, y: float | None) -> bool:
        """Whether a text line with baseline ``y`` lies inside the table (1 pt of slack each side)."""
        return y is not None and self.bottom - 1 <= y <= self.top + 1

    def markdown(self) -> str:
        """The table as a GitHub-flavoured Markdown table (cells on one line, ``|`` escaped)."""
        width = max(len(r) for r in self.rows)
        rows = [list(r) + [""] * (width - len(r)) for r in self.rows]
        lines = [_row(rows[0]), "| " + " | ".join("---" for _ in range(width)) + " |"]
        lines.extend(_row(r) for r in rows[1:])
        return "\n".join(lines)


def _row(cells: list[str]) -> str:
    return "| " + " | ".join(" ".join(c.split()).replace("|", "\\|") for c in cells) + " |"


def candidate_pages(page: Any) -> bool:
    """Whether a pypdfium2 page draws enough paths to hold a ruled table."""
    import pypdfium2 as pdfium

    count = 0
    for _ in page.get_objects(filter=[pdfium.raw.FPDF_PAGEOBJ_PATH], max_depth=2):
        count += 1
        if count >= _MIN_PATHS:
            return True
    return False


def find_tables(data: bytes, pages: list[int]) -> dict[int, list[PdfTable]]:
    """Tables on the given 0-based pages of a PDF, by page index; pages without a table are left out.

    A "table" needs at least two rows and two columns with some text; a one-cell box (a framed note, a code
    listing in a rectangle) is not one. Errors of pdfplumber on a page cost that page's tables only.
    """
    if not pages:
        return {}
    import pdfplumber

    out: dict[int, list[PdfTable]] = {}
    with pdfplumber.open(io.BytesIO(data), pages=[i + 1 for i in pages]) as pdf:
        for page in pdf.pages:
            try:
                found = page.find_tables()
                tables = []
                for table in found:
                    rows = tuple(
                        tuple(" ".join((cell or "").split()) for cell in row) for row in table.extract()
                    )
                    rows = tuple(r for r in rows if any(r))
                    if len(rows) < 2 or max(len(r) for r in rows) < 2:
                        continue
                    _x0, top, _x1, bottom = table.bbox
                    height = float(page.height)
                    tables.append(PdfTable(top=height - float(top), bottom=height - float(bottom), rows=rows))
            except Exception:  # a page pdfminer cannot lay out keeps its text lines
                continue
            if tables:
                out[page.page_number - 1] = tables
    return out
