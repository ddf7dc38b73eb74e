"""Parse a markdown report into a small block model that the PDF and DOCX renderers share.

Reports are written as markdown (CommonMark plus GFM tables and strikethrough). Both export formats need
the same structure (headings, paragraphs with bold/italic/code/link spans, nested lists, tables, fenced code,
quotes, rules), so the markdown is parsed once here with markdown-it-py and each renderer walks the
resulting blocks instead of re-interpreting tokens or HTML. Raw HTML is disabled: it is shown as text, which
keeps a report from injecting markup into an export.

The walker over markdown-it's token stream is our own code because markdown-it-py ships only an HTML
renderer, and fpdf2's HTML support cannot take formatted text inside table cells.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field, replace
from typing import Literal

from markdown_it import MarkdownIt
from markdown_it.token import Token

Align = Literal["left", "center", "right"]

# Characters XML 1.0 forbids (C0 controls except tab/newline/CR, lone surrogates, U+FFFE/U+FFFF).
# python-docx refuses them and they have no meaning in a report, so they are dropped on input.
_XML_INVALID = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def clean_text(text: str) -> str:
    """Drop characters no document format can hold (NUL and other C0 controls, lone surrogates)."""
    return _XML_INVALID.sub("", text)


@dataclass(frozen=True, slots=True)
class Span:
    """A run of inline text with one set of styles; ``"\\n"`` as text is a hard line break."""

    text: str
    bold: bool = False
    italic: bool = False
    strike: bool = False
    code: bool = False
    link: str | None = None


Spans = tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Heading:
    level: int
    spans: Spans


@dataclass(frozen=True, slots=True)
class Paragraph:
    spans: Spans


@dataclass(frozen=True, slots=True)
class CodeBlock:
    text: str
    language: str = ""


@dataclass(frozen=True, slots=True)
class Table:
    header: tuple[Spans, ...]
    rows: tuple[tuple[Spans, ...], ...]
    aligns: tuple[Align | None, ...]


@dataclass(frozen=True, slots=True)
class ListBlock:
    ordered: bool
    start: int
    items: tuple[tuple[Block, ...], ...]


@dataclass(frozen=True, slots=True)
class Quote:
    blocks: tuple[Block, ...]


@dataclass(frozen=True, slots=True)
class Rule:
    pass


Block = Heading | Paragraph | CodeBlock | Table | ListBlock | Quote | Rule


@dataclass(frozen=True, slots=True)
class Document:
    """A parsed report: its blocks and the title to show above them (None when it already opens with one)."""

    blocks: tuple[Block, ...]
    title: str | None = None
    metadata_title: str = "Report"


def plain_text(spans: Spans) -> str:
    """The spans' text without styling (hard breaks become spaces)."""
    return "".join(" " if s.text == "\n" else s.text for s in spans).strip()


def _parser() -> MarkdownIt:
    return MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"])


_MD = _parser()


@dataclass
class _Style:
    bold: int = 0
    italic: int = 0
    strike: int = 0
    links: list[str] = field(default_factory=list)


def _inline(token: Token) -> Spans:
    """Turn an inline token's children into spans; a link's URL follows its text unless they are equal."""
    spans: list[Span] = []
    style = _Style()
    link_start = 0

    def emit(text: str, code: bool = False) -> None:
        if not text:
            return
        spans.append(
            Span(
                text=text,
                bold=style.bold > 0,
                italic=style.italic > 0,
                strike=style.strike > 0,
                code=code,
                link=style.links[-1] if style.links else None,
            )
        )

    for child in token.children or []:
        kind = child.type
        if kind in ("text", "text_special", "html_inline"):
            emit(child.content)
        elif kind == "softbreak":
            emit(" ")
        elif kind == "hardbreak":
            emit("\n")
        elif kind == "code_inline":
            emit(child.content, code=True)
        elif kind == "strong_open":
            style.bold += 1
        elif kind == "strong_close":
            style.bold -= 1
        elif kind == "em_open":
            style.italic += 1
        elif kind == "em_close":
            style.italic -= 1
        elif kind == "s_open":
            style.strike += 1
        elif kind == "s_close":
            style.strike -= 1
        elif kind == "link_open":
            style.links.append(str(child.attrs.get("href", "")))
            link_start = len(spans)
        elif kind == "link_close":
            href = style.links.pop() if style.links else ""
            label = plain_text(tuple(spans[link_start:]))
            # Keep the URL visible in print and in Word, where the link is plain text.
            if href and label != href and not href.startswith("#") and href != f"mailto:{label}":
                spans.append(Span(text=f" ({href})", link=href))
        elif kind == "image":
            alt = child.content or "".join(c.content for c in child.children or [])
            src = str(child.attrs.get("src", ""))
            emit(f"[image: {alt or src}]")
    return tuple(_merge(spans))


