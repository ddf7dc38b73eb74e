"""Which sentences the offline engine quotes: candidates from the sources, ranked and chosen.

Every usable sentence of the given documents is a candidate (front matter, navigation, table-of-contents
lines and markup are not); candidates are scored by BM25 against the query terms, blended with the score of
the passage they come from, and chosen by MMR for diversity, then across documents so a nearly-as-relevant
document is not left out. Ties break by position, so the choice is deterministic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from providers.offline.ranking import BM25, mmr, term_vector
from providers.offline.sentences import LEGAL_NOTICE, clean_sentence, passages, split_sentences
from providers.offline.tokens import terms, word_count
from providers.types import CitedSentence, SourceDoc

MIN_WORDS = 5
MAX_WORDS = 90
_LAMBDA = 0.7
_POSITION_WEIGHT = 0.05


@dataclass(frozen=True)
class Candidate:
    text: str
    source_ids: tuple[str, ...]
    position: int  # index of the sentence within its document (0 for prior learnings)
    tokens: tuple[str, ...]
    document: str = ""  # the document it comes from (chunks and sections of one file share it)


# Sentences that are never quoted: licence and copyright notices (sentences.LEGAL_NOTICE), navigation,
# table-of-contents lines, markup or code rather than prose.
_NAVIGATION = re.compile(r"^(?:next|previous|prev|up|home|contents|index)\s*[:|]|(?:\.\s?){4,}\s*\d*", re.I)
_SUBJECTLESS = re.compile(
    r"^(?:this|it|its|these|they|their|that|those|such|here|returns?|function|members|used|use|"
    r"specifies?|sets?|gets?|creates?|contains?)\b",
    re.IGNORECASE,
)
_WORDISH = re.compile(r"[^\W\d_]{2,}")


def _acceptable(sentence: str) -> bool:
    n = word_count(sentence)
    return MIN_WORDS <= n <= MAX_WORDS and any(ch.isalpha() for ch in sentence)


def _prose(sentence: str) -> bool:
    """Whether a sentence reads as prose (not markup, code or a symbol soup)."""
    if sentence.count("<") >= 2 or sentence.count("=") >= 3 or sentence.count("{") >= 2:
        return False
    words = sentence.split()
    return len(_WORDISH.findall(sentence)) >= 0.5 * len(words)


def _quotable(sentence: str) -> bool:
    return not LEGAL_NOTICE.search(sentence) and not _NAVIGATION.search(sentence) and _prose(sentence)


def _with_context(sentence: str, term: str | None, heading: str | None) -> str:
    """The sentence as quoted: a definition's term, or a short heading, leads a sentence that lacks it."""
    low = sentence.lower()
    if term and term.lower() not in low:
        return f"{term}: {sentence}"
    if heading and not term and _SUBJECTLESS.match(sentence):
        name = re.sub(r"^[\d.]+\s+", "", heading).strip()
        if name and name.lower() not in low and len(name.split()) <= 6:
            return f"{name}: {sentence}"
    return sentence


def document_key(doc: SourceDoc) -> str:
    """The file or page a source belongs to (several sources may be sections of one document)."""
    return str(doc.metadata.get("document_id") or doc.url or doc.id)


def candidates(sources: Sequence[SourceDoc], learnings: Sequence[CitedSentence] = ()) -> list[Candidate]:
    """Every usable sentence: prior learnings first (restricted to known sources), then each document's.

    Sentences of a knowledge-base document carry their context: a definition's term leads a sentence
    that does not name it, a short heading leads a sentence that starts without a subject ("It returns…").
    Front matter (a source flagged ``front_matter``, or a copyright / licence sentence), navigation and
    table-of-contents lines are never candidates.
    """
    known = {s.id: s for s in sources}
    out: list[Candidate] = []
    seen: set[str] = set()

    def add(text: str, ids: tuple[str, ...], position: int, document: str, ranked: str | None = None) -> None:
        text = clean_sentence(text)
        key = text.lower()
        if not ids or key in seen or not _acceptable(text) or not _quotable(text):
            return
        seen.add(key)
        # Ranked on ``ranked`` when given: the sentence with its term, without a heading put in front.
        out.append(Candidate(text, ids, position, tuple(terms(ranked or text)), document))

    for learning in learnings:
        ids = tuple(dict.fromkeys(i for i in learning.source_ids if i in known))
        for sentence in split_sentences(learning.text):
            add(sentence, ids, 0, document_key(known[ids[0]]) if ids else "")
    for doc in sources:
        if doc.metadata.get("front_matter"):
            continue
        headings = doc.metadata.get("headings") or []
        default_heading = str(headings[-1]) if headings else None
        for pos, (sentence, term, heading) in enumerate(passages(doc.text)):
            sentence = clean_sentence(sentence)
            add(
                _with_context(sentence, term, heading or default_heading),
                (doc.id,),
                pos,
                document_key(doc),
                f"{term} {sentence}" if term else sentence,
            )
    return out


