"""Writing the report: markdown with inline ``[n]`` citations and a numbered source list.

The numbering is fixed here, from the documents the run's branches retrieved, and returned with the report
as :class:`nodes.research.state.NumberedSource` entries for the state -- so ``[n]`` always means "the n-th
stored source" and the citation check (:mod:`nodes.research.review`) can verify it. The ``write`` node
(:func:`write`) writes the report of a research's findings.

- With a ``smart`` model: the model gets the learnings (already carrying their ``[n]``) and the numbered
  source list, and writes the report in the configured tone and length. Any source list it writes is cut
  off and replaced by one built from the stored sources it actually cited; a number it invents stays in the
  text, where the check finds it.
- Without a model (the offline engine): the report is assembled from quoted sentences only -- a summary
  chosen across all documents (:func:`providers.offline.summarize`), then one section per research query
  with that branch's cited sentences -- numbered by first citation, so it never cites anything it did not
  retrieve. It is deterministic: the same sources give the same bytes.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from config_schema.access import setting
from nodes.research import progress
from nodes.research.state import Finding, NumberedSource, ResearchFailed, ResearchState, findings_of
from nodes.run_context import context_values
from providers import offline
from providers.models import get_model
from providers.offline.tokens import word_count
from providers.types import CitedSentence, SourceDoc, dedupe_sources, quoted_pages
from reports.citations import CitationNumbering, find_citations

_SOURCES_HEADING = re.compile(
    r"^\s*(#{1,6}\s*|\*\*)?\s*(sources|references|bibliography|citations|works cited|参考文献|参考资料|来源)\b",
    re.IGNORECASE,
)


def heading(text: str) -> str:
    text = " ".join(text.split())
    return text[:1].upper() + text[1:]


def source_key(doc: SourceDoc) -> str:
    """What a citation points at: a section of a knowledge-base document (``DOCUMENT_ID#sN``; the whole
    document for chunks stored before sections were recorded), a web page's URL, else the id."""
    document_id = doc.metadata.get("document_id")
    if document_id:
        section = doc.metadata.get("section_index")
        return f"{document_id}#s{section}" if isinstance(section, int) else str(document_id)
    return str(doc.url or doc.id)


def _label(doc: SourceDoc) -> str:
    title = doc.label()
    filename = str(doc.metadata.get("filename") or "")
    if filename and filename not in title:
        return f"{title} ({filename})"
    return title


def retrieved_docs(findings: Sequence[Finding]) -> list[SourceDoc]:
    """The documents the successful branches kept, one per :func:`source_key` (chunks of one document are
    joined), in branch order."""
    grouped: dict[str, list[SourceDoc]] = {}
    for f in findings:
        if f.failed:
            continue
        for d in dedupe_sources(f.docs):
            chunks = grouped.setdefault(source_key(d), [])
            if all(c.id != d.id for c in chunks):
                chunks.append(d)
    out = []
    for key, chunks in grouped.items():
        first = chunks[0]
        meta = {k: v for k, v in first.metadata.items() if k not in ("score",)}
        meta["chunks"] = [c.id for c in chunks]
        pages = sorted({int(p) for c in chunks for p in (c.metadata.get("pages") or []) if isinstance(p, int)})
        if pages:
            meta["pages"] = pages
            meta["page"] = pages[0]
        marks: list[list[int]] = []  # the chunks' page marks, at their offsets in the joined text
        offset = 0
        for c in chunks:
            marks += [[offset + int(m[0]), int(m[1])] for m in c.metadata.get("page_marks") or []]
            offset += len(c.text) + 2
        if marks:
            meta["page_marks"] = marks
        out.append(_located(SourceDoc(id=key, url=first.url, title=_label(first),
                                      text="\n\n".join(c.text for c in chunks), metadata=meta)))
    return out


def _located(doc: SourceDoc) -> SourceDoc:
    """``doc`` with its location (``p. 12, §4.1 Title``) in its metadata and after its title (the label)."""
    meta = dict(doc.metadata)
    where = doc.location()
    for key in ("location", "section", "heading_path"):
        meta.pop(key, None)
    if where:
        meta["location"] = where
        meta["section"] = " ".join(str((meta.get("headings") or [""])[-1]).split())
        meta["heading_path"] = " › ".join(str(h) for h in meta.get("headings") or [])
    label = str(meta.get("label") or doc.title)
    meta["label"] = label
    return doc.model_copy(update={"title": f"{label}, {where}" if where else label, "metadata": meta})


