"""Writing an article from the research: the outline, each section's draft, the assembled draft.

Citations use the research's numbered sources (``state["sources"]``, ``[n]`` = the n-th stored source, the
numbering of the research brief), so the review's citation check verifies the article against what was
really retrieved.

- Outline: with a ``strategic`` model, a title and section headings (structured output); offline, the
  research's queries as headings (each query researched one aspect), padded with the evidence's key phrases.
- Section: with a ``smart`` model, the model writes the section from the numbered evidence (and, in a
  revision, the previous text and the reviewer's notes); offline, the evidence sentences that best match the
  heading are quoted with their citations -- in a revision, the notes' words join the heading's and the
  sentences the previous draft used give way to others where there are others.

The writing stage's nodes: :func:`outline`, :func:`approve_outline` (the human approves or edits it),
:func:`write_draft` (opens a drafting round), one ``draft_section`` ``Send`` per outlined section
(:func:`route_sections`, :func:`draft_section`: the sections finished before a crash are not written again)
and :func:`assemble_draft`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command, Send
from pydantic import BaseModel, Field

from config_schema.access import setting
from nodes.content import chat_model, events
from nodes.content.actions import APPROVE_OUTLINE, ask_action
from nodes.content.state import ContentState, decision_of, engine_flags, say
from nodes.research.state import Finding, findings_of
from nodes.research.write import by_document, heading, retrieved_docs, strip_sources_section
from nodes.run_context import context_values
from providers import offline
from providers.models import has_model
from providers.offline.keyphrases import phrases
from providers.offline.sentences import split_sentences
from providers.offline.tokens import terms, word_count
from providers.structured import StructuredOutputError, structured
from providers.types import CitedSentence, SourceDoc

SENTENCES_PER_SECTION = 3


class Outline(BaseModel):
    title: str = Field(min_length=1, max_length=300)
    sections: list[str] = Field(min_length=1, max_length=12)


def numbered_docs(findings: Sequence[Finding], sources: Sequence[Mapping[str, Any]]) -> list[tuple[int, SourceDoc]]:
    """The research's numbered sources as ``(n, document)``, documents joined per source (as the brief cites)."""
    by_key = {d.id: d for d in retrieved_docs(findings)}
    out = []
    for s in sorted(sources, key=lambda s: int(s["n"])):
        doc = by_key.get(str(s["id"]))
        if doc is None:  # a source stored without its document (should not happen): cite what is stored
            doc = SourceDoc(id=str(s["id"]), url=str(s.get("url") or ""), title=str(s.get("title") or ""),
                            text=str(s.get("excerpt") or ""))
        out.append((int(s["n"]), doc))
    return out


def evidence(findings: Sequence[Finding], sources: Sequence[Mapping[str, Any]]) -> list[str]:
    """The research's learnings as lines ``sentence [n]``, citing only numbered sources."""
    number = {str(s["id"]): int(s["n"]) for s in sources}
    out = []
    for f in by_document([f for f in findings if not f.failed]):
        for s in f.learnings:
            marks = "".join(f"[{number[i]}]" for i in s.source_ids if i in number)
            if marks:
                out.append(f"{s.text} {marks}")
    return out


def offline_outline(topic: str, queries: Sequence[str], findings: Sequence[Finding], n: int) -> Outline:
    sections: list[str] = []
    seen: set[str] = set()

    def add(text: str) -> None:
        key = " ".join(terms(text))
        if key and key not in seen and len(sections) < n:
            seen.add(key)
            sections.append(heading(text))

    for q in queries:
        add(q)
    if len(sections) < n:
        for p in phrases([s.text for f in findings for s in f.learnings], top=n * 2):
            add(p)
    return Outline(title=heading(topic), sections=sections or [heading(topic)])


async def model_outline(
    model: Any, topic: str, angle: str, lines: Sequence[str], n: int, config: RunnableConfig | None
) -> Outline:
    prompt = [
        SystemMessage(content="You are an editor outlining an article that only uses the given research."),
        HumanMessage(
            content=(
                f"Topic: {topic}\nAngle: {angle or '-'}\nWrite a title and at most {n} section headings.\n\n"
                "Research:\n" + "\n".join(f"- {line}" for line in lines[:60])
            )
        ),
    ]
    outline = await structured(model, Outline, prompt, config=config)
    return Outline(title=outline.title, sections=outline.sections[:n])


async def outline_for(
    model: Any,
    topic: str,
    angle: str,
    queries: Sequence[str],
    findings: Sequence[Finding],
    sources: Sequence[Mapping[str, Any]],
    n: int,
    config: RunnableConfig | None,
) -> tuple[Outline, list[str]]:
    """The outline and notes (a model answer that could not be read falls back to the offline outline)."""
    if model is not None:
        try:
            return await model_outline(model, topic, angle, evidence(findings, sources), n, config), []
        except StructuredOutputError as exc:
            note = f"the model's outline could not be read, used the research's queries instead: {exc}"
            return offline_outline(topic, queries, findings, n), [note]
    return offline_outline(topic, queries, findings, n), []


