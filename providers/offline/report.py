"""The offline engine's answers: cited summaries and markdown reports quoted from the sources.

:func:`summarize` keeps the sentences of the given documents that best answer a question, each with its
source; :func:`write_report` assembles a report of such sentences in sections, with inline ``[n]`` markers
numbered in order of first citation (:class:`reports.citations.CitationNumbering`) and a numbered source
list of exactly the cited documents.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

from providers.offline.keyphrases import phrases
from providers.offline.planning import mostly_covered
from providers.offline.selection import candidates, select
from providers.offline.tokens import terms
from providers.types import CitedSentence, SourceDoc, Summary, dedupe_sources
from reports.citations import CitationNumbering

OFFLINE_NOTICE = (
    "Produced without an LLM by clew's offline extractive engine: every sentence is quoted from the numbered "
    "sources and was selected by keyword relevance (BM25) and diversity (MMR)."
)


def format_sources(sources: Sequence[SourceDoc], only: Sequence[int] | None = None) -> str:
    """A markdown ``Sources`` list, ``[n]`` being ``sources[n-1]``; ``only`` limits it to those numbers."""
    lines = ["## Sources", ""]
    for n, s in enumerate(sources, start=1):
        if only is not None and n not in only:
            continue
        label = s.label().replace("[", "(").replace("]", ")")
        lines.append(f"- [{n}] [{label}]({s.url})" if s.url else f"- [{n}] {label}")
    return "\n".join(lines)


def summarize(question: str, docs: Sequence[SourceDoc], max_sentences: int = 8) -> Summary:
    """The ``max_sentences`` sentences of ``docs`` that best answer ``question``, each with its source.

    ``Summary.sources`` holds the cited documents in order of first citation (``[n]`` is ``sources[n-1]``).
    With no word of the question in the documents, the documents' lead sentences are used.
    """
    sources = dedupe_sources(docs)
    cands = candidates(sources)
    picked = select(cands, terms(question), max_sentences)
    numbering = CitationNumbering(sources)
    sentences = []
    for i in picked:
        numbering.marks(cands[i].source_ids)
        sentences.append(CitedSentence(text=cands[i].text, source_ids=list(cands[i].source_ids)))
    return Summary(question=question, sentences=sentences, sources=numbering.cited(), offline=True)


def _heading(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def _auto_sections(question: str, sources: Sequence[SourceDoc], n: int) -> list[str]:
    """Section topics: key phrases of the sources that the question does not already name."""
    q_terms = set(terms(question))
    out: list[str] = []
    covered: set[str] = set()
    for p in phrases([s.text for s in sources if s.text], top=6 * n + 10):
        p_terms = terms(p)
        if not p_terms or set(p_terms) <= q_terms or mostly_covered(p_terms, covered):
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
    cands = candidates(docs, learnings)
    q_terms = terms(question)
    numbering = CitationNumbering(docs)
    out = [f"# {_heading(title or question)}", "", f"> {OFFLINE_NOTICE}", ""]
    if not cands:
        out.append("No source text was available to answer this question.")
        return "\n".join(out) + "\n"

    def paragraph(indices: Sequence[int]) -> str:
        return " ".join(f"{cands[i].text} {numbering.marks(cands[i].source_ids)}" for i in indices)

    used: list[int] = []
    lead = select(cands, q_terms, summary_sentences)
    used.extend(lead)
    out += ["## Summary", "", paragraph(lead), ""]
    topics = list(sections)[:max_sections] if sections else _auto_sections(question, docs, max_sections)
    for topic in topics:
        topic_terms = terms(topic)
        # The topic's own words count twice: the section is about the topic, in the light of the question.
        picked = select(cands, [*topic_terms, *topic_terms, *q_terms], sentences_per_section, exclude=used)
        picked = [i for i in picked if set(cands[i].tokens) & set(topic_terms)] if topic_terms else picked
        if not picked:
            continue
        used.extend(picked)
        out += [f"## {_heading(topic)}", "", paragraph(picked), ""]
    cited = numbering.cited()
    out.append(format_sources(cited))
    return "\n".join(out) + "\n"


async def asummarize(question: str, docs: Sequence[SourceDoc], max_sentences: int = 8) -> Summary:
    """:func:`summarize` in a worker thread."""
    return await asyncio.to_thread(summarize, question, list(docs), max_sentences)
