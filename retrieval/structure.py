"""A document as structured blocks: each paragraph, list, table or definition with its heading path and page.

Every converter (:mod:`retrieval.extract`) ends here, so chunking and citations see one shape whatever the
file was. Markdown is the common intermediate form (the converters for DOCX, HTML, PPTX, XLSX, CSV and EPUB
write it; Markdown files are it): :func:`markdown_blocks` reads it with markdown-it-py (CommonMark, tables,
and definition lists through ``mdit-py-plugins``) and cuts it at block boundaries, so a table or a list is
never split from its rows or items at this stage and a definition's term stays with its description.

Blocks that are navigation or a table of contents are dropped (they are not content); legal front matter
(copyright and licence notices) is kept but flagged, so search can still find it while the report writer
never quotes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from providers.offline.sentences import LEGAL_NOTICE

BlockKind = Literal["paragraph", "list", "table", "definition", "code", "quote"]

_NAV_LINE = re.compile(r"^\s*(?:\*\*)?(?:next|previous|prev|up|home)(?:\*\*)?\s*[:|]", re.IGNORECASE)
_TOC_HEADING = re.compile(r"^(?:table of )?contents$|^目录$", re.IGNORECASE)
_TOC_LABEL = re.compile(r"^\W*(?:table of )?contents\W*$|^\W*目录\W*$", re.IGNORECASE)
_SIGNATURE_NAME = re.compile(r"([A-Za-z_][\w.:]*)\s*\(")
_LEADER_LINE = re.compile(r"(?:\.\s?){4,}\s*[\divxlc]+\s*$", re.IGNORECASE)
_ANCHOR_LINK = re.compile(r"\[[^\]]*\]\((?:#[^)]*|[^)]*\.html?(?:#[^)]*)?)\)")


@dataclass(slots=True)
class Block:
    """One block of a document.

    ``text`` is its markdown (a definition is ``term\\n:   description``); ``headings`` the titles of the
    sections it is in, outermost first; ``page`` the 1-based page it starts on (paged formats only) and
    ``end_page`` the one it ends on;
    ``term`` the defined term of a definition; ``front_matter`` marks copyright and licence notices.
    """

    text: str
    headings: tuple[str, ...] = ()
    page: int | None = None
    kind: BlockKind = "paragraph"
    term: str | None = None
    front_matter: bool = False
    end_page: int | None = None  # the page it ends on, when it runs over a page break
    # where in ``text`` each later page begins, as (character offset, page), for a block over a page break
    page_breaks: tuple[tuple[int, int], ...] = ()


def is_front_matter(text: str) -> bool:
    """Whether a block is a copyright or licence notice."""
    return LEGAL_NOTICE.search(text) is not None


def is_navigation(text: str) -> bool:
    """Whether a block is navigation (``Next: … Up: …``) or a table-of-contents entry list."""
    lines = [ln for ln in text.splitlines() if ln.strip()]
    if not lines:
        return True
    if len(lines) == 1 and _TOC_LABEL.match(lines[0]):
        return True
    if all(_NAV_LINE.match(ln) or _LEADER_LINE.search(ln) for ln in lines):
        return True
    # A list whose every item is only a link to a page or an anchor is a table of contents.
    items = [re.sub(r"^\s*(?:[-*+]|\d+[.)])\s+", "", ln).strip() for ln in lines]
    stripped = [_ANCHOR_LINK.sub("", it).strip(" .\\") for it in items]
    return len(items) >= 2 and all(not s or re.fullmatch(r"[\d.\s]*", s) for s in stripped)


def _inline_text(content: str) -> str:
    text = re.sub(r"!?\[([^\]]*)\]\([^)]*\)", r"\1", content)
    text = re.sub(r"[*`]+", "", text)
    text = text.replace("\\", "")
    return " ".join(text.split()).strip(" #")


def markdown_blocks(markdown: str, *, page: int | None = None) -> list[Block]:
    """The blocks of a markdown text with their heading paths (``page`` is given to every block)."""
    from markdown_it import MarkdownIt
    from mdit_py_plugins.deflist import deflist_plugin

    md = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).use(deflist_plugin)
    lines = markdown.splitlines()
    tokens = md.parse(markdown)
    out: list[Block] = []
    path: list[tuple[int, str]] = []
    in_toc_level: int | None = None

    def source(span: list[int] | None) -> str:
        if span is None:
            return ""
        return "\n".join(lines[span[0] : span[1]]).strip()

    def add(text: str, kind: BlockKind, term: str | None = None) -> None:
        text = text.strip()
        if not text or in_toc_level is not None or is_navigation(text):
            return
        out.append(
            Block(
                text=text,
                headings=tuple(t for _, t in path),
                page=page,
                kind=kind,
                term=term,
                front_matter=is_front_matter(text),
            )
        )

    i = 0
    while i < len(tokens):
        tok = tokens[i]
        if tok.level != 0:
            i += 1
            continue
        kind_map: dict[str, BlockKind] = {
            "paragraph_open": "paragraph",
            "bullet_list_open": "list",
            "ordered_list_open": "list",
            "table_open": "table",
            "blockquote_open": "quote",
        }
        if tok.type == "heading_open":
            level = int(tok.tag[1:])
            title = _inline_text(tokens[i + 1].content)
            if in_toc_level is not None and level <= in_toc_level:
                in_toc_level = None
            while path and path[-1][0] >= level:
                path.pop()
            if _TOC_HEADING.match(title):
                in_toc_level = level
            elif title:
                path.append((level, title))
        elif tok.type == "fence":
            add(source(tok.map), "code")
        elif tok.type == "code_block":
            # An indented block is fenced like a fenced one, so a reader of the text still knows it is code
            # (its first line would otherwise lose its indentation and read as prose).
            add(f"```\n{tok.content.rstrip()}\n```", "code")
        elif tok.type == "dl_open":
            term: str | None = None
            raw = name = ""
            j = i + 1
            while j < len(tokens) and not (tokens[j].type == "dl_close" and tokens[j].level == 0):
                t = tokens[j]
                if t.type == "dt_open":
                    raw = re.sub(r"\\(.)", r"\1", tokens[j + 1].content).strip()
                    term = _inline_text(tokens[j + 1].content)
                    signature = _SIGNATURE_NAME.search(term) if "(" in term and ")" in term else None
                    name = signature.group(1) if signature else term
                elif t.type == "dd_open" and term is not None:
                    # The description's own blocks (its paragraphs, lists, code), read from their tokens.
                    texts: list[str] = []
                    k = j + 1
                    while k < len(tokens) and not (
                        tokens[k].type == "dd_close" and tokens[k].level == t.level
                    ):
                        inner = tokens[k]
                        if inner.type == "inline" and inner.level == t.level + 2:
                            texts.append(inner.content)
                        elif inner.type in ("fence", "code_block"):
                            texts.append(inner.content.rstrip())
                        k += 1
                    description = "\n".join(
                        ln.strip() for tx in texts for ln in tx.splitlines() if ln.strip()
                    )
                    add(f"{raw}\n:   {description}", "definition", name)
                    j = k
                j += 1
            i = j
        elif tok.type in kind_map:
            add(source(tok.map), kind_map[tok.type])
        i += 1
    return mark_front_matter(out)


def mark_front_matter(blocks: list[Block]) -> list[Block]:
    """Flag the blocks before a document's first heading (title page, authors, notices) as front matter.

    Only in documents that have headings at all: a plain text with none has no front matter to tell apart.
    """
    first = next((i for i, b in enumerate(blocks) if b.headings), None)
    if first is not None:
        for b in blocks[:first]:
            b.front_matter = True
    return blocks


def blocks_text(blocks: list[Block]) -> tuple[str, list[int]]:
    """The blocks as one markdown text (headings written where they change) and each block's offset."""
    parts: list[str] = []
    offsets: list[int] = []
    offset = 0
    current: tuple[str, ...] = ()
    for b in blocks:
        if b.headings != current:
            common = 0
            while common < min(len(current), len(b.headings)) and current[common] == b.headings[common]:
                common += 1
            for depth in range(common, len(b.headings)):
                line = f"{'#' * min(depth + 1, 6)} {b.headings[depth]}"
                parts.append(line)
                offset += len(line) + 2
            current = b.headings
        offsets.append(offset)
        parts.append(b.text)
        offset += len(b.text) + 2
    return "\n\n".join(parts), offsets
