"""Render a parsed report (:mod:`reports.document`) to PDF bytes with fpdf2.

Each block maps to fpdf2 primitives: headings become bold text plus an entry in the PDF outline (bookmarks),
paragraphs flow span by span with ``write`` (so bold, italic, inline code and clickable links mix on one
line), lists indent by moving the left margin, tables use fpdf2's table layout, code blocks are monospace
``multi_cell`` boxes on a grey background that wrap long lines and break across pages. Fonts and character
safety come from :mod:`reports.fonts`.

A table fpdf2 cannot lay out (too many columns for the page, a row taller than a page) would otherwise
abort the export; the renderer then starts over and prints that table as aligned text rows instead.
This is synchronous CPU work: call it through ``asyncio.to_thread``.
"""

from __future__ import annotations

from fpdf import FPDF
from fpdf.enums import XPos, YPos
from fpdf.errors import FPDFException
from fpdf.fonts import FontFace
from fpdf.util import Padding

from reports.document import (
    Block,
    CodeBlock,
    Document,
    Heading,
    ListBlock,
    Paragraph,
    Quote,
    Rule,
    Spans,
    Table,
    plain_text,
)
from reports.fonts import FontPlan, FontSet, discover

BODY_PT = 10.5
CODE_PT = 8.5
TABLE_PT = 9.0
HEADING_PT = {1: 18.0, 2: 15.0, 3: 13.0, 4: 11.5, 5: 11.0, 6: 10.5}
INDENT = 6.0  # mm per list / quote level
MAX_INDENT = 60.0  # deeper nesting stops indenting, so text always keeps room on the line
PT_TO_MM = 25.4 / 72
LINK_RGB = (20, 80, 180)
MIN_COL_MM = 14.0


def _line_height(size_pt: float) -> float:
    return size_pt * PT_TO_MM * 1.45


class _TableFailed(Exception):
    def __init__(self, index: int) -> None:
        super().__init__(index)
        self.index = index


class _ReportPDF(FPDF):
    def footer(self) -> None:
        self.set_y(-12)
        self.set_text_color(120)
        self.set_font(self.footer_font, "", 8)
        self.cell(0, 5, f"{self.page_no()} / {{nb}}", align="C")

    footer_font = "helvetica"


