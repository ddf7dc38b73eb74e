"""The text of a section's drafts: its query and sources, citation marks, sentences, the offline draft.

A section cites its own numbered sources ``[1]..[k]`` (:func:`local_sources`); the writer
(:mod:`nodes.multi_agent.writer`) renumbers them into the report's list. The offline engine's draft quotes
the section's learnings, each with its marks (:func:`offline_draft`); a model's draft is cleaned of headings
and a sources section of its own (:func:`clean_body`). :func:`sentences_of` splits a draft so that a
citation stays with the sentence it belongs to -- the reviewer and the writer count and compare sentences.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from typing import Any

from nodes.research.state import Finding, NumberedSource
from nodes.research.write import retrieved_docs, strip_sources_section
from providers.offline.keyphrases import keyphrases
from providers.offline.sentences import split_sentences
from providers.offline.tokens import terms
from providers.types import CitedSentence, SourceDoc

SENTENCES_PER_SECTION = 5
MARK = re.compile(r"\[\s*\d{1,3}(?:\s*[-\u2013,;]\s*\d{1,3})*\s*\](?!\()")
_LEADING_MARKS = re.compile(r"^((?:\[\s*\d{1,3}(?:\s*[-\u2013,;]\s*\d{1,3})*\s*\](?!\()\s*)+)")
_CITED_END = re.compile(r"(\[\s*\d{1,3}(?:\s*[-\u2013,;]\s*\d{1,3})*\s*\][.!?])\s+(?=\S)")
"""A citation and the full stop after it end a sentence, whatever the next one starts with (the sentence
splitter wants a capital letter next, and quoted sentences may start with a lower-case name: "clew serves")."""


def section_query(title: str, question: str) -> str:
    """The search query of a section: its title, with the question's main phrase when the title lacks it."""
    title = " ".join(title.split())
    main = keyphrases(question, top=1)
    if not main:
        return title or question
    phrase = main[0].phrase
    if set(terms(phrase)) & set(terms(title)):
        return title
    return f"{phrase} {title}".strip()


def local_sources(finding: Finding) -> tuple[list[SourceDoc], list[NumberedSource]]:
    """The section's documents (one per document, chunks joined) and their local numbering ``[1]..[k]``."""
    docs = retrieved_docs([finding])
    return docs, [NumberedSource.of(n, d) for n, d in enumerate(docs, start=1)]


def cite_marks(ids: Sequence[str], number: Mapping[str, int]) -> str:
    return "".join(f"[{number[i]}]" for i in ids if i in number)


def with_marks(text: str, marks: str) -> str:
    """``text`` with its citation marks before the final punctuation: ``"It was built [1]."``."""
    t = text.rstrip()
    if t and t[-1] in ".!?。！？":
        return f"{t[:-1].rstrip()} {marks}{t[-1]}"
    return f"{t} {marks}"


def _at_cited_ends(sentence: str) -> list[str]:
    out, start = [], 0
    for m in _CITED_END.finditer(sentence):
        out.append(sentence[start : m.end(1)])
        start = m.end()
    out.append(sentence[start:])
    return [p.strip() for p in out if p.strip()]


def sentences_of(text: str) -> list[str]:
    """The sentences of a draft, a citation written after the full stop (``"It was. [1] Then"``) kept with
    the sentence it follows, and a cited full stop (``"[1]. "``) always ending one."""
    out: list[str] = []
    for sentence in (part for split in split_sentences(text) for part in _at_cited_ends(split)):
        lead = _LEADING_MARKS.match(sentence)
        if lead and out:
            out[-1] = f"{out[-1]} {lead.group(1).strip()}"
            sentence = sentence[lead.end() :].strip()
        if sentence:
            out.append(sentence)
    return out


def offline_draft(learnings: Sequence[CitedSentence], number: Mapping[str, int]) -> str:
    """The offline engine's section: the learnings (quoted sentences), each with its local citations."""
    parts = []
    for s in learnings[:SENTENCES_PER_SECTION]:
        marks = cite_marks(s.source_ids, number)
        if marks:
            parts.append(with_marks(s.text, marks))
    return " ".join(parts)


def clean_body(text: str) -> str:
    """A model's section body: no leading heading, no sources section of its own."""
    body = strip_sources_section(text.strip())
    lines = body.split("\n")
    while lines and (not lines[0].strip() or lines[0].lstrip().startswith("#")):
        lines.pop(0)
    return "\n".join(lines).strip()


def catalogue(sources: Sequence[Mapping[str, Any]]) -> str:
    return "\n".join(
        f"[{s['n']}] {s.get('title') or s.get('url') or s['id']}: {str(s.get('excerpt') or '')[:400]}"
        for s in sources
    )
