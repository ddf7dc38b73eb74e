"""Citation integrity: every inline ``[n]`` in a report must point at a source stored in the run's state.

A writer (a model, or the offline engine) cites sources by number. A number with no stored source is a
fabricated citation, and a report that has one fails its quality check. :func:`check_citations` compares the
numbers a report cites with the numbers of the run's sources and says which citations are missing and
which sources went uncited.

What counts as a citation (in the report's prose, table cells and headings):

- ``[3]``; lists ``[1, 2]`` / ``[1,2]`` / ``[1; 2]``; ranges ``[1-3]`` / ``[1–3]`` (en dash), also mixed
  ``[1, 4-6]``; adjacent groups ``[1][3]`` are two citations. Whitespace inside the brackets is allowed.
- Numbers have at most 3 digits, so a bracketed year such as ``[2024]`` or ``[2019-2024]`` is not read as a
  citation; a range must go upwards and span at most 100 numbers (``[3-1]`` is not a citation).

What does not count:

- markdown links and images, ``[text](url)``, including ``[1](url)``: they point at their URL, not at a
  source number;
- code spans and code blocks;
- the sources list itself: everything under a heading named Sources / References / Bibliography /
  Citations / Works cited (or 参考文献, 参考资料, 来源, 引用, ...) up to the next heading of the same or a
  higher level, and everything after a paragraph that consists only of such a label (``**Sources:**``);
- reference-style definition lines ``[1]: https://...``;
- footnotes ``[^1]`` and full-width brackets ``【1】`` (not a citation syntax clew's writers use).

The check parses the markdown with markdown-it-py (rather than a regex over the raw text) so that code and
links are recognised exactly as a renderer would see them. It is pure CPU work on a report-sized string and
fast enough to call inline.

:class:`CitationNumbering` is the other side: how a writer that assembles a report itself (the offline
engine, the offline research report) numbers its sources -- in order of first citation, over the sources it
was given only.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, Protocol, TypeVar

from markdown_it import MarkdownIt
from markdown_it.token import Token
from pydantic import BaseModel, ConfigDict

MAX_RANGE = 100
_STYLE_MARKS = frozenset({"strong_open", "strong_close", "em_open", "em_close", "s_open", "s_close"})

# Reference definitions are disabled so "[1]: url" stays text we can recognise (and skip), and a body
# "[1]" never turns into a link just because a definition for it exists.
_MD = MarkdownIt("commonmark", {"html": False}).enable(["table", "strikethrough"]).disable("reference")

_NUM = r"(?<!\d)\d{1,3}(?!\d)"
_PART = rf"{_NUM}(?:\s*[-\u2013\u2014]\s*{_NUM})?"
_CITATION = re.compile(rf"\[\s*({_PART}(?:\s*[,;]\s*{_PART})*)\s*\](?!\()")
_DEFINITION = re.compile(rf"^\s*\[\s*{_NUM}\s*\]:")
_SOURCES_LABEL = re.compile(
    r"^(?:\d+[.)]?\s*)?"
    r"(?:sources?|references?|reference list|bibliography|citations?|works cited|sources cited|"
    r"参考文献|参考资料|参考来源|资料来源|信息来源|来源|引用|引用来源|出处)"
    r"\s*[:：]?$",
    re.IGNORECASE,
)


class CitationCheck(BaseModel):
    """The outcome of a citation check; ``ok`` is False when any cited number has no source."""

    model_config = ConfigDict(frozen=True)

    ok: bool
    cited: list[int]
    missing: list[int]
    uncited_sources: list[int]


def _expand(group: str) -> list[int] | None:
    numbers: list[int] = []
    for part in re.split(r"\s*[,;]\s*", group.strip()):
        bounds = [int(n) for n in re.split(r"\s*[-\u2013\u2014]\s*", part)]
        if len(bounds) == 1:
            numbers.append(bounds[0])
            continue
        low, high = bounds
        if high < low or high - low > MAX_RANGE:
            return None
        numbers.extend(range(low, high + 1))
    return numbers


def _numbers_in(text: str) -> list[int]:
    found: list[int] = []
    for line in text.split("\n"):
        if _DEFINITION.match(line):
            continue
        for match in _CITATION.finditer(line):
            numbers = _expand(match.group(1))
            if numbers is not None:
                found.extend(numbers)
    return found


def _prose(inline: Token) -> list[str]:
    """The inline token's text outside links, images and code, split where those interrupt it."""
    pieces: list[str] = []
    current: list[str] = []
    in_link = 0
    for child in inline.children or []:
        kind = child.type
        if kind == "link_open":
            in_link += 1
        elif kind == "link_close":
            in_link = max(in_link - 1, 0)
        elif in_link or kind in _STYLE_MARKS:
            continue
        elif kind in ("text", "text_special", "html_inline"):
            current.append(child.content)
            continue
        elif kind in ("softbreak", "hardbreak"):
            current.append("\n")
            continue
        # Link boundaries, code spans and images separate text: "[`1`]" is no citation.
        pieces.append("".join(current))
        current = []
    pieces.append("".join(current))
    return [p for p in pieces if p]


