"""Sentences of a text for the offline engine: splitting, cleaning, and what a sentence is about.

Simple, deterministic rules (no model, no download): sentences end at terminal punctuation followed by a
likely sentence start (abbreviations and initials do not end one); blank lines, list items and headings
always end a block; knowledge-base structure (markdown headings, ``term\n:   description`` definitions,
see :mod:`retrieval.structure`) gives each sentence its heading and defined term.
"""

from __future__ import annotations

import re

from providers.offline.tokens import is_cjk

# Copyright and licence notices: kept for search but never quoted. One pattern for both places that look:
# the knowledge base flags such blocks as front matter (retrieval.structure), the offline engine skips such
# sentences (providers.offline.selection).
LEGAL_NOTICE = re.compile(
    r"copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4}|all rights reserved|without any warranty|"
    r"permission is granted to copy|(?:gnu )?(?:free documentation|general public) license|"
    r"redistribute it and/or modify|this (?:document|manual|program) is free(?: software)?;",
    re.IGNORECASE,
)

_ABBREVIATIONS: frozenset[str] = frozenset(
    "mr mrs ms dr prof sr jr st vs etc e.g i.e fig figs no nos vol pp al inc ltd co corp approx dept est jan feb "
    "mar apr jun jul aug sep sept oct nov dec cf ca resp ch sec secs eq eqs ref refs ed eds p ff viz approx "
    "max min".split()
)
_SENTENCE_END = re.compile(r"[.!?]+[\"'”’)\]]*(?=\s|$)|[。！？]+[”’」』)）]*")
# Blank lines end a block; so does a line that starts a list item or a heading. A number at the start of a
# line is a numbered item only after a line that ended a sentence: "the maximum is\n100." goes on.
# A line "name: text" after a line that ended a sentence is the next item of a parameter list.
_BLOCK_SPLIT = re.compile(
    r"\n\s*\n|\n(?=\s*(?:[-*•▪◦]\s|#{1,6}\s|>))|(?<=[.:;!?])\n(?=\s*(?:\d{1,3}[.)]\s|[\w ]{1,30}:\s))"
)
_CITATION_MARK = re.compile(r"\s*\[(?:\d+|[a-z])(?:\s*[,–-]\s*\d+)*\]")
_LEADING_MARKUP = re.compile(r"^(?:[#>*•\-]+\s*|\d{1,3}[.)]\s+)+")



def clean_sentence(sentence: str) -> str:
    """Collapse whitespace, drop leading list/heading markup and bracketed reference marks like ``[3]``.

    Reference marks must go: a quoted sentence keeping its original page's ``[3]`` would look like a citation
    of this output's third source.
    """
    s = " ".join(sentence.split())
    s = _CITATION_MARK.sub("", s)
    s = _LEADING_MARKUP.sub("", s)
    return s.strip()


def split_sentences(text: str) -> list[str]:
    """Split ``text`` into sentences (blank lines and list items always end one; single newlines do not)."""
    out: list[str] = []
    for block in _BLOCK_SPLIT.split(_split_numbered_items(text)):
        block = " ".join(block.split())
        if not block:
            continue
        start = 0
        for m in _SENTENCE_END.finditer(block):
            end = m.end()
            if start == 0 and _ITEM_NUMBER.fullmatch(block[: m.end()]):
                continue  # "1." opening a numbered item is its marker, not a sentence
            if m.group(0)[0] in ".!?":
                before = block[start : m.start()].rsplit(" ", 1)[-1].lower().lstrip("([{\"'“‘")
                if m.group(0).startswith(".") and (
                    before in _ABBREVIATIONS or (len(before) == 1 and before.isalpha())
                ):
                    continue
                rest = block[end:].lstrip()
                if rest and not (
                    rest[0].isupper() or rest[0].isdigit() or rest[0] in "\"'“‘([" or is_cjk(rest[0])
                ):
                    continue
            piece = block[start:end].strip()
            if piece:
                out.append(piece)
            start = end
        tail = block[start:].strip()
        if tail:
            out.append(tail)
    return out


_NUMBERED_LINE = re.compile(r"^\s*(\d{1,3})[.)]\s")
_ITEM_NUMBER = re.compile(r"\d{1,3}[.)]")


def _split_numbered_items(text: str) -> str:
    """``text`` with a blank line before each numbered list item that :data:`_BLOCK_SPLIT` cannot tell alone:
    an item "2. …" after another item, or "1. …" opening a list after a line without final punctuation.
    A number after a line that goes on ("the maximum is\n100.") stays in its sentence."""
    lines = text.split("\n")
    out: list[str] = []
    in_list = False
    for line in lines:
        m = _NUMBERED_LINE.match(line)
        if m and out and out[-1].strip() and (in_list or m.group(1) == "1"):
            out.append("")
        if m and (in_list or m.group(1) == "1" or not out or not out[-1].strip()
                  or out[-1].rstrip().endswith((".", ":", ";", "!", "?"))):
            in_list = True
        elif not line.strip():
            in_list = False
        out.append(line)
    return "\n".join(out)


