"""BM25-style sparse vectors computed locally, so keyword retrieval needs no model and no download.

A text is tokenized (Unicode words, lower-cased, light English plural stemming, common stop words dropped;
runs of CJK characters become character bigrams, since those scripts do not separate words with spaces), and
each term is hashed to a 32-bit index. A document vector holds BM25's saturated term frequency with length
normalisation; a query vector holds 1.0 per distinct term. Qdrant's sparse index with ``Modifier.IDF``
multiplies query weights by the inverse document frequency it keeps for the collection, so a dot product
of the two vectors is the BM25 score.

Own code rather than fastembed's Bm25 because that needs a model download (its stop-word and stemmer
files) at run time, which clew must never do.
"""

from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

K1 = 1.2
B = 0.75
# Average chunk length in tokens: a 1000-character chunk of prose holds about 120 non-stop-word tokens.
AVG_DOC_TOKENS = 120.0

_CJK = "\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff"
_TOKEN_RE = re.compile(rf"[{_CJK}]+|[^\W_{_CJK}]+")
_CJK_RE = re.compile(rf"[{_CJK}]")

STOP_WORDS: frozenset[str] = frozenset(
    """a an and are as at be been being but by can could did do does doing for from had has have having he
    her here hers him his how i if in into is it its itself just me more most my no nor not of off on once
    only or other our ours out over own same she should so some such than that the their theirs them then
    there these they this those through to too under until up very was we were what when where which while
    who whom why will with would you your yours""".split()
)


@dataclass(slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


def _stem(token: str) -> str:
    # Harman's "S" stemmer: folds English plurals (chunks -> chunk, queries -> query) and nothing else,
    # which is enough for keyword retrieval and never mangles technical terms.
    if len(token) <= 3 or not token.isalpha():
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
        return token[:-1]
    if token.endswith("s") and not token.endswith(("us", "ss")):
        return token[:-1]
    return token


def tokenize(text: str) -> list[str]:
    """Terms of ``text`` for BM25 (see module docstring)."""
    out: list[str] = []
    for match in _TOKEN_RE.finditer(text.casefold()):
        tok = match.group(0)
        if _CJK_RE.match(tok):
            if len(tok) == 1:
                out.append(tok)
            else:
                out.extend(tok[i : i + 2] for i in range(len(tok) - 1))
            continue
        if tok in STOP_WORDS or (len(tok) == 1 and not tok.isdigit()):
            continue
        out.append(_stem(tok))
    return out


@lru_cache(maxsize=200_000)
def term_index(term: str) -> int:
    """A stable 32-bit index for ``term`` (Qdrant sparse indices are uint32)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


def _merge(weights: dict[int, float]) -> SparseVector:
    items = sorted(weights.items())
    return SparseVector(indices=[i for i, _ in items], values=[v for _, v in items])


def document_vector(text: str) -> SparseVector:
    """BM25 term weights of a stored chunk (IDF is applied by the index at query time)."""
    tokens = tokenize(text)
    if not tokens:
        return SparseVector(indices=[], values=[])
    norm = K1 * (1.0 - B + B * len(tokens) / AVG_DOC_TOKENS)
    weights: dict[int, float] = {}
    for term, tf in Counter(tokens).items():
        idx = term_index(term)
        # Two terms hashing to the same index simply add up (a 1-in-4-billion event per pair).
        weights[idx] = weights.get(idx, 0.0) + tf * (K1 + 1.0) / (tf + norm)
    return _merge(weights)


def query_vector(text: str) -> SparseVector:
    """One unit weight per distinct query term."""
    return _merge({term_index(t): 1.0 for t in set(tokenize(text))})