def _is_sources_label(inline: Token) -> bool:
    text = "".join(c.content for c in inline.children or [] if c.type in ("text", "code_inline"))
    return bool(_SOURCES_LABEL.match(text.strip().strip("*_ ").strip()))


def find_citations(markdown: str) -> list[int]:
    """Every source number cited in ``markdown``, sorted and without repeats."""
    tokens = _MD.parse(markdown)
    cited: set[int] = set()
    skip_until_level: int | None = None  # inside a sources section: skip until a heading this high
    for i, tok in enumerate(tokens):
        if tok.type == "heading_open":
            level = int(tok.tag[1:]) if tok.tag[1:].isdigit() else 1
            if skip_until_level is not None and level <= skip_until_level:
                skip_until_level = None
            if skip_until_level is None and i + 1 < len(tokens) and _is_sources_label(tokens[i + 1]):
                skip_until_level = level
            continue
        if skip_until_level is not None or tok.type != "inline":
            continue
        if tokens[i - 1].type == "paragraph_open" and _is_sources_label(tok):
            skip_until_level = 6  # a bare "Sources:" paragraph: the list runs to the next heading
            continue
        for piece in _prose(tok):
            cited.update(_numbers_in(piece))
    return sorted(cited)


def source_numbers(sources: Iterable[Any] | Mapping[Any, Any]) -> set[int]:
    """The numbers of the stored sources.

    Accepts what a run's state may hold: a list of mappings or objects carrying ``n`` (or ``index``), a
    list of ints, or a mapping keyed by number. An item without a number counts as its 1-based position.
    """
    if isinstance(sources, Mapping):
        return {int(key) for key in sources}
    numbers: set[int] = set()
    for position, source in enumerate(sources, start=1):
        if isinstance(source, int) and not isinstance(source, bool):
            numbers.add(source)
            continue
        if isinstance(source, Mapping):
            value = source.get("n", source.get("index"))
        else:
            value = getattr(source, "n", None)
            if value is None:
                value = getattr(source, "index", None)
        numbers.add(position if value is None or callable(value) else int(value))
    return numbers


def check_citations(markdown: str, sources: Iterable[Any] | Mapping[Any, Any]) -> CitationCheck:
    """Check that every ``[n]`` in ``markdown`` has a source among ``sources`` (see the module docstring)."""
    cited = find_citations(markdown)
    available = source_numbers(sources)
    missing = [n for n in cited if n not in available]
    uncited = sorted(available.difference(cited))
    return CitationCheck(ok=not missing, cited=cited, missing=missing, uncited_sources=uncited)


def renumber_citations(text: str, number: Callable[[int], int | None]) -> str:
    """``text`` with the numbers of every citation passed through ``number``, written as adjacent groups.

    Meant for prose a writer produced (a section of a report before it is assembled), so it does not parse
    markdown: it rewrites every bracketed citation as defined above (``[2]``, ``[1, 3]``, ``[1-3]``), never a
    link ``[1](url)`` nor a bracketed year. ``number`` returning None drops that number; a citation left with
    no number is removed together with the space before it. ``[1-3]`` comes back as ``[a][b][c]``.
    """

    def sub(match: re.Match[str]) -> str:
        numbers = _expand(match.group(2))
        if numbers is None:
            return match.group(0)
        out = [n for n in (number(k) for k in numbers) if n is not None]
        marks = "".join(f"[{n}]" for n in dict.fromkeys(out))
        return (match.group(1) + marks) if marks else ""

    return _SPACED_CITATION.sub(sub, text)


_SPACED_CITATION = re.compile(rf"(\s?)\[\s*({_PART}(?:\s*[,;]\s*{_PART})*)\s*\](?!\()")


class _Identified(Protocol):
    @property
    def id(self) -> str: ...


SourceT = TypeVar("SourceT", bound=_Identified)


class CitationNumbering(Generic[SourceT]):
    """Citation numbers assigned in order of first citation, over a fixed set of sources (by ``id``).

    ``[n]`` is the n-th source cited; :meth:`cited` lists them in that order, so a sources list built from it
    matches the marks. An id that is not among the sources is never cited: a writer cannot cite what it was
    not given.
    """

    def __init__(self, sources: Iterable[SourceT]) -> None:
        self._by_id = {s.id: s for s in sources}
        self._numbers: dict[str, int] = {}

    def marks(self, ids: Iterable[str]) -> str:
        """The ``[n]`` marks for ``ids`` (numbering each one on its first citation)."""
        out = []
        for i in ids:
            if i not in self._by_id:
                continue
            n = self._numbers.setdefault(i, len(self._numbers) + 1)
            out.append(f"[{n}]")
        return "".join(out)

    def cited(self) -> list[SourceT]:
        """The sources cited so far, in citation-number order (``[n]`` is ``cited()[n-1]``)."""
        return [self._by_id[i] for i in self._numbers]
