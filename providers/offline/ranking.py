"""BM25 relevance and MMR selection over small in-memory sets of sentences.

Own code rather than ``rank-bm25`` (unmaintained) or ``bm25s`` (pulls in scipy for sparse matrices): the
offline engine ranks at most a few thousand sentences per call, where a plain-Python Okapi BM25 is fast
enough, and every loop here runs in a fixed order so equal inputs give bit-identical scores and selections.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence


class BM25:
    """Okapi BM25 over tokenised documents (``idf = ln(1 + (N - df + 0.5) / (df + 0.5))``, never negative)."""

    def __init__(self, docs: Sequence[Sequence[str]], *, k1: float = 1.5, b: float = 0.75) -> None:
        self.k1 = k1
        self.b = b
        self.tfs: list[dict[str, int]] = []
        self.lengths: list[int] = []
        df: dict[str, int] = {}
        for doc in docs:
            tf: dict[str, int] = {}
            for t in doc:
                tf[t] = tf.get(t, 0) + 1
            self.tfs.append(tf)
            self.lengths.append(len(doc))
            for t in tf:
                df[t] = df.get(t, 0) + 1
        n = len(self.tfs)
        self.avgdl = (sum(self.lengths) / n) if n else 0.0
        self.idf = {t: math.log(1.0 + (n - d + 0.5) / (d + 0.5)) for t, d in df.items()}

    def scores(self, query: Sequence[str]) -> list[float]:
        """The BM25 score of every document for ``query`` (a repeated query term counts again)."""
        out: list[float] = []
        avgdl = self.avgdl or 1.0
        for tf, length in zip(self.tfs, self.lengths, strict=True):
            s = 0.0
            norm = self.k1 * (1.0 - self.b + self.b * length / avgdl)
            for q in query:
                f = tf.get(q)
                if f:
                    s += self.idf[q] * f * (self.k1 + 1.0) / (f + norm)
            out.append(s)
        return out


def term_vector(tokens: Sequence[str]) -> dict[str, float]:
    """Term-frequency vector of a token list (insertion-ordered, so iteration is deterministic)."""
    v: dict[str, float] = {}
    for t in tokens:
        v[t] = v.get(t, 0.0) + 1.0
    return v


def cosine(a: Mapping[str, float], b: Mapping[str, float]) -> float:
    if not a or not b:
        return 0.0
    small, large = (a, b) if len(a) <= len(b) else (b, a)
    dot = sum(w * large.get(t, 0.0) for t, w in small.items())
    if dot == 0.0:
        return 0.0
    na = math.sqrt(sum(w * w for w in a.values()))
    nb = math.sqrt(sum(w * w for w in b.values()))
    return dot / (na * nb)


def mmr(
    relevance: Sequence[float],
    vectors: Sequence[Mapping[str, float]],
    k: int,
    *,
    lambda_: float = 0.7,
    candidates: Sequence[int] | None = None,
    already: Sequence[int] = (),
) -> list[int]:
    """Maximal Marginal Relevance: pick ``k`` indices balancing relevance against similarity to picks so far.

    ``relevance`` should be scaled to [0, 1]. ``already`` are items chosen earlier (e.g. by a previous report
    section) that new picks should not repeat. Ties go to the lower index.
    """
    pool = list(range(len(relevance)) if candidates is None else candidates)
    chosen: list[int] = []
    context = list(already)
    max_sim = {i: max((cosine(vectors[i], vectors[j]) for j in context), default=0.0) for i in pool}
    while pool and len(chosen) < k:
        best_i = -1
        best = -math.inf
        for i in pool:
            score = lambda_ * relevance[i] - (1.0 - lambda_) * max_sim[i]
            if score > best + 1e-12 or (abs(score - best) <= 1e-12 and i < best_i):
                best, best_i = score, i
        chosen.append(best_i)
        pool.remove(best_i)
        for i in pool:
            s = cosine(vectors[i], vectors[best_i])
            if s > max_sim[i]:
                max_sim[i] = s
    return chosen