_DEFINITION = re.compile(r"^(?P<term>[^\n]+)\n:\s{1,4}(?P<body>.*)$", re.DOTALL)
_HEADING_LINE = re.compile(r"^\s{0,3}#{1,6}\s+(.+?)\s*#*\s*$")
_SIGNATURE_NAME = re.compile(r"([A-Za-z_][\w.:]*)\s*\(")


def term_name(term: str) -> str:
    """A defined term as a reader names it: a long signature ``Function: int f (…)`` becomes ``f``."""
    plain = " ".join(re.sub(r"[*`\\]+", "", term).split())
    if "(" in plain and ")" in plain:
        m = _SIGNATURE_NAME.search(plain)
        if m:
            return m.group(1)
    return plain


# A sentence that only makes sense after the one before it ("ffi_prep_cif returns a status code. This will
# be either FFI_OK …; FFI_BAD_TYPEDEF …") is quoted together with it, so its answer is not lost for want of a
# subject. Only within one paragraph, and only while the two stay a quotable length.
_CONTINUATION = re.compile(r"^(?:this|these|it|they|such|both|either)\b(?!\s+(?:section|chapter|document|manual))",
                           re.IGNORECASE)
_JOINED_WORDS = 60


def _join_continuations(sentences: list[str]) -> list[str]:
    out: list[str] = []
    for sentence in sentences:
        if (
            out
            and _CONTINUATION.match(sentence)
            and out[-1].endswith((".", ";"))
            and not out[-1].lstrip().startswith(("-", "*", "•"))
            and len(out[-1].split()) + len(sentence.split()) <= _JOINED_WORDS
        ):
            out[-1] = f"{out[-1]} {sentence}"
        else:
            out.append(sentence)
    return out


_TABLE_RULE = re.compile(r"^\|?\s*:?-{3,}:?\s*(?:\|\s*:?-{3,}:?\s*)*\|?$")


def table_rows(lines: list[str]) -> list[str] | None:
    """The data rows of a Markdown table block as sentences naming their columns (``Vessel: Petrel; Max speed
    (knots): 31; Crew: 5``), or None when the lines are no table. A row alone ("| Petrel | 31 | 5 |") says
    nothing; with its header it is a quotable fact."""
    if len(lines) < 3 or not all(line.lstrip().startswith("|") for line in lines):
        return None
    if not _TABLE_RULE.match(lines[1].strip()):
        return None

    def cells(line: str) -> list[str]:
        return [" ".join(c.split()) for c in line.strip().strip("|").split("|")]

    header = cells(lines[0])
    out = []
    for line in lines[2:]:
        pairs = [f"{h}: {v}" if h else v for h, v in zip(header, cells(line), strict=False) if v]
        if pairs:
            out.append("; ".join(pairs).rstrip(".") + ".")
    return out


def passages(text: str) -> list[tuple[str, str | None, str | None]]:
    """Sentences of a structured text with what they are about: ``(sentence, term, heading)``.

    Understands what the knowledge base writes (:mod:`retrieval.structure`): a markdown heading line sets the
    heading of what follows (and is not itself a sentence); a definition ``term\n:   description`` gives
    every sentence of its description that term; each row of a Markdown table is one sentence naming its
    columns (:func:`table_rows`). Other text is split with :func:`split_sentences`. A
    sentence that leans on the one before it ("This will be either …") stays joined to it.
    """
    out: list[tuple[str, str | None, str | None]] = []
    heading: str | None = None
    for block in re.split(r"\n\s*\n", text):
        if not block.strip():
            continue
        lines = block.strip("\n").split("\n")
        while lines and _HEADING_LINE.match(lines[0]):
            heading = _HEADING_LINE.match(lines[0]).group(1)  # type: ignore[union-attr]
            lines = lines[1:]
        if not lines:
            continue
        rows = table_rows(lines)
        if rows is not None:
            out.extend((row, None, heading) for row in rows)
            continue
        rest = "\n".join(lines)
        m = _DEFINITION.match(rest)
        if m:
            term = term_name(m.group("term"))
            for sentence in _join_continuations(split_sentences(m.group("body"))):
                out.append((sentence, term, heading))
            continue
        for sentence in _join_continuations(split_sentences(rest)):
            out.append((sentence, None, heading))
    return out
