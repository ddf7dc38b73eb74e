"""The content pipeline's state, its input, and what its stages' nodes share.

The state is plain JSON: the research state's keys (the research nodes run on them,
:class:`nodes.research.state.ResearchState`) plus the pipeline's own -- article id, stage, topics, chosen
topic, outline, draft, styled draft, review, final article and the history of decisions. ``engine`` records
which stages ran on the offline engine.
"""

from __future__ import annotations

import operator
import time
from collections.abc import Mapping
from typing import Annotated, Any

from langchain_core.messages import AIMessage
from typing_extensions import TypedDict

from config_schema.access import setting
from nodes.content import events
from nodes.content.actions import Choice
from nodes.research.state import ResearchState, checked_source_mode

GRAPH_ID = "content_pipeline"
INITIAL_STAGES = ("topic", "research")

# The design's per-stage UI capabilities (seed 004 `_get_capabilities`): hints for an editor UI, served as is.
CAPABILITIES: dict[str, list[str]] = {
    "topic": ["suggestions"],
    "research": ["suggestions", "autoComplete"],
    "writing": ["suggestions", "autoComplete", "grammarCheck"],
    "styling": ["suggestions", "autoComplete", "grammarCheck"],
    "review": ["suggestions", "grammarCheck"],
    "done": [],
}


class ContentState(ResearchState, total=False):
    """The research state's keys (the research nodes run on them) plus the pipeline's own."""

    article_id: str
    initial_stage: str
    content_stage: str
    content_status: str
    category: str
    keywords: list[str]
    discovery_round: int
    topics: list[dict[str, Any]]
    topic: str
    angle: str
    outline: dict[str, Any]
    draft_round: int
    section_drafts: Annotated[list[dict[str, Any]], operator.add]
    draft: str
    preset_choice: dict[str, Any]
    preset: dict[str, Any]
    styled: str
    review_round: int
    review_notes: list[dict[str, Any]]
    review: dict[str, Any]
    final_article: str
    decisions: Annotated[list[dict[str, Any]], operator.add]
    engine: dict[str, bool]


class ContentInput(TypedDict, total=False):
    """What a session's first run takes (``POST /api/v1/sessions`` builds it from the session context)."""

    article_id: str
    initial_stage: str
    category: str
    keywords: list[str]
    topic: str
    angle: str
    source_mode: str
    preset: str


def engine_flags(state: Mapping[str, Any], stage: str, offline: bool) -> dict[str, bool]:
    """The state's ``engine`` map with ``stage`` marked as run offline (True) or by a model (False)."""
    return {**(state.get("engine") or {}), stage: offline}


def say(stage: str, text: str, offline: bool) -> AIMessage:
    """A stage's answer message (``[stage] text``), saying so when the offline engine wrote it."""
    note = f"\n\n({events.OFFLINE_NOTE})" if offline else ""
    return AIMessage(content=f"[{stage}] {text}{note}")


def decision_of(stage: str, choice: Choice) -> dict[str, Any]:
    """The history entry of a human's decision at ``stage``."""
    return {"stage": stage, "action": choice.action, "parameters": choice.parameters, "at": time.time()}


def source_mode_of(state: Mapping[str, Any], values: Mapping[str, Any] | None) -> str:
    """The session's source mode (its input's, else ``research.source_mode``), checked."""
    return checked_source_mode(str(state.get("source_mode") or setting(values, "research.source_mode")))