def offline_section(
    topic: str,
    section: str,
    docs: Sequence[tuple[int, SourceDoc]],
    *,
    notes: str = "",
    previous: str = "",
    used_elsewhere: Sequence[str] = (),
) -> tuple[str, list[str]]:
    """Quoted evidence for one section, each sentence with its ``[n]``, and the sentences chosen
    (deterministic)."""
    by_id = {d.id: n for n, d in docs}
    question = " ".join(x for x in (section, topic, notes) if x)
    pool = offline.summarize(question, [d for _, d in docs], SENTENCES_PER_SECTION * 4).sentences
    avoid = {" ".join(s.split()) for s in used_elsewhere}
    fresh = [s for s in pool if " ".join(s.text.split()) not in avoid]
    if previous:
        before = {" ".join(s.split()) for s in split_sentences(previous)}
        unused = [s for s in fresh if cite(" ".join(s.text.split()), _marks(s, by_id)) not in before]
        if unused:
            fresh = unused + [s for s in fresh if s not in unused]
    chosen = (fresh or pool)[:SENTENCES_PER_SECTION]
    return " ".join(cite(s.text, _marks(s, by_id)) for s in chosen), [s.text for s in chosen]


def _marks(sentence: CitedSentence, by_id: Mapping[str, int]) -> str:
    return "".join(f"[{by_id[i]}]" for i in sentence.source_ids if i in by_id)


def cite(text: str, marks: str) -> str:
    """``text`` with its citation marks before the closing punctuation (``... night [2].``), so a sentence
    splitter keeps the marks with their sentence."""
    text = text.strip()
    if not marks:
        return text
    end = len(text.rstrip(".!?…\"'”’"))
    return f"{text[:end]} {marks}{text[end:]}"


async def model_section(
    model: Any,
    *,
    topic: str,
    angle: str,
    title: str,
    section: str,
    lines: Sequence[str],
    notes: str,
    previous: str,
    config: RunnableConfig | None,
) -> str:
    task = f"Write the section \"{section}\" of the article \"{title}\" (topic: {topic}; angle: {angle or '-'})."
    if notes:
        task += f"\nThis is a revision. The reviewer asked: {notes}\nPrevious version of this section:\n{previous}"
    prompt = [
        SystemMessage(
            content=(
                "You write one section of an article in markdown prose (no heading). Use only the research "
                "lines given; cite every factual sentence with the bracketed numbers they carry, e.g. [1]. "
                "Do not write a sources section."
            )
        ),
        HumanMessage(content=task + "\n\nResearch:\n" + "\n".join(f"- {line}" for line in lines[:60])),
    ]
    reply = await model.ainvoke(prompt, config=config)
    content = getattr(reply, "content", reply)
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    body = strip_sources_section(str(content)).strip()
    # a heading the model wrote anyway is dropped: the outline owns the headings
    return "\n".join(line for line in body.split("\n") if not line.lstrip().startswith("#")).strip()


def sources_section(docs: Sequence[tuple[int, SourceDoc]], markdown: str) -> str:
    """The ``## Sources`` list of the numbered sources ``markdown`` cites (numbers kept)."""
    from reports.citations import find_citations

    cited = set(find_citations(markdown))
    lines = ["## Sources", ""]
    for n, d in docs:
        if n in cited:
            label = d.label().replace("[", "(").replace("]", ")")
            lines.append(f"- [{n}] [{label}]({d.url})" if d.url else f"- [{n}] {label}")
    return "\n".join(lines)


def assemble(title: str, sections: Sequence[tuple[str, str]], docs: Sequence[tuple[int, SourceDoc]]) -> str:
    body = f"# {title}\n\n" + "\n\n".join(f"## {h}\n\n{text}" for h, text in sections)
    return body + "\n\n" + sources_section(docs, body) + "\n"


def words(markdown: str) -> int:
    return int(word_count(markdown))


# --- the writing stage's nodes -------------------------------------------------------------------------------


