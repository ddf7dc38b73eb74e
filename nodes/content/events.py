"""The content pipeline's stream events, named as in the design (seed 004).

Nodes send them as LangGraph ``custom`` chunks ``{"event": <name>, "data": {...}}``; the engine persists
them with the run's other events, and ``GET /api/v1/sessions/{id}/events`` serves them under their own names
(:func:`session_event`). The pending interrupt's ``interrupt`` event becomes a ``stage.change`` with status
``waiting`` and the actions it offers, so a client learns when and what it may decide from the same stream.

| event | data |
|---|---|
| ``stage.change`` | ``{stage, status: processing | waiting | done, progress, offline, message, availableActions?}`` |
| ``progress`` | ``{stage, step, message, completed?, total?}`` (also each finished research query) |
| ``topics.discovered`` | ``{topics: [{id, title, angle, score, sources}], offline}`` |
| ``research.completed`` | ``{topic, queries, findings, sources, failed, quality, offline}`` |
| ``draft.updated`` | ``{round, section?, heading?, words, complete, offline}`` |
| ``review.completed`` | ``{round, passed, checks: [{id, passed, detail}], words, grade}`` |
| ``error`` | the run's error ``{error, message}`` |
"""

from __future__ import annotations

import json
from typing import Any

from nodes.research import progress as research_progress

STAGE_CHANGE = "stage.change"
PROGRESS = "progress"
TOPICS_DISCOVERED = "topics.discovered"
RESEARCH_COMPLETED = "research.completed"
DRAFT_UPDATED = "draft.updated"
REVIEW_COMPLETED = "review.completed"
ERROR = "error"

EVENT_NAMES: tuple[str, ...] = (
    STAGE_CHANGE, PROGRESS, TOPICS_DISCOVERED, RESEARCH_COMPLETED, DRAFT_UPDATED, REVIEW_COMPLETED, ERROR,
)

STAGES: tuple[str, ...] = ("topic", "research", "writing", "styling", "review", "done")
# how far along a session is when it works on (or waits in) a stage, in percent
STAGE_PROGRESS: dict[str, int] = {"topic": 10, "research": 30, "writing": 55, "styling": 75, "review": 90, "done": 100}

OFFLINE_NOTE = "offline engine: no model is configured, so this stage quotes and arranges the sources"


def emit(name: str, data: dict[str, Any]) -> None:
    """Send a design event from a node (a no-op outside a run)."""
    research_progress.emit({"event": name, "data": data})


def stage_change(stage: str, message: str, *, offline: bool, status: str = "processing") -> None:
    emit(
        STAGE_CHANGE,
        {
            "stage": stage,
            "status": status,
            "progress": STAGE_PROGRESS.get(stage, 0),
            "offline": offline,
            "message": message + (f" ({OFFLINE_NOTE})" if offline else ""),
        },
    )


def step(stage: str, step_name: str, message: str, **extra: Any) -> None:
    emit(PROGRESS, {"stage": stage, "step": step_name, "message": message, **extra})


def session_event(event: str, data: str) -> tuple[str, str] | None:
    """Map one persisted run event to the session stream's ``(name, json data)``, or None to skip it."""
    if event == "custom":
        try:
            chunk = json.loads(data)
        except ValueError:
            return None
        if isinstance(chunk, dict) and chunk.get("event") in EVENT_NAMES and "data" in chunk:
            return str(chunk["event"]), json.dumps(chunk["data"], default=str)
        if isinstance(chunk, dict) and chunk.get("type") == research_progress.PROGRESS:
            # the research nodes' own progress (one per finished query) as the design's `progress`
            return PROGRESS, json.dumps(
                {
                    "stage": "research",
                    "step": "query",
                    "message": f"researched {chunk.get('current_query')!r}",
                    "completed": chunk.get("completed_queries"),
                    "total": chunk.get("total_queries"),
                },
                default=str,
            )
        return None
    if event == "interrupt":
        try:
            item = json.loads(data)
        except ValueError:
            return None
        value = (item or {}).get("value") or {}
        info = value.get("data") or {}
        if not info.get("content_pipeline"):
            return None
        stage = str(info.get("stage") or "")
        return STAGE_CHANGE, json.dumps(
            {
                "stage": stage,
                "status": "waiting",
                "progress": STAGE_PROGRESS.get(stage, 0),
                "message": value.get("message"),
                "interruptId": item.get("id"),
                "availableActions": info.get("actions") or [],
            },
            default=str,
        )
    if event == "error":
        return ERROR, data
    return None
