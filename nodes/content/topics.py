"""Topic discovery: candidate topics for a category / keywords, found in the session's sources.

The sources are the research retrievers (:func:`nodes.sources.gather`, source mode web | local | hybrid).
With a ``strategic`` model, the model proposes topics from the retrieved titles and excerpts (structured
output); without one, the offline engine ranks the sources' recurring key phrases
(:func:`providers.offline.keyphrases.phrases`) and gives each the quoted sentence that best explains it as its angle.
Either way each topic is ``{id, title, angle, score, sources}``, ranked best first; ``score`` is the share of
retrieved documents that mention the topic (0..1) and ``sources`` how many do.

The topic stage's nodes: :func:`route_start` (the first stage), :func:`discover_topics` and
:func:`choose_topic` (the human selects a topic, enters their own, or asks for others).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command
from pydantic import BaseModel, Field

from config_schema.access import setting
from nodes.content import chat_model, events
from nodes.content.actions import (
    CHOOSE_TOPIC,
    ask_action,
    narrowed,
)
from nodes.content.state import INITIAL_STAGES, ContentState, decision_of, engine_flags, say, source_mode_of
from nodes.research.state import ResearchFailed
from nodes.research.write import heading
from nodes.run_context import context_values, run_user
from nodes.sources import SourceUnavailable, gather
from providers import offline
from providers.models import has_model
from providers.offline.keyphrases import phrases
from providers.offline.tokens import terms
from providers.structured import StructuredOutputError, structured
from providers.types import SourceDoc

log = structlog.get_logger("clew.content.topics")

MAX_ANGLE_CHARS = 280


class _Topic(BaseModel):
    title: str = Field(min_length=1, max_length=200)
    angle: str = Field(default="", max_length=MAX_ANGLE_CHARS)


class TopicList(BaseModel):
    """What the strategic model returns."""

    topics: list[_Topic] = Field(min_length=1)


def discovery_query(category: str, keywords: Sequence[str]) -> str:
    return " ".join([category.strip(), *(k.strip() for k in keywords)]).strip()


def _mentions(doc: SourceDoc, title: str) -> bool:
    words = set(terms(doc.title + " " + doc.text))
    wanted = terms(title)
    return bool(wanted) and all(w in words for w in wanted)


def _ranked(candidates: Sequence[tuple[str, str]], docs: Sequence[SourceDoc], n: int) -> list[dict[str, Any]]:
    seen: set[str] = set()
    scored = []
    for order, (title, angle) in enumerate(candidates):
        key = " ".join(terms(title))
        if not key or key in seen:
            continue
        seen.add(key)
        hits = sum(1 for d in docs if _mentions(d, title))
        scored.append((-hits, order, title, angle, hits))
    scored.sort()
    out = []
    for i, (_, _, title, angle, hits) in enumerate(scored[:n], start=1):
        out.append(
            {
                "id": f"t{i}",
                "title": title,
                "angle": " ".join(angle.split())[:MAX_ANGLE_CHARS],
                "score": round(hits / len(docs), 3) if docs else 0.0,
                "sources": hits,
            }
        )
    return out


def offline_topics(query: str, docs: Sequence[SourceDoc], n: int) -> list[dict[str, Any]]:
    """Key phrases of the sources that are not just the query's own words, each with a quoted angle."""
    asked = set(terms(query))
    candidates = []
    for phrase in phrases([f"{d.title}. {d.text}" for d in docs], top=n * 4):
        words = terms(phrase)
        if not words or set(words) <= asked:
            continue
        summary = offline.summarize(phrase, docs, 1)
        angle = summary.sentences[0].text if summary.sentences else ""
        candidates.append((heading(phrase), angle))
    return _ranked(candidates, docs, n)


async def model_topics(
    model: Any, query: str, docs: Sequence[SourceDoc], n: int, avoid: Sequence[str], config: RunnableConfig | None
) -> list[dict[str, Any]]:
    catalogue = "\n".join(f"- {d.label()}: {' '.join(d.text.split())[:300]}" for d in docs[:20])
    prompt = [
        SystemMessage(content="You are an editor choosing article topics that the given sources can support."),
        HumanMessage(
            content=(
                f"Category / keywords: {query}\nPropose {n} distinct article topics, best first, each with a "
                "one-line angle (why a reader cares). Use only what these sources cover:\n"
                + catalogue
                + ("\n\nDo not propose these again:\n" + "\n".join(f"- {a}" for a in avoid) if avoid else "")
            )
        ),
    ]
    result = await structured(model, TopicList, prompt, config=config)
    return _ranked([(t.title, t.angle) for t in result.topics], docs, n)


