"""BM25-style sparse vectors computed locally, so keyword retrieval needs no model and no download.

A text is tokenized by clew's one tokenizer (:func:`providers.offline.tokens.terms`, the offline engine's:
Unicode words lower-cased, stop words dropped, light plural folding; runs of CJK characters become character
bigrams, since those scripts do not separate words with spaces), and each term is hashed to a 32-bit index.
A document vector holds BM25's saturated term frequency with length normalisation; a query vector holds 1.0
per distinct term. Qdrant's sparse index with ``Modifier.IDF`` multiplies query weights by the inverse
document frequency it keeps for the collection, so a dot product of the two vectors is the BM25 score.

Own code rather than fastembed's Bm25 because that needs a model download (its stop-word and stemmer
files) at run time, which clew must never do.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache

from providers.offline.tokens import terms

K1 = 1.2
B = 0.75
# Average chunk length in tokens: a 1000-character chunk of prose holds about 120 non-stop-word tokens.
AVG_DOC_TOKENS = 120.0


@dataclass(slots=True)
class SparseVector:
    indices: list[int]
    values: list[float]


@lru_cache(maxsize=200_000)
def term_index(term: str) -> int:
    """A stable 32-bit index for ``term`` (Qdrant sparse indices are uint32)."""
    return int.from_bytes(hashlib.blake2b(term.encode("utf-8"), digest_size=4).digest(), "little")


def _merge(weights: dict[int, float]) -> SparseVector:
    items = sorted(weights.items())
    return SparseVector(indices=[i for i, _ in items], values=[v for _, v in items])


def document_vector(text: str) -> SparseVector:
    """BM25 term weights of a stored chunk (IDF is applied by the index at query time)."""
    tokens = terms(text)
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
    return _merge({term_index(t): 1.0 for t in set(terms(text))})