def cited_on_pages(doc: SourceDoc, quotes: Sequence[str]) -> SourceDoc:
    """``doc`` located at the pages of the sentences a report quotes from it, not at its section's page
    range (a section over pp. 11–13 whose cited sentence is on p. 12 is cited ``p. 12``); unchanged when
    the pages cannot be told."""
    pages = quoted_pages(doc, quotes)
    if not pages or pages == doc.metadata.get("pages"):
        return doc
    meta = {**doc.metadata, "pages": pages, "page": pages[0]}
    return _located(doc.model_copy(update={"metadata": meta}))


def by_document(findings: Sequence[Finding]) -> list[Finding]:
    """The findings with each learning citing documents (:func:`source_key`) instead of chunks."""
    key_of = {d.id: source_key(d) for f in findings for d in f.docs}
    out = []
    for f in findings:
        learnings = [
            CitedSentence(text=s.text, source_ids=list(dict.fromkeys(key_of.get(i, i) for i in s.source_ids)))
            for s in f.learnings
        ]
        out.append(f.model_copy(update={"learnings": learnings}))
    return out


def offline_report(
    question: str,
    findings: Sequence[Finding],
    *,
    word_budget: int = 1500,
    summary_sentences: int = 4,
    sentences_per_section: int = 3,
    open_questions: Sequence[str] = (),
    title: str | None = None,
) -> tuple[str, list[NumberedSource]]:
    """The offline engine's report over ``findings`` and its numbered sources (see the module docstring)."""
    ok = by_document([f for f in findings if not f.failed])
    docs = retrieved_docs(ok)
    numbering = CitationNumbering(docs)
    out = [f"# {heading(title or question)}", "", f"> {offline.OFFLINE_NOTICE}", ""]
    if not docs:
        out.append("No source text was available to answer this question.")
        return "\n".join(out) + "\n", []
    used: set[str] = set()
    quotes: dict[str, list[str]] = {}  # source id -> the sentences the report quotes from it

    def paragraph(sentences: Sequence[CitedSentence]) -> str:
        parts = []
        for s in sentences:
            marks = numbering.marks(s.source_ids)
            if marks:
                used.add(s.text.lower())
                for i in s.source_ids:
                    quotes.setdefault(i, []).append(s.text)
                parts.append(f"{s.text} {marks}")
        return " ".join(parts)

    summary = offline.summarize(question, docs, summary_sentences)
    lead = paragraph(summary.sentences)
    out += ["## Summary", "", lead or "The sources found do not answer the question directly.", ""]
    words = word_count(lead)
    multi_level = len({f.level for f in ok}) > 1
    current_level = 0
    for f in ok:
        picked = [s for s in f.learnings if s.text.lower() not in used][:sentences_per_section]
        if not picked:
            continue
        text = paragraph(picked)
        if not text:
            continue
        if words + word_count(text) > word_budget and words > 0:
            break
        words += word_count(text)
        if multi_level and f.level != current_level:
            current_level = f.level
            out += [f"## Level {f.level} findings", ""]
        label = "Main findings" if f.query.strip().lower() == question.strip().lower() else heading(f.query)
        out += [f"{'###' if multi_level else '##'} {label}", "", text, ""]
    if open_questions:
        # Offline follow-ups are key-phrase searches ("settles run"), not questions: say what they are.
        out += ["## Further searches", "", "Searches the sources suggested that this research did not run:", ""]
        out += [f"- {q}" for q in open_questions] + [""]
    cited = [cited_on_pages(d, quotes.get(d.id, [])) for d in numbering.cited()]
    out.append(offline.format_sources(cited))
    return "\n".join(out) + "\n", [NumberedSource.of(n, d) for n, d in enumerate(cited, start=1)]


def strip_sources_section(markdown: str) -> str:
    """The text before a model-written Sources / References section (clew writes its own list)."""
    lines = markdown.rstrip().split("\n")
    for i, line in enumerate(lines):
        if i > 0 and _SOURCES_HEADING.match(line):
            return "\n".join(lines[:i]).rstrip()
    return "\n".join(lines).rstrip()


def reply_text(reply: Any) -> str:
    """The text of a chat model's reply (its content, or the text parts of a list content)."""
    content = getattr(reply, "content", reply)
    if isinstance(content, list):
        return "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    return str(content)