_SOURCE_WEIGHT = 0.25
_SENTENCE_B = 0.4


def _relevance(cands: Sequence[Candidate], query_terms: Sequence[str]) -> tuple[list[float], bool]:
    """Scores in [0, 1] and whether any sentence matched.

    A sentence's score blends its own BM25 (scaled by the maximum) with the BM25 of the passage it comes
    from (all its sentences together, weight ``_SOURCE_WEIGHT``), so a sentence from the section that is
    about the question beats an equally worded one from an unrelated section; plus a small lead-sentence
    prior.
    """
    # Sentences vary far more in length than documents; full length normalisation (b=0.75) buries the long
    # sentence that lists the answer among others ("Returns: A if …, B if …, C if …").
    raw = BM25([c.tokens for c in cands], b=_SENTENCE_B).scores(query_terms) if cands else []
    top = max(raw, default=0.0)
    matched = top > 0.0
    groups: dict[str, list[str]] = {}
    for c in cands:
        groups.setdefault(c.source_ids[0], []).extend(c.tokens)
    keys = list(groups)
    source_raw = BM25([groups[k] for k in keys]).scores(query_terms) if keys else []
    source_top = max(source_raw, default=0.0) or 1.0
    source_rel = {k: r / source_top for k, r in zip(keys, source_raw, strict=True)}
    rel = []
    for c, r in zip(cands, raw, strict=True):
        prior = _POSITION_WEIGHT / (1.0 + c.position)
        own = (r / top) if matched else 0.0
        blended = (1.0 - _SOURCE_WEIGHT) * own + _SOURCE_WEIGHT * source_rel[c.source_ids[0]] if own else 0.0
        rel.append(blended * (1.0 - _POSITION_WEIGHT) + prior)
    return rel, matched


def select(
    cands: Sequence[Candidate],
    query_terms: Sequence[str],
    k: int,
    *,
    exclude: Sequence[int] = (),
) -> list[int]:
    if k <= 0 or not cands:
        return []
    rel, matched = _relevance(cands, query_terms)
    banned = set(exclude)
    # Once something matched, a sentence far below the best one is not worth quoting at all.
    best = max((r for i, r in enumerate(rel) if i not in banned), default=0.0)
    floor = max(_POSITION_WEIGHT, _FLOOR * best) if matched else 0.0
    pool = [i for i in range(len(cands)) if i not in banned and (not matched or rel[i] > floor)]
    if not pool:
        return []
    vectors = [term_vector(c.tokens) for c in cands]
    picked = mmr(rel, vectors, k, lambda_=_LAMBDA, candidates=pool, already=list(exclude))
    return _cover_documents(cands, rel, picked, pool) if matched else picked


_COVERAGE = 0.75
_FLOOR = 0.5


def _cover_documents(
    cands: Sequence[Candidate], rel: Sequence[float], picked: list[int], pool: Sequence[int]
) -> list[int]:
    """Diversity across sources: a document whose best sentence is nearly as relevant as the picks gets one.

    A document left out whose best sentence scores at least ``_COVERAGE`` of the best pick replaces the
    weakest pick of the document that has the most picks (never a document's only pick).
    """
    if len(picked) < 2:
        return picked
    top = max(rel[i] for i in picked)
    best: dict[str, int] = {}
    for i in pool:
        doc = cands[i].document
        if doc and (doc not in best or rel[i] > rel[best[doc]]):
            best[doc] = i
    out = list(picked)
    for doc, i in sorted(best.items(), key=lambda kv: (-rel[kv[1]], kv[1])):
        if any(cands[j].document == doc for j in out) or rel[i] < _COVERAGE * top:
            continue
        counts: dict[str, int] = {}
        for j in out:
            counts[cands[j].document] = counts.get(cands[j].document, 0) + 1
        crowded = max(counts, key=lambda d: (counts[d], d))
        if counts[crowded] < 2:
            break
        weakest = min((j for j in out if cands[j].document == crowded), key=lambda j: (rel[j], -j))
        out[out.index(weakest)] = i
    return out