class _Renderer:
    def __init__(self, doc: Document, plan: FontPlan, text_tables: frozenset[int]) -> None:
        self.doc = doc
        self.text_tables = text_tables
        self.table_index = 0
        self.outline_level = -1
        self.text_gray = 0
        pdf = _ReportPDF(format="A4", unit="mm")
        pdf.set_margins(20, 18, 20)
        pdf.set_auto_page_break(True, margin=18)
        self.fonts = FontSet(pdf, plan)
        pdf.footer_font = self.fonts.body
        pdf.set_title(self.fonts.sanitize(doc.metadata_title))
        pdf.set_creator("clew")
        self.pdf = pdf
        self.base_margin = pdf.l_margin

    def render(self) -> bytes:
        pdf = self.pdf
        pdf.add_page()
        if self.doc.title:
            self.heading_text(self.doc.title, 1, size=HEADING_PT[1] + 3)
        self.blocks(self.doc.blocks, depth=0)
        return bytes(pdf.output())

    # --- blocks -------------------------------------------------------------------------------------

    def blocks(self, blocks: tuple[Block, ...], depth: int) -> None:
        for block in blocks:
            self.block(block, depth)

    def block(self, block: Block, depth: int) -> None:
        if isinstance(block, Heading):
            self.heading(block)
        elif isinstance(block, Paragraph):
            self.paragraph(block.spans)
        elif isinstance(block, CodeBlock):
            self.code(block.text)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, ListBlock):
            self.list_block(block, depth)
        elif isinstance(block, Quote):
            self.quote(block, depth)
        elif isinstance(block, Rule):
            self.rule()

    def heading(self, block: Heading) -> None:
        self.heading_text(plain_text(block.spans), block.level, size=HEADING_PT.get(block.level, BODY_PT))

    def heading_text(self, text: str, level: int, size: float) -> None:
        pdf = self.pdf
        pdf.set_x(pdf.l_margin)
        # Keep a heading with the first lines that follow it.
        if pdf.will_page_break(_line_height(size) + 3 * _line_height(BODY_PT)):
            pdf.add_page()
        pdf.ln(size * PT_TO_MM * 0.6)
        # Outline levels may only deepen one step at a time (fpdf2 enforces it); "## " right after "# "
        # is level 1, a "#### " straight after "## " is clamped to level 2.
        outline = min(level - 1, self.outline_level + 1)
        self.outline_level = outline
        clean = self.fonts.sanitize(text)
        pdf.start_section(clean or " ", level=max(outline, 0))
        pdf.set_font(self.fonts.body, "B", size)
        pdf.multi_cell(0, _line_height(size), clean, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(1.5)

    def paragraph(self, spans: Spans, size: float = BODY_PT, after: float = 2.5) -> None:
        self.spans(spans, size)
        self.pdf.ln(_line_height(size))
        self.pdf.ln(after)

    def spans(self, spans: Spans, size: float) -> None:
        pdf = self.pdf
        height = _line_height(size)
        for span in spans:
            if span.text == "\n":
                pdf.ln(height)
                continue
            style = ("B" if span.bold else "") + ("I" if span.italic else "")
            style += ("U" if span.link else "") + ("S" if span.strike else "")
            family = self.fonts.mono if span.code else self.fonts.body
            pdf.set_font(family, style, size - 1 if span.code else size)
            if span.link:
                pdf.set_text_color(*LINK_RGB)
            pdf.write(height, self.fonts.sanitize(span.text, mono=span.code), link=span.link or "")
            if span.link:
                pdf.set_text_color(self.text_gray)
        pdf.set_font(self.fonts.body, "", size)

    def code(self, text: str) -> None:
        pdf = self.pdf
        pdf.set_x(pdf.l_margin)
        pdf.set_font(self.fonts.mono, "", CODE_PT)
        pdf.set_fill_color(243, 243, 243)
        pdf.set_draw_color(220)
        pdf.multi_cell(
            0,
            _line_height(CODE_PT),
            self.fonts.sanitize(text, mono=True) or " ",
            border=1,
            fill=True,
            align="L",
            padding=Padding(top=1.5, right=2, bottom=1.5, left=2),
            new_x=XPos.LMARGIN,
            new_y=YPos.NEXT,
        )
        pdf.set_draw_color(0)
        pdf.ln(3)

    def list_block(self, block: ListBlock, depth: int) -> None:
        pdf = self.pdf
        saved = pdf.l_margin
        outer = min(saved, self.base_margin + MAX_INDENT)
        bullets = ("\u2022", "\u25e6", "\u25aa")
        for number, item in enumerate(block.items, start=block.start):
            if block.ordered:
                marker = f"{number}."
            else:
                bullet = bullets[depth % len(bullets)]
                marker = bullet if self.fonts.covers(bullet) else "-"
            pdf.set_font(self.fonts.body, "", BODY_PT)
            marker_w = max(INDENT, pdf.get_string_width(marker + " ") + 1)
            pdf.set_left_margin(outer)
            pdf.set_x(outer)
            pdf.cell(marker_w, _line_height(BODY_PT), marker)
            pdf.set_left_margin(outer + marker_w)
            rest = item
            if item and isinstance(item[0], Paragraph):
                self.paragraph(item[0].spans, after=0.8)  # the first paragraph continues after the marker
                rest = item[1:]
            else:
                pdf.ln(_line_height(BODY_PT))
            for sub in rest:
                self.block(sub, depth + 1)
            pdf.set_left_margin(outer)
        pdf.set_left_margin(saved)
        pdf.set_x(saved)
        if depth == 0:
            pdf.ln(1.5)

    def quote(self, block: Quote, depth: int) -> None:
        pdf = self.pdf
        outer = pdf.l_margin
        inner = min(outer + INDENT, self.base_margin + MAX_INDENT)
        pdf.set_left_margin(inner)
        pdf.set_x(inner)
        previous, self.text_gray = self.text_gray, 90
        pdf.set_text_color(self.text_gray)
        for sub in block.blocks:
            if isinstance(sub, Paragraph):
                self.spans(sub.spans, BODY_PT)
                pdf.ln(_line_height(BODY_PT) + 1.5)
            else:
                self.block(sub, depth)
        self.text_gray = previous
        pdf.set_text_color(previous)
        pdf.set_left_margin(outer)
        pdf.set_x(outer)

    def rule(self) -> None:
        pdf = self.pdf
        pdf.ln(2)
        pdf.set_draw_color(180)
        pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
        pdf.set_draw_color(0)
        pdf.ln(4)

    def table(self, block: Table) -> None:
        index = self.table_index
        self.table_index += 1
        columns = len(block.header)
        if columns == 0:
            return
        pdf = self.pdf
        pdf.set_x(pdf.l_margin)
        header = [self.fonts.sanitize(plain_text(cell)) for cell in block.header]
        rows = [[self.fonts.sanitize(plain_text(cell)) for cell in row] for row in block.rows]
        if index in self.text_tables or pdf.epw / columns < MIN_COL_MM:
            self.table_as_text(header, rows)
            return
        # Column widths follow content length, damped so one long column cannot squeeze the others.
        lengths = [max([len(header[i])] + [len(r[i]) for r in rows]) for i in range(columns)]
        widths = [min(max(n, 4), 40) + 6 for n in lengths]
        aligns = [{"center": "C", "right": "R"}.get(a or "", "L") for a in block.aligns]
        pdf.set_font(self.fonts.body, "", TABLE_PT)
        try:
            with pdf.table(
                col_widths=widths,
                text_align=tuple(aligns),
                line_height=_line_height(TABLE_PT),
                headings_style=FontFace(emphasis="BOLD", fill_color=(232, 232, 232)),
                padding=1.2,
                width=pdf.epw,
                align="LEFT",
            ) as table:
                for cells in [header, *rows]:
                    row = table.row()
                    for text in cells:
                        row.cell(text)
        except (FPDFException, ValueError) as exc:  # fpdf2 raises ValueError for a row taller than a page
            raise _TableFailed(index) from exc
        pdf.set_x(pdf.l_margin)
        pdf.ln(3)

    def table_as_text(self, header: list[str], rows: list[list[str]]) -> None:
        lines = [" | ".join(header), "-+-".join("-" * max(len(h), 3) for h in header)]
        lines += [" | ".join(row) for row in rows]
        self.code("\n".join(lines))


def render_pdf(doc: Document, plan: FontPlan | None = None) -> bytes:
    """Render ``doc`` to PDF bytes (blocking)."""
    plan = plan if plan is not None else discover()
    text_tables: set[int] = set()
    while True:
        try:
            return _Renderer(doc, plan, frozenset(text_tables)).render()
        except _TableFailed as failed:
            if failed.index in text_tables:  # cannot happen: a text table is a code block
                raise
            text_tables.add(failed.index)