async def discover(
    *,
    category: str,
    keywords: Sequence[str],
    source_mode: str,
    user_id: str,
    values: Mapping[str, Any] | None,
    n: int,
    avoid: Sequence[str] = (),
    config: RunnableConfig | None = None,
) -> tuple[list[dict[str, Any]], list[str], bool]:
    """``(topics, notes, offline)``; raises :class:`ResearchFailed` when the sources give nothing to go on."""
    query = discovery_query(category, keywords)
    if not query:
        raise ResearchFailed("topic discovery needs a category or keywords (session context)")
    try:
        docs, notes = await gather(query, source_mode, user_id, values)
    except SourceUnavailable as exc:
        raise ResearchFailed(f"topic discovery found no sources: {exc}") from exc
    if not docs:
        raise ResearchFailed(f"topic discovery found no sources for {query!r} (source mode {source_mode})")

    model = await chat_model(values, "strategic")
    if model is not None:
        try:
            return await model_topics(model, query, docs, n, avoid, config), notes, False
        except StructuredOutputError as exc:
            notes.append(f"the model's topics could not be read, ranked the sources' key phrases instead: {exc}")
    avoided = {a.lower() for a in avoid}
    topics = await asyncio.to_thread(offline_topics, query, docs, n + len(avoided))
    topics = [t for t in topics if t["title"].lower() not in avoided][:n] or topics[:n]
    for i, t in enumerate(topics, start=1):
        t["id"] = f"t{i}"
    return topics, notes, True


# --- the topic stage's nodes ---------------------------------------------------------------------------------


def route_start(state: ContentState) -> str:
    """The first stage: ``initial_stage`` when given; otherwise a given ``topic`` is the chosen one (the run
    starts at research, as a session started with ``initialStage: research`` does), else topic discovery."""
    stage = state.get("initial_stage") or ("research" if str(state.get("topic") or "").strip() else "topic")
    if stage not in INITIAL_STAGES:
        raise ResearchFailed(f"unknown initial stage {stage!r}: expected one of {', '.join(INITIAL_STAGES)}")
    if stage == "research":
        if not str(state.get("topic") or "").strip():
            raise ResearchFailed("a session starting at the research stage needs a topic")
        return "start_research"
    return "discover_topics"


async def discover_topics(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    offline = not has_model(values, "strategic")
    category = str(state.get("category") or "")
    keywords = list(state.get("keywords") or [])
    events.stage_change("topic", f"discovering topics for {' '.join([category, *keywords]).strip()!r}",
                        offline=offline)
    rounds = int(state.get("discovery_round") or 0) + 1
    seen = [t["title"] for t in state.get("topics") or []]
    topics, notes, offline = await discover(
        category=category,
        keywords=keywords,
        source_mode=source_mode_of(state, values),
        user_id=run_user(config),
        values=values,
        n=int(setting(values, "content.topic_count")),
        avoid=seen,
        config=config,
    )
    events.emit(events.TOPICS_DISCOVERED, {"topics": topics, "round": rounds, "offline": offline})
    listing = "\n".join(f"{t['id']}. {t['title']} -- {t['angle']}" for t in topics)
    return {
        "content_stage": "topic",
        "content_status": "waiting",
        "topics": topics,
        "discovery_round": rounds,
        "notes": [*(state.get("notes") or []), *notes],
        "engine": engine_flags(state, "topic", offline),
        "messages": [say("topic", f"{len(topics)} candidate topics:\n{listing}", offline)],
    }


def choose_topic(state: ContentState) -> Command[Any]:
    topics = list(state.get("topics") or [])
    select, custom, again = CHOOSE_TOPIC.actions
    offered = [custom, again]
    if topics:  # only topics just discovered can be selected
        offered.insert(0, narrowed(select, topicId={"enum": [t["id"] for t in topics]}))
    choice = ask_action(CHOOSE_TOPIC, "Choose a topic, enter your own, or look for others.", offered,
                        data={"topics": topics})
    decision = decision_of("topic", choice)
    p = choice.parameters
    if choice.action == "discover_topics":
        update: dict[str, Any] = {"decisions": [decision]}
        if p.get("category") is not None:
            update["category"] = p["category"]
        if p.get("keywords") is not None:
            update["keywords"] = list(p["keywords"])
        return Command(update=update, goto="discover_topics")
    if choice.action == "select_topic":
        chosen = next(t for t in topics if t["id"] == p["topicId"])
        topic, angle = chosen["title"], chosen.get("angle") or ""
    else:
        topic, angle = " ".join(str(p["topic"]).split()), str(p.get("angle") or "")
    return Command(update={"topic": topic, "angle": angle, "decisions": [decision]}, goto="start_research")
