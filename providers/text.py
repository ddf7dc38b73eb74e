"""Plain-text primitives for the offline engine: tokens, ranking terms, sentences.

Written here rather than taken from NLTK or spaCy because those need model or corpus downloads at run time,
which clew must never do, and because the offline engine's output has to be byte-for-byte deterministic. The
rules are deliberately simple: Latin-script words split on non-word characters with a light plural folding,
CJK text (which has no spaces) as overlapping character bigrams, sentences ended by terminal punctuation
that is followed by a likely sentence start.
"""

from __future__ import annotations

import re

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\uac00-\ud7af"
CJK_RUN = re.compile(f"[{_CJK}]+")
# A Latin-script (or any non-CJK) word; keeps internal hyphens, apostrophes and dots ("gpt-4", "u.s", "3.5").
WORD_PATTERN = f"[^\\W_{_CJK}]+(?:[-'’.][^\\W_{_CJK}]+)*"
TOKEN_RE = re.compile(f"[{_CJK}]+|{WORD_PATTERN}")

STOPWORDS: frozenset[str] = frozenset(
    """
    a about above after again against all almost also although am among an and another any anyone anything are
    around as at be because been before being below between both but by can cannot could did do does doing done
    down during each either else enough etc even ever every few for from further get gets got had has have having
    he her here hers herself him himself his how however i if in into is it its itself just least less let like
    made make many may me might more most much must my myself near need neither no nor not now of off often on
    once one only onto or other others otherwise our ours ourselves out over own per perhaps please quite rather
    really same several shall she should since so some something such than that the their theirs them themselves
    then there therefore these they this those though through throughout thus to together too toward towards
    under until up upon us use used using very via was we well were what whatever when whenever where whereas
    wherever whether which while who whoever whom whose why will with within without would yet you your yours
    yourself yourselves tell explain describe give show find list know want compare way ways versus vs s t
    """.split()
)

# Chinese function words that separate content phrases (a crude but dependency-free segmentation).
CJK_STOP_RE = re.compile(
    "如何|怎么|怎样|为什么|什么|哪些|哪个|是否|以及|或者|关于|对于|通过|进行|可以|能够|我们|他们|你们|一个|这个|那个|"
    "这些|那些|其中|以及|并且|而且|但是|因为|所以|如果|的|了|和|与|及|或|吗|呢|吧|啊|是|在|对|把|被|从|也|都|就|还|而|并"
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


def is_cjk(text: str) -> bool:
    """Whether ``text`` contains CJK characters."""
    return CJK_RUN.search(text) is not None


def fold(word: str) -> str:
    """Light plural folding so "models" matches "model" (no full stemmer: predictable beats clever here)."""
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 3 and word.endswith("s") and not word.endswith(("ss", "us", "is", "'s")):
        return word[:-1]
    return word


def cjk_bigrams(run: str) -> list[str]:
    """Overlapping character bigrams of a CJK run (the run itself when it is one character)."""
    if len(run) < 2:
        return [run]
    return [run[i : i + 2] for i in range(len(run) - 1)]


def terms(text: str) -> list[str]:
    """Ranking terms of ``text``: lowercased content words (stopwords dropped, plurals folded), CJK bigrams."""
    out: list[str] = []
    for m in TOKEN_RE.finditer(text.lower()):
        tok = m.group(0)
        if CJK_RUN.fullmatch(tok):
            for seg in CJK_STOP_RE.split(tok):
                if seg:
                    out.extend(cjk_bigrams(seg))
        elif tok not in STOPWORDS and (len(tok) > 1 or tok.isdigit()):
            out.append(fold(tok.strip("'’.")))
    return out


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


def passages(text: str) -> list[tuple[str, str | None, str | None]]:
    """Sentences of a structured text with what they are about: ``(sentence, term, heading)``.

    Understands what the knowledge base writes (:mod:`retrieval.structure`): a markdown heading line sets the
    heading of what follows (and is not itself a sentence); a definition ``term\n:   description`` gives
    every sentence of its description that term. Other text is split with :func:`split_sentences`.
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
        rest = "\n".join(lines)
        m = _DEFINITION.match(rest)
        if m:
            term = term_name(m.group("term"))
            for sentence in split_sentences(m.group("body")):
                out.append((sentence, term, heading))
            continue
        for sentence in split_sentences(rest):
            out.append((sentence, None, heading))
    return out


def word_count(text: str) -> float:
    """Length in words, counting about 1.5 CJK characters as one word."""
    n = 0.0
    for m in TOKEN_RE.finditer(text):
        tok = m.group(0)
        n += len(tok) / 1.5 if CJK_RUN.fullmatch(tok) else 1
    return n
