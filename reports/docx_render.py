"""Render a parsed report (:mod:`reports.document`) to DOCX bytes with python-docx.

Headings use Word's built-in "Heading N" styles (so they appear in Word's navigation pane and a table of
contents), lists use "List Bullet N" / "List Number N", tables are real Word tables ("Table Grid", header
row repeated on each page), fenced code becomes monospace paragraphs in a "Code Block" style on a grey
background, quotes use "Quote". Links are kept as text: the link text, styled like a link, followed by the
URL in brackets (added by the parser).

python-docx has no API to restart a numbered list, set paragraph shading or borders, or mark a header row,
so those few bits are written as WordprocessingML elements here. This is synchronous CPU work: call it through
``asyncio.to_thread``.
"""

from __future__ import annotations

import io

from docx import Document as new_document
from docx.document import Document as DocxDocument
from docx.enum.style import WD_STYLE_TYPE
from docx.enum.text import WD_ALIGN_PARAGRAPH
from docx.oxml import OxmlElement
from docx.oxml.ns import qn
from docx.oxml.xmlchemy import BaseOxmlElement
from docx.shared import Pt, RGBColor
from docx.table import _Cell
from docx.text.paragraph import Paragraph as DocxParagraph

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
)

MONO_FONT = "Courier New"
CODE_STYLE = "Code Block"
LINK_RGB = RGBColor(0x14, 0x50, 0xB4)
_ALIGN = {
    "left": WD_ALIGN_PARAGRAPH.LEFT,
    "center": WD_ALIGN_PARAGRAPH.CENTER,
    "right": WD_ALIGN_PARAGRAPH.RIGHT,
}


def _add_spans(paragraph: DocxParagraph, spans: Spans, bold: bool = False) -> None:
    for span in spans:
        if span.text == "\n":
            paragraph.add_run().add_break()
            continue
        run = paragraph.add_run(span.text)
        run.bold = span.bold or bold or None
        run.italic = span.italic or None
        if span.strike:
            run.font.strike = True
        if span.code:
            run.font.name = MONO_FONT
        if span.link:
            run.font.underline = True
            run.font.color.rgb = LINK_RGB


def _shading(fill: str) -> BaseOxmlElement:
    shd = OxmlElement("w:shd")
    shd.set(qn("w:val"), "clear")
    shd.set(qn("w:color"), "auto")
    shd.set(qn("w:fill"), fill)
    return shd


def _bottom_border(paragraph: DocxParagraph) -> None:
    borders = OxmlElement("w:pBdr")
    bottom = OxmlElement("w:bottom")
    for key, value in (("w:val", "single"), ("w:sz", "6"), ("w:space", "1"), ("w:color", "AAAAAA")):
        bottom.set(qn(key), value)
    borders.append(bottom)
    paragraph._p.get_or_add_pPr().append(borders)


class _Renderer:
    def __init__(self, doc: Document) -> None:
        self.doc = doc
        self.word: DocxDocument = new_document()
        self.word.core_properties.title = doc.metadata_title
        self.word.core_properties.author = "clew"
        self._code_style()

    def _code_style(self) -> None:
        style = self.word.styles.add_style(CODE_STYLE, WD_STYLE_TYPE.PARAGRAPH)
        style.base_style = self.word.styles["Normal"]
        style.font.name = MONO_FONT
        style.font.size = Pt(9)
        fmt = style.paragraph_format
        fmt.space_before = Pt(2)
        fmt.space_after = Pt(8)
        fmt.line_spacing = 1.0
        style.element.get_or_add_pPr().append(_shading("F2F2F2"))

    def render(self) -> bytes:
        if self.doc.title:
            self.word.add_paragraph(self.doc.title, style="Title")
        for block in self.doc.blocks:
            self.block(block, depth=0)
        out = io.BytesIO()
        self.word.save(out)
        return out.getvalue()

    def block(self, block: Block, depth: int) -> None:
        word = self.word
        if isinstance(block, Heading):
            _add_spans(word.add_paragraph(style=f"Heading {min(max(block.level, 1), 9)}"), block.spans)
        elif isinstance(block, Paragraph):
            # Inside a list item, later paragraphs align with the item's text.
            style = (
                None if depth == 0 else "List Continue" if depth == 1 else f"List Continue {min(depth, 3)}"
            )
            _add_spans(word.add_paragraph(style=style), block.spans)
        elif isinstance(block, CodeBlock):
            word.add_paragraph(block.text.replace("\t", "    "), style=CODE_STYLE)
        elif isinstance(block, Table):
            self.table(block)
        elif isinstance(block, ListBlock):
            self.list_block(block, depth)
        elif isinstance(block, Quote):
            for sub in block.blocks:
                if isinstance(sub, Paragraph):
                    _add_spans(word.add_paragraph(style="Quote"), sub.spans)
                else:
                    self.block(sub, depth)
        elif isinstance(block, Rule):
            _bottom_border(word.add_paragraph())

    def list_block(self, block: ListBlock, depth: int) -> None:
        level = min(depth + 1, 3)
        suffix = "" if level == 1 else f" {level}"
        style = ("List Number" if block.ordered else "List Bullet") + suffix
        num_id = self._restart(style, block.start) if block.ordered else None
        for item in block.items:
            rest = item
            if item and isinstance(item[0], Paragraph):
                paragraph = self.word.add_paragraph(style=style)
                _add_spans(paragraph, item[0].spans)
                rest = item[1:]
            else:
                paragraph = self.word.add_paragraph(style=style)
            if num_id is not None:
                num_pr = paragraph._p.get_or_add_pPr().get_or_add_numPr()
                num_pr.get_or_add_ilvl().val = 0
                num_pr.get_or_add_numId().val = num_id
            for sub in rest:
                self.block(sub, depth + 1)

    def _restart(self, style: str, start: int) -> int | None:
        """A new numbering instance for one ordered list, so each list counts from its own start."""
        try:
            numbering = self.word.part.numbering_part.element
            style_num = self.word.styles[style].element.pPr.numPr.numId.val
            abstract = numbering.num_having_numId(style_num).abstractNumId.val
        except (AttributeError, KeyError):
            return None
        num = numbering.add_num(abstract)
        num.add_lvlOverride(ilvl=0).add_startOverride(max(start, 0))
        return int(num.numId)

    def table(self, block: Table) -> None:
        columns = len(block.header)
        if columns == 0:
            return
        table = self.word.add_table(rows=1 + len(block.rows), cols=columns)
        table.style = self.word.styles["Table Grid"]
        header_row = table.rows[0]
        header_row._tr.get_or_add_trPr().append(OxmlElement("w:tblHeader"))
        for r, cells in enumerate([block.header, *block.rows]):
            for c, spans in enumerate(cells):
                cell: _Cell = table.cell(r, c)
                paragraph = cell.paragraphs[0]
                _add_spans(paragraph, spans, bold=r == 0)
                align = block.aligns[c] if c < len(block.aligns) else None
                if align:
                    paragraph.alignment = _ALIGN[align]
                if r == 0:
                    cell._tc.get_or_add_tcPr().append(_shading("E8E8E8"))
        self.word.add_paragraph()  # keeps the next table, if any, from merging into this one


def render_docx(doc: Document) -> bytes:
    """Render ``doc`` to DOCX bytes (blocking)."""
    return _Renderer(doc).render()
