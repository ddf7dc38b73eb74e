"""The offline extractive engine: research without any model, deterministic, every sentence cited.

When no model is configured (``providers.models.get_model`` returns None), graphs call these functions in
place of a model:

- :func:`plan_queries` turns a question (and any text already retrieved) into search queries from key phrases;
- :func:`summarize` picks the sentences of the given documents that best answer a question (BM25 relevance,
  MMR for diversity) and keeps each one's source;
- :func:`write_report` assembles a markdown report of such sentences in sections, with inline ``[n]`` markers
  and a numbered source list.

Nothing here invents text: every output sentence is quoted from a document it was given and cites that
document, and the numbered list is built only from those documents. Output says it was produced without an
LLM. Equal inputs give identical output (no randomness, no set-order dependence, fixed tie-breaks). The
functions are CPU-bound; the ``a*`` variants run them in a worker thread for async callers.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass

from providers.keyphrases import keyphrases, phrases
from providers.ranking import BM25, mmr, term_vector
from providers.text import clean_sentence, is_cjk, passages, split_sentences, terms, word_count
from providers.types import CitedSentence, SourceDoc, Summary, dedupe_sources

OFFLINE_NOTICE = (
    "Produced without an LLM by clew's offline extractive engine: every sentence is quoted from the numbered "
    "sources and was selected by keyword relevance (BM25) and diversity (MMR)."
)

MIN_WORDS = 5
MAX_WORDS = 90
MAX_QUERY_CHARS = 300
_LAMBDA = 0.7
_POSITION_WEIGHT = 0.05


# ---------------------------------------------------------------------------------------------------------
# query planning


def _norm(text: str) -> str:
    return " ".join(text.split())


def _mostly_covered(p_terms: Sequence[str], covered: set[str]) -> bool:
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
            if _mostly_covered(p_terms, covered):
                continue  # a variant of an aspect already asked about
            covered.update(p_terms)
            add(p if set(p_terms) & main_terms else f"{main} {p}")
    for p in q_phrases[1:]:
        add(f"{main} {p}")
    for p in q_phrases[1:]:
        add(p)
    return out


# ---------------------------------------------------------------------------------------------------------
# candidate sentences and selection


@dataclass(frozen=True)
class _Candidate:
    text: str
    source_ids: tuple[str, ...]
    position: int  # index of the sentence within its document (0 for prior learnings)
    tokens: tuple[str, ...]
    document: str = ""  # the document it comes from (chunks and sections of one file share it)


# Sentences that are never quoted: licence and copyright notices, navigation, table-of-contents lines,
# markup or code rather than prose.
_FRONT = re.compile(
    r"copyright\s*(?:©|\(c\)|\d{4})|©\s*\d{4}|all rights reserved|without any warranty|"
    r"permission is granted to copy|free documentation license|general public license|"
    r"redistribute it and/or modify",
    re.IGNORECASE,
)
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
    return not _FRONT.search(sentence) and not _NAVIGATION.search(sentence) and _prose(sentence)


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


def _candidates(sources: Sequence[SourceDoc], learnings: Sequence[CitedSentence] = ()) -> list[_Candidate]:
    """Every usable sentence: prior learnings first (restricted to known sources), then each document's.

    Sentences of a knowledge-base document carry their context: a definition's term leads a sentence
    that does not name it, a short heading leads a sentence that starts without a subject ("It returns…").
    Front matter (a source flagged ``front_matter``, or a copyright / licence sentence), navigation and
    table-of-contents lines are never candidates.
    """
    known = {s.id: s for s in sources}
    out: list[_Candidate] = []
    seen: set[str] = set()

    def add(text: str, ids: tuple[str, ...], position: int, document: str, ranked: str | None = None) -> None:
        text = clean_sentence(text)
        key = text.lower()
        if not ids or key in seen or not _acceptable(text) or not _quotable(text):
            return
        seen.add(key)
        # Ranked on ``ranked`` when given: the sentence with its term, without a heading put in front.
        out.append(_Candidate(text, ids, position, tuple(terms(ranked or text)), document))

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


def _relevance(cands: Sequence[_Candidate], query_terms: Sequence[str]) -> tuple[list[float], bool]:
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


def _select(
    cands: Sequence[_Candidate],
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
    cands: Sequence[_Candidate], rel: Sequence[float], picked: list[int], pool: Sequence[int]
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


class _Numbering:
    """Citation numbers assigned in order of first citation, over the given sources only."""

    def __init__(self, sources: Sequence[SourceDoc]) -> None:
        self.by_id = {s.id: s for s in sources}
        self.order: list[str] = []

    def cite(self, ids: Sequence[str]) -> str:
        marks = []
        for i in ids:
            if i not in self.by_id:  # defensive: candidates only ever carry known ids
                continue
            if i not in self.order:
                self.order.append(i)
            marks.append(f"[{self.order.index(i) + 1}]")
        return "".join(marks)

    def cited_sources(self) -> list[SourceDoc]:
        return [self.by_id[i] for i in self.order]


def format_sources(sources: Sequence[SourceDoc], only: Sequence[int] | None = None) -> str:
    """A markdown ``Sources`` list, ``[n]`` being ``sources[n-1]``; ``only`` limits it to those numbers."""
    lines = ["## Sources", ""]
    for n, s in enumerate(sources, start=1):
        if only is not None and n not in only:
            continue
        label = s.label().replace("[", "(").replace("]", ")")
        lines.append(f"- [{n}] [{label}]({s.url})" if s.url else f"- [{n}] {label}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------------------
# summaries and reports


def summarize(question: str, docs: Sequence[SourceDoc], max_sentences: int = 8) -> Summary:
    """The ``max_sentences`` sentences of ``docs`` that best answer ``question``, each with its source.

    ``Summary.sources`` holds the cited documents in order of first citation (``[n]`` is ``sources[n-1]``).
    With no word of the question in the documents, the documents' lead sentences are used.
    """
    sources = dedupe_sources(docs)
    cands = _candidates(sources)
    picked = _select(cands, terms(question), max_sentences)
    numbering = _Numbering(sources)
    sentences = []
    for i in picked:
        numbering.cite(cands[i].source_ids)
        sentences.append(CitedSentence(text=cands[i].text, source_ids=list(cands[i].source_ids)))
    return Summary(question=question, sentences=sentences, sources=numbering.cited_sources(), offline=True)


def _heading(text: str) -> str:
    text = _norm(text)
    return text[:1].upper() + text[1:]


def _auto_sections(question: str, sources: Sequence[SourceDoc], n: int) -> list[str]:
    """Section topics: key phrases of the sources that the question does not already name."""
    q_terms = set(terms(question))
    out: list[str] = []
    covered: set[str] = set()
    for p in phrases([s.text for s in sources if s.text], top=6 * n + 10):
        p_terms = terms(p)
        if not p_terms or set(p_terms) <= q_terms or _mostly_covered(p_terms, covered):
            continue
        if len(p_terms) == 1 and len(p_terms[0]) < 4:
            continue
        out.append(p)
        covered.update(p_terms)
        if len(out) >= n:
            break
    return out


def write_report(
    question: str,
    sources: Sequence[SourceDoc],
    *,
    learnings: Sequence[CitedSentence] = (),
    sections: Sequence[str] = (),
    title: str | None = None,
    summary_sentences: int = 4,
    sentences_per_section: int = 4,
    max_sections: int = 4,
) -> str:
    """A markdown report on ``question`` built only from ``sources`` (and ``learnings`` citing them).

    Layout: title, the offline notice, a summary of the best sentences overall, one section per topic in
    ``sections`` (or, when none are given, per key phrase of the sources the question does not name), then
    the numbered ``Sources`` list of every cited document. A sentence is used at most once. Learnings whose
    source ids are not among ``sources`` are dropped rather than cited.
    """
    docs = dedupe_sources(sources)
    cands = _candidates(docs, learnings)
    q_terms = terms(question)
    numbering = _Numbering(docs)
    out = [f"# {_heading(title or question)}", "", f"> {OFFLINE_NOTICE}", ""]
    if not cands:
        out.append("No source text was available to answer this question.")
        return "\n".join(out) + "\n"

    def paragraph(indices: Sequence[int]) -> str:
        return " ".join(f"{cands[i].text} {numbering.cite(cands[i].source_ids)}" for i in indices)

    used: list[int] = []
    lead = _select(cands, q_terms, summary_sentences)
    used.extend(lead)
    out += ["## Summary", "", paragraph(lead), ""]
    topics = list(sections)[:max_sections] if sections else _auto_sections(question, docs, max_sections)
    for topic in topics:
        topic_terms = terms(topic)
        # The topic's own words count twice: the section is about the topic, in the light of the question.
        picked = _select(cands, [*topic_terms, *topic_terms, *q_terms], sentences_per_section, exclude=used)
        picked = [i for i in picked if set(cands[i].tokens) & set(topic_terms)] if topic_terms else picked
        if not picked:
            continue
        used.extend(picked)
        out += [f"## {_heading(topic)}", "", paragraph(picked), ""]
    cited = numbering.cited_sources()
    out.append(format_sources(cited))
    return "\n".join(out) + "\n"


async def aplan_queries(question: str, n: int = 3, context_texts: Sequence[str] = ()) -> list[str]:
    """:func:`plan_queries` in a worker thread."""
    return await asyncio.to_thread(plan_queries, question, n, tuple(context_texts))


async def asummarize(question: str, docs: Sequence[SourceDoc], max_sentences: int = 8) -> Summary:
    """:func:`summarize` in a worker thread."""
    return await asyncio.to_thread(summarize, question, list(docs), max_sentences)


async def awrite_report(
    question: str,
    sources: Sequence[SourceDoc],
    *,
    learnings: Sequence[CitedSentence] = (),
    sections: Sequence[str] = (),
    title: str | None = None,
) -> str:
    """:func:`write_report` in a worker thread."""
    return await asyncio.to_thread(
        lambda: write_report(
            question, list(sources), learnings=list(learnings), sections=list(sections), title=title
        )
    )
