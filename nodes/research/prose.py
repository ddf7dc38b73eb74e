"""A document's prose for the offline engine: no code blocks, diagrams or markdown markers; tables as rows.

The offline engine quotes sentences (:mod:`providers.offline`); a research branch with no ``fast`` model
configured cleans each document with :func:`prose_text` first, so that a quoted code fence or box-drawing
diagram never reaches a report. A Markdown table's rows become sentences naming their columns
(:func:`providers.offline.sentences.table_rows`): a question about a table's values is answered by its row.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from providers.offline.sentences import table_rows

_FENCE = re.compile(r"^\s*(```|~~~)")
# Box-drawing and block characters only appear in diagrams; arrows and geometric shapes also appear in prose
# ("topic → research → done"), so a line with them is a drawing only when they outnumber its words.
_BOX_DRAWING = re.compile(r"[\u2500-\u259f]")
_SYMBOLS = re.compile(r"[\u2190-\u21ff\u25a0-\u25ff]")
_WORD = re.compile(r"[^\W\d_]{2,}")
# A list item's bold run-in label ("**Human review of the outline.** When …") is a heading, not a sentence.
_RUN_IN = re.compile(r"^\*\*[^*\n]{1,120}?[.:]\*\*\s*")
_LINK = re.compile(r"!?\[([^\]]*)\]\([^)]*\)")
_MARKUP = re.compile(r"^\s{0,3}(#{1,6}\s+|>\s?)")
# A list item's marker goes, but the item stays a block of its own; a line "100. …" that ends the previous
# line's sentence is not an item ("the maximum is\n100."). Stripping every marker and keeping the lines
# together joined list items into one sentence and deleted that number.
_ITEM = re.compile(r"^\s{0,3}(?:[-*+•]|\d{1,3}[.)])\s+")


def _starts_in_code(fences: Sequence[str]) -> bool:
    """Whether a chunk starts inside a code block opened in the previous chunk.

    Read from its fences: one with a language (```bash) always opens a block, so reading the chunk as
    starting outside code must never meet such a fence while inside a block, and must end outside one
    unless the last fence opens a block. Otherwise the chunk started inside code.
    """
    inside = False
    for fence in fences:
        if inside and fence not in ("```", "~~~"):
            return True
        inside = not inside
    return inside and bool(fences) and fences[-1] in ("```", "~~~")


def _inline(text: str) -> str:
    """``text`` without inline markup: links keep their text, code and bold markers go."""
    return _LINK.sub(r"\1", text).replace("`", "").replace("**", "").strip()


def _is_drawing(line: str) -> bool:
    """Whether a line is (part of) a diagram: box drawing, or more arrows and shapes than words."""
    if _BOX_DRAWING.search(line):
        return True
    symbols = len(_SYMBOLS.findall(line))
    return symbols > 0 and symbols > len(_WORD.findall(line))


def prose_text(text: str) -> str:
    """A document's prose for the offline engine: no code blocks, diagrams, tables or markdown markers.

    The offline engine quotes sentences; a quoted code fence or box-drawing diagram would be noise in a
    report (and an unbalanced fence would swallow the rest of it). Headings and a list item's bold run-in label
    are labels, not sentences: dropped. A line of prose that holds arrows stays (dropping it would cut its
    sentence in two).
    """
    out: list[str] = []
    lines = text.splitlines()
    fences = [ln.strip() for ln in lines if _FENCE.match(ln)]
    in_code = _starts_in_code(fences)
    in_list = False
    table: list[str] = []

    def end_table() -> None:
        rows = table_rows([_inline(line) for line in table]) or []
        out.extend(part for row in rows for part in ("", row, ""))
        out.extend("" for _ in range(len(table) - len(rows)))
        table.clear()

    for line in lines:
        if not in_code and line.lstrip().startswith("|"):
            table.append(line)
            continue
        if table:
            end_table()
        if _FENCE.match(line):
            in_code = not in_code
            out.append("")
            continue
        if in_code or _is_drawing(line):
            out.append("")
            continue
        if line.lstrip().startswith("#"):
            out.append("")  # a heading is a label, not a sentence to quote
            continue
        line = _MARKUP.sub("", line)
        item = _ITEM.match(line)
        number = item.group(0).strip()[:-1] if item else ""
        if number.isdigit() and number != "1" and out and out[-1] and not in_list:
            # "100. Use …" right after a line that did not end a sentence ends that sentence: not an item
            # (a list starts at 1, or after a line that ended a sentence)
            if not out[-1].endswith((".", ":", ";", "!", "?")):
                item = None
        if item:
            out.append("")  # an item is a block of its own: its sentence never runs into the next item's
            in_list = True
        elif not line.strip():
            in_list = False
        line = _RUN_IN.sub("", line[item.end():] if item else line.lstrip())  # a run-in label goes
        out.append(_inline(line))
    if table:
        end_table()
    return re.sub(r"\n{3,}", "\n\n", "\n".join(out)).strip()