async def model_report(
    model: Any,
    question: str,
    findings: Sequence[Finding],
    values: Mapping[str, Any] | None,
    *,
    open_questions: Sequence[str] = (),
    config: RunnableConfig | None = None,
) -> tuple[str, list[NumberedSource]]:
    """A report written by ``model`` from the learnings, citing the numbered stored sources."""
    ok = by_document([f for f in findings if not f.failed])
    docs = retrieved_docs(ok)
    cited_ids = {i for f in ok for s in f.learnings for i in s.source_ids}
    quotes = {d.id: [s.text for f in ok for s in f.learnings if d.id in s.source_ids] for d in docs}
    listed = [cited_on_pages(d, quotes[d.id]) for d in docs if d.id in cited_ids] or docs
    number = {d.id: n for n, d in enumerate(listed, start=1)}
    notes = []
    for f in ok:
        lines = [
            f"- {s.text} " + "".join(f"[{number[i]}]" for i in s.source_ids if i in number)
            for s in f.learnings
            if any(i in number for i in s.source_ids)
        ]
        if lines:
            notes.append(f"Query: {f.query}\n" + "\n".join(lines))
    catalogue = "\n".join(
        f"[{n}] {d.label()}" + (f" <{d.url}>" if d.url else "")
        for d, n in ((d, number[d.id]) for d in listed)
    )
    tone = str(setting(values, "research.tone"))
    words = int(setting(values, "research.report_word_budget"))
    prompt = [
        SystemMessage(
            content=(
                "You write well-structured research reports in markdown. Use only the provided learnings. "
                "Cite every factual statement with the bracketed numbers of its sources, e.g. [1] or [2][3]; "
                "use only numbers from the source list. Do not write a sources or references section."
            )
        ),
        HumanMessage(
            content=(
                f"Question: {question}\nTone: {tone}\nLength: about {words} words.\n\n"
                "Learnings:\n\n"
                + "\n\n".join(notes)
                + "\n\nSources:\n"
                + catalogue
                + (
                    "\n\nOpen questions to mention at the end:\n"
                    + "\n".join(f"- {q}" for q in open_questions)
                    if open_questions
                    else ""
                )
                + "\n\nStart with a level-1 heading (the report's title)."
            )
        ),
    ]
    reply = await model.ainvoke(prompt, config=config)
    body = strip_sources_section(reply_text(reply))
    if not body.lstrip().startswith("#"):
        body = f"# {heading(question)}\n\n{body}"
    cited = [n for n in await asyncio.to_thread(find_citations, body) if 1 <= n <= len(listed)]
    markdown = body + "\n\n" + offline.format_sources(listed, only=cited) + "\n"
    return markdown, [NumberedSource.of(n, d) for n, d in enumerate(listed, start=1)]


async def write_report(
    question: str,
    findings: Sequence[Finding],
    values: Mapping[str, Any] | None,
    *,
    open_questions: Sequence[str] = (),
    config: RunnableConfig | None = None,
) -> tuple[str, list[NumberedSource], bool]:
    """The report, its numbered sources, and whether it was written offline (no model configured)."""
    model = get_model(values, "smart")
    if model is None:
        budget = int(setting(values, "research.report_word_budget"))
        md, numbered = await asyncio.to_thread(
            lambda: offline_report(question, findings, word_budget=budget, open_questions=open_questions)
        )
        return md, numbered, True
    md, numbered = await model_report(
        model, question, findings, values, open_questions=open_questions, config=config
    )
    return md, numbered, False


def _open_questions(state: Mapping[str, Any]) -> list[str]:
    if state.get("mode") != "deep":
        return []
    findings = findings_of(state.get("findings"))
    last = max((f.level for f in findings), default=0)
    asked = {q["query"].lower() for q in state.get("queries") or []}
    out: list[str] = []
    for f in findings:
        if f.level == last and not f.failed:
            out.extend(q for q in f.follow_ups if q.lower() not in asked and q not in out)
    return out[:5]


async def write(state: ResearchState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """The ``write`` node: the findings' report (deep research lists the last level's open questions)."""
    progress.stage("writing", "writing the report")
    findings = findings_of(state.get("findings"))
    if not any(not f.failed for f in findings):
        raise ResearchFailed("no query of this research found any usable source")
    markdown, numbered, offline = await write_report(
        state["question"],
        findings,
        context_values(runtime),
        open_questions=_open_questions(state),
        config=config,
    )
    notes = list(state.get("notes") or [])
    for f in findings:
        notes.extend(f"{f.query}: {n}" for n in f.notes if f"{f.query}: {n}" not in notes)
        if f.failed:
            notes.append(f"{f.query}: {f.error}")
    return {
        "report": markdown,
        "sources": [s.model_dump() for s in numbered],
        "offline": offline,
        "stage": "written",
        "notes": notes,
    }
