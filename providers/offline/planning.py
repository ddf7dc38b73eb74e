"""Offline query planning: search queries for a question from key phrases, without a model.

The question itself comes first; then its main key phrase paired with the key phrases of text already
retrieved that the question does not name yet (aspects to dig into), then with the question's own other
key phrases. Deterministic: equal inputs give equal queries.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from providers.offline.keyphrases import keyphrases, phrases
from providers.offline.tokens import is_cjk, terms

MAX_QUERY_CHARS = 300


def _norm(text: str) -> str:
    return " ".join(text.split())


def mostly_covered(p_terms: Sequence[str], covered: set[str]) -> bool:
    """Whether at least half of a phrase's terms were already used by earlier phrases."""
    return sum(1 for t in p_terms if t in covered) * 2 >= len(p_terms)


def plan_queries(question: str, n: int = 3, context_texts: Sequence[str] = ()) -> list[str]:
    """Up to ``n`` search queries for ``question``, the question itself first.

    The others pair the question's main key phrase with the key phrases of ``context_texts`` (text already
    retrieved) that the question does not mention yet (aspects to dig into), then with the question's own
    other key phrases. Fewer than ``n`` come back when there is nothing more to ask.
    """
    q = _norm(question)[:MAX_QUERY_CHARS]
    if n <= 0 or not q:
        return []
    out: list[str] = [q]
    seen = {q.lower()}

    def add(query: str) -> None:
        query = _norm(query)[:MAX_QUERY_CHARS]
        if query and query.lower() not in seen and len(out) < n:
            seen.add(query.lower())
            out.append(query)

    q_phrases = [k.phrase for k in keyphrases(q, top=8)]
    main = q_phrases[0] if q_phrases else q
    q_terms = set(terms(q))
    main_terms = set(terms(main))
    covered: set[str] = set()
    if context_texts:
        cjk_question = is_cjk(q)
        for p in phrases([t for t in context_texts if t], top=4 * n + 8):
            p_terms = terms(p)
            if not p_terms or set(p_terms) <= q_terms:
                continue  # nothing new in it
            if is_cjk(p) != cjk_question:
                continue  # a query in two scripts searches badly
            if len(p_terms) == 1 and len(p_terms[0]) < 4:
                continue  # a short lone word is rarely a useful aspect
            if mostly_covered(p_terms, covered):
                continue  # a variant of an aspect already asked about
            covered.update(p_terms)
            add(p if set(p_terms) & main_terms else f"{main} {p}")
    for p in q_phrases[1:]:
        add(f"{main} {p}")
    for p in q_phrases[1:]:
        add(p)
    return out


async def aplan_queries(question: str, n: int = 3, context_texts: Sequence[str] = ()) -> list[str]:
    """:func:`plan_queries` in a worker thread."""
    return await asyncio.to_thread(plan_queries, question, n, tuple(context_texts))