def _merge(spans: list[Span]) -> list[Span]:
    """Join neighbouring spans with identical styles (fewer runs in the DOCX, fewer font switches in PDF)."""
    out: list[Span] = []
    for span in spans:
        if (
            out
            and span.text != "\n"
            and out[-1].text != "\n"
            and replace(out[-1], text="") == replace(span, text="")
        ):
            out[-1] = replace(out[-1], text=out[-1].text + span.text)
        else:
            out.append(span)
    return out


def _align(token: Token) -> Align | None:
    style = str(token.attrs.get("style", ""))
    for value in ("left", "center", "right"):
        if f"text-align:{value}" in style:
            return value  # type: ignore[return-value]
    return None


class _Walker:
    """Recursive descent over markdown-it's flat token list (nesting is marked by *_open/*_close pairs)."""

    def __init__(self, tokens: list[Token]) -> None:
        self.tokens = tokens
        self.pos = 0

    def blocks(self, close: str | None = None) -> tuple[Block, ...]:
        out: list[Block] = []
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if close is not None and tok.type == close:
                self.pos += 1
                break
            block = self.block(tok)
            if block is not None:
                out.append(block)
        return tuple(out)

    def block(self, tok: Token) -> Block | None:
        kind = tok.type
        if kind == "heading_open":
            level = int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1
            spans = _inline(self.tokens[self.pos + 1])
            self.pos += 3
            return Heading(level=level, spans=spans)
        if kind == "paragraph_open":
            spans = _inline(self.tokens[self.pos + 1])
            self.pos += 3
            return Paragraph(spans=spans) if spans else None
        if kind in ("fence", "code_block"):
            self.pos += 1
            language = tok.info.strip().split(" ", 1)[0] if tok.info else ""
            return CodeBlock(text=tok.content.rstrip("\n"), language=language)
        if kind in ("bullet_list_open", "ordered_list_open"):
            ordered = kind == "ordered_list_open"
            start = int(tok.attrs.get("start", 1) or 1) if ordered else 1
            close = kind.replace("_open", "_close")
            self.pos += 1
            items: list[tuple[Block, ...]] = []
            while self.pos < len(self.tokens) and self.tokens[self.pos].type != close:
                if self.tokens[self.pos].type == "list_item_open":
                    self.pos += 1
                    items.append(self.blocks("list_item_close"))
                else:
                    self.pos += 1
            self.pos += 1
            return ListBlock(ordered=ordered, start=start, items=tuple(items))
        if kind == "blockquote_open":
            self.pos += 1
            return Quote(blocks=self.blocks("blockquote_close"))
        if kind == "hr":
            self.pos += 1
            return Rule()
        if kind == "table_open":
            return self.table()
        if kind == "html_block":  # only reachable if HTML is ever enabled: show it as code
            self.pos += 1
            return CodeBlock(text=tok.content.rstrip("\n"))
        self.pos += 1
        return None

    def table(self) -> Table:
        header: list[Spans] = []
        aligns: list[Align | None] = []
        rows: list[tuple[Spans, ...]] = []
        row: list[Spans] = []
        self.pos += 1
        while self.pos < len(self.tokens):
            tok = self.tokens[self.pos]
            if tok.type == "table_close":
                self.pos += 1
                break
            if tok.type == "th_open":
                aligns.append(_align(tok))
                header.append(_inline(self.tokens[self.pos + 1]))
                self.pos += 3
                continue
            if tok.type == "td_open":
                row.append(_inline(self.tokens[self.pos + 1]))
                self.pos += 3
                continue
            if tok.type == "tr_close" and row:
                rows.append(tuple(row))
                row = []
            self.pos += 1
        width = len(header)
        fitted = tuple(tuple((list(r) + [()] * width)[:width]) for r in rows)
        return Table(header=tuple(header), rows=fitted, aligns=tuple(aligns))


def parse(markdown: str, title: str | None = None) -> Document:
    """Parse a report; ``title`` is shown on top unless the report already starts with a level-1 heading."""
    text = unicodedata.normalize("NFC", clean_text(markdown))
    blocks = _Walker(_MD.parse(text)).blocks()
    first = blocks[0] if blocks else None
    leading_h1 = isinstance(first, Heading) and first.level == 1
    clean_title = " ".join(clean_text(title).split()) if title else None
    shown = clean_title if clean_title and not leading_h1 else None
    if clean_title:
        meta = clean_title
    elif isinstance(first, Heading):
        meta = plain_text(first.spans) or "Report"
    else:
        meta = "Report"
    # DOCX core properties hold at most 255 characters.
    return Document(blocks=blocks, title=shown, metadata_title=meta[:200])
