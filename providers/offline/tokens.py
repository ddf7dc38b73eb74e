"""The one tokenizer of clew: ranking terms of a text, for the offline engine and sparse retrieval alike.

Written here rather than taken from NLTK, spaCy or fastembed because those need model or corpus downloads at
run time, which clew must never do, and because the offline engine's output and the stored BM25 vectors have
to be deterministic. The rules are deliberately simple: Latin-script words (internal hyphens, apostrophes and
dots kept) lower-cased, stop words dropped, a light plural folding; CJK text (which has no spaces) split at
function words into overlapping character bigrams. :func:`word_count` counts words the same way (about 1.5
CJK characters to a word), so every word budget agrees.
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


def word_count(text: str) -> float:
    """Length in words, counting about 1.5 CJK characters as one word."""
    n = 0.0
    for m in TOKEN_RE.finditer(text):
        tok = m.group(0)
        n += len(tok) / 1.5 if CJK_RUN.fullmatch(tok) else 1
    return n
