"""Page furniture in a PDF's text: running headers and footers, page numbers, table-of-contents lines.

No extractor removes these for us (see ``docs/research.md``, "Document conversion"): a line at the top or
bottom of a page that carries the page's printed number (found as the most common offset between page index
and edge numbers), lines that repeat at the top or bottom of many pages, and lines ending in leader dots
and a page number are blanked, so they are never quoted or glued to a sentence.
"""

from __future__ import annotations

import re
from collections import Counter

_EDGE_LINES = 2
_LEADER = re.compile(r"(?:\.\s?){4,}\s*[\divxlcIVXLC]+\s*$|\s\.{3,}\s*\d+\s*$")
_PAGE_NUMBER = re.compile(r"^(?:page\s+)?[\divxlc]{1,6}(?:\s*(?:of|/)\s*\d+)?$", re.IGNORECASE)
_EDGE_NUMBER = re.compile(r"^(\d{1,4})\b|\b(\d{1,4})$")


def norm(text: str) -> str:
    """Lower case, whitespace collapsed: how lines are compared."""
    return " ".join(text.lower().split())


def _edge_indices(lines: list[str]) -> list[int]:
    filled = [i for i, ln in enumerate(lines) if ln]
    return sorted(set(filled[:_EDGE_LINES] + filled[-_EDGE_LINES:]))


def _printed_offset(pages: list[list[str]]) -> int | None:
    """The most common (printed number - page index) among numbers at page edges, if it is common enough."""
    offsets: Counter[int] = Counter()
    for index, lines in enumerate(pages):
        seen: set[int] = set()
        for i in _edge_indices(lines):
            m = _EDGE_NUMBER.search(lines[i])
            for group in m.groups() if m else ():
                if group:
                    seen.add(int(group) - index)
        offsets.update(seen)
    if not offsets:
        return None
    offset, count = offsets.most_common(1)[0]
    return offset if count >= max(2, len(pages) // 4) else None


def _running_lines(pages: list[list[str]]) -> set[str]:
    """Edge lines (digits masked) that repeat on many pages: running headers and footers."""
    counts: Counter[str] = Counter()
    for lines in pages:
        counts.update({re.sub(r"\d+", "#", norm(lines[i])) for i in _edge_indices(lines)})
    threshold = 2 if len(pages) <= 4 else max(3, len(pages) // 3)
    return {key for key, n in counts.items() if n >= threshold}


def drop_furniture(pages: list[list[str]], titles: set[str]) -> list[list[str]]:
    offset = _printed_offset(pages)
    running = _running_lines(pages)
    out: list[list[str]] = []
    for index, lines in enumerate(pages):
        edges = set(_edge_indices(lines))
        kept: list[str] = []
        for i, line in enumerate(lines):
            if not line:
                kept.append("")
                continue
            if _LEADER.search(line):
                kept.append("")
                continue
            if i in edges and not any(norm(line).endswith(t) for t in titles):
                if _PAGE_NUMBER.match(line) or re.sub(r"\d+", "#", norm(line)) in running:
                    kept.append("")
                    continue
                if offset is not None and len(line) < 90:
                    m = _EDGE_NUMBER.search(line)
                    if m and any(g and int(g) == index + offset for g in m.groups()):
                        kept.append("")
                        continue
            kept.append(line)
        out.append(kept)
    return out
