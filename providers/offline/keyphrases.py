"""Key phrases of a text, scored the RAKE way (word degree over frequency), for offline query planning.

Own code rather than ``rake-nltk`` (needs NLTK corpus downloads) or ``yake`` (several heavy dependencies, no
CJK segmentation): candidate phrases are the runs of content words between stopwords and punctuation; in
CJK text, the segments between function words. A word that appears in many long phrases scores high; a
phrase scores the sum of its words. Ties are broken by first position, so the result is deterministic.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from providers.offline.tokens import CJK_RUN, CJK_STOP_RE, STOPWORDS, WORD_PATTERN, cjk_bigrams, fold

_PIECE_RE = re.compile(f"{CJK_RUN.pattern}|{WORD_PATTERN}|[^\\w\\s]|_")
MAX_WORDS = 5
MAX_CJK_CHARS = 10


@dataclass(frozen=True)
class Keyphrase:
    phrase: str  # as displayed (lowercased words joined by spaces, or the CJK segment)
    score: float
    count: int
    first: int  # position of the first occurrence, for deterministic ties
    words: tuple[str, ...]  # scoring units (folded words or CJK bigrams)


def _candidates(text: str) -> list[tuple[str, tuple[str, ...]]]:
    """``(display, units)`` for every candidate phrase, in text order."""
    out: list[tuple[str, tuple[str, ...]]] = []
    current: list[str] = []

    def flush() -> None:
        # A run longer than MAX_WORDS (verbs are not stopwords) is cut into chunks of at most 3 words, so a
        # long question still yields phrases instead of none.
        size = max(1, len(current)) if len(current) <= MAX_WORDS else 3
        for i in range(0, len(current), size):
            words = current[i : i + size]
            out.append((" ".join(words), tuple(fold(w) for w in words)))
        current.clear()

    for m in _PIECE_RE.finditer(text.lower()):
        tok = m.group(0)
        if CJK_RUN.fullmatch(tok):
            flush()
            for seg in CJK_STOP_RE.split(tok):
                if 2 <= len(seg) <= MAX_CJK_CHARS:
                    out.append((seg, tuple(cjk_bigrams(seg))))
            continue
        word = tok.strip("'’.")
        if not word or not word[0].isalnum() or word in STOPWORDS or word.isdigit() or len(word) < 2:
            flush()
            continue
        current.append(word)
    flush()
    return out


def keyphrases(text: str, top: int = 10, *, frequency_weight: bool = False) -> list[Keyphrase]:
    """The ``top`` key phrases of ``text``, best first.

    ``frequency_weight`` scores by recurrence instead of RAKE's degree: the sum of ``log(1 + frequency)`` of
    the phrase's words, times ``1 + log(count)`` of the phrase. Use it for long retrieved text.
    """
    cands = _candidates(text)
    freq: dict[str, int] = {}
    degree: dict[str, int] = {}
    for _, units in cands:
        for u in units:
            freq[u] = freq.get(u, 0) + 1
            degree[u] = degree.get(u, 0) + len(units)
    merged: dict[str, Keyphrase] = {}
    for pos, (display, units) in enumerate(cands):
        prev = merged.get(display)
        if prev is not None:
            merged[display] = Keyphrase(display, prev.score, prev.count + 1, prev.first, units)
            continue
        score = sum(degree[u] / freq[u] for u in units)
        merged[display] = Keyphrase(display, score, 1, pos, units)
    ranked = list(merged.values())
    if frequency_weight:
        # Over long text, RAKE's degree favours long one-off phrases; there a phrase scores by how often its
        # words recur (log-damped) and how often it recurs itself.
        ranked = [
            Keyphrase(
                k.phrase,
                sum(math.log1p(freq[u]) for u in k.words) * (1.0 + math.log(k.count)),
                k.count,
                k.first,
                k.words,
            )
            for k in ranked
        ]
    ranked.sort(key=lambda k: (-round(k.score, 9), k.first))
    return ranked[:top]


def phrases(texts: Sequence[str], top: int = 10) -> list[str]:
    """Key phrases of several texts taken together, recurring phrases weighted up, best first."""
    joined = "\n\n".join(texts)
    return [k.phrase for k in keyphrases(joined, top=top, frequency_weight=True)]