async def outline(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    model = await chat_model(values, "strategic")
    offline = not has_model(values, "smart")
    events.stage_change("writing", "outlining the article", offline=offline)
    findings = findings_of(state.get("findings"))
    result, notes = await outline_for(
        model,
        str(state.get("topic") or ""),
        str(state.get("angle") or ""),
        [q["query"] for q in state.get("queries") or []],
        findings,
        state.get("sources") or [],
        int(setting(values, "content.outline_sections")),
        config,
    )
    events.step("writing", "outline", f"{len(result.sections)} sections", sections=result.sections)
    return {
        "content_stage": "writing",
        "content_status": "waiting",
        "outline": result.model_dump(),
        "notes": [*(state.get("notes") or []), *notes],
        "engine": engine_flags(state, "writing", offline),
        "messages": [say("writing", f"Outline of {result.title!r}: " + "; ".join(result.sections), offline)],
    }


def approve_outline(state: ContentState) -> Command[Any]:
    choice = ask_action(APPROVE_OUTLINE, "Approve the outline or edit it.", data={"outline": state.get("outline")})
    decision = decision_of("writing", choice)
    if choice.action == "edit_outline":
        current = Outline.model_validate(state.get("outline") or {"title": state.get("topic") or "Article",
                                                                   "sections": ["Overview"]})
        edited = Outline(title=choice.parameters.get("title") or current.title,
                         sections=[" ".join(s.split()) for s in choice.parameters["sections"]])
        return Command(update={"outline": edited.model_dump(), "decisions": [decision]}, goto="write_draft")
    return Command(update={"decisions": [decision]}, goto="write_draft")


async def write_draft(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    """Open a drafting round (the first, or a revision after the review asked for changes)."""
    rounds = int(state.get("draft_round") or 0) + 1
    offline = not has_model(context_values(runtime), "smart")
    notes = state.get("review_notes") or []
    if rounds > 1:
        events.stage_change("writing", f"revising the draft (round {rounds}): {notes[-1]['notes'] if notes else ''}",
                            offline=offline)
    sections = (state.get("outline") or {}).get("sections") or []
    events.step("writing", "draft", f"drafting {len(sections)} sections (round {rounds})", total=len(sections))
    return {"content_stage": "writing", "content_status": "processing", "draft_round": rounds}


def route_sections(state: ContentState) -> list[Send]:
    outline_ = state.get("outline") or {}
    rounds = int(state.get("draft_round") or 1)
    notes = state.get("review_notes") or []
    previous = {d["index"]: d["text"] for d in state.get("section_drafts") or [] if d["round"] == rounds - 1}
    base = {
        "round": rounds,
        "topic": state.get("topic") or "",
        "angle": state.get("angle") or "",
        "title": outline_.get("title") or state.get("topic") or "",
        "sections": list(outline_.get("sections") or []),
        "notes": notes[-1]["notes"] if notes and rounds > 1 else "",
    }
    # each branch gets the numbered evidence only (not every finding): Send arguments live in the checkpoint
    findings = findings_of(state.get("findings"))
    sources = state.get("sources") or []
    base["lines"] = evidence(findings, sources)
    base["docs"] = [{"n": n, "doc": d.model_dump()} for n, d in numbered_docs(findings, sources)]
    return [
        Send("draft_section", {**base, "index": i, "heading": h, "previous": previous.get(i, "")})
        for i, h in enumerate(base["sections"])
    ]


async def draft_section(arg: dict[str, Any], config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """One section of the draft (a ``Send`` branch)."""
    values = context_values(runtime)
    model = await chat_model(values, "smart")
    index, heading_ = int(arg["index"]), str(arg["heading"])
    if model is not None:
        text = await model_section(
            model, topic=arg["topic"], angle=arg["angle"], title=arg["title"], section=heading_,
            lines=arg["lines"], notes=arg["notes"], previous=arg["previous"], config=config,
        )
    else:
        docs = [(int(d["n"]), SourceDoc.model_validate(d["doc"])) for d in arg["docs"]]

        def offline_text() -> str:
            # earlier sections' choices are recomputed (deterministic) so sections do not repeat each other
            used: list[str] = []
            text = ""
            for i, h in enumerate(arg["sections"][: index + 1]):
                text, chosen = offline_section(arg["topic"], h, docs, notes=arg["notes"],
                                               previous=arg["previous"] if i == index else "", used_elsewhere=used)
                used.extend(chosen)
            return text

        text = await asyncio.to_thread(offline_text)
    events.emit(
        events.DRAFT_UPDATED,
        {"round": arg["round"], "section": index, "heading": heading_, "words": words(text), "complete": False,
         "offline": model is None},
    )
    return {"section_drafts": [{"round": arg["round"], "index": index, "heading": heading_, "text": text}]}


async def assemble_draft(state: ContentState) -> dict[str, Any]:
    rounds = int(state.get("draft_round") or 1)
    parts = sorted((d for d in state.get("section_drafts") or [] if d["round"] == rounds), key=lambda d: d["index"])
    title = (state.get("outline") or {}).get("title") or str(state.get("topic") or "")
    docs = numbered_docs(findings_of(state.get("findings")), state.get("sources") or [])
    draft = assemble(title, [(d["heading"], d["text"]) for d in parts], docs)
    offline = bool((state.get("engine") or {}).get("writing", True))
    events.emit(events.DRAFT_UPDATED, {"round": rounds, "words": words(draft), "complete": True, "offline": offline})
    return {"draft": draft, "messages": [say("writing", f"Draft (round {rounds}):\n\n{draft}", offline)]}
