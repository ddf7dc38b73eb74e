"""The actions a content-pipeline stage accepts, declared once and carried by the stage's interrupt.

Every human decision of the pipeline is a strong interrupt (:mod:`nodes.interrupts`, kind ``input``) whose
payload lists the actions it accepts::

    {"type": "clew.interrupt", "kind": "input", "message": "...",
     "schema": {"oneOf": [{action: const id, parameters: <action's JSON schema>}, ...]},
     "data": {"content_pipeline": true, "stage": "topic", "point": "choose_topic",
              "actions": [{"id", "label", "kind": "primary" | "secondary", "parameters": {JSON schema}}]}}

and the answer is ``{"action": id, "parameters": {...}}``. The session API reads ``availableActions`` from
the pending interrupt (:func:`actions_of`) -- there is no other table of what a stage allows -- and the resume
is validated against the same schema by ``engine.lifecycle.create_run``. :data:`DECLARED` lists every action of
every decision point in graph order; the actions table of ``docs/content-pipeline.md`` is rendered from it
(``tests/support/content_docs.py``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from engine.interrupts import InterruptRequest, is_typed
from nodes.interrupts import ask

ActionKind = Literal["primary", "secondary"]

EMPTY: dict[str, Any] = {"type": "object", "properties": {}, "additionalProperties": False}


class Action(BaseModel):
    """One action a stage accepts: ``parameters`` is the JSON schema of its parameters object."""

    model_config = ConfigDict(frozen=True)

    id: str = Field(pattern=r"^[a-z][a-z_]*$")
    label: str
    kind: ActionKind = "secondary"
    parameters: dict[str, Any] = Field(default_factory=lambda: dict(EMPTY))
    description: str = ""

    def public(self) -> dict[str, Any]:
        return {"id": self.id, "label": self.label, "kind": self.kind, "parameters": self.parameters}


class DecisionPoint(BaseModel):
    """A node of the graph that stops for a human: its stage and every action it may offer."""

    model_config = ConfigDict(frozen=True)

    point: str
    stage: str
    actions: tuple[Action, ...]
    note: str = ""

    def action(self, action_id: str) -> Action:
        for a in self.actions:
            if a.id == action_id:
                return a
        raise KeyError(action_id)


def _obj(properties: dict[str, Any], required: Sequence[str] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties, "additionalProperties": False}
    if required:
        schema["required"] = list(required)
    return schema


def _string(max_length: int, min_length: int = 1) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "string", "maxLength": max_length}
    if min_length:
        schema["minLength"] = min_length
    return schema


def _array(items: dict[str, Any], max_items: int, min_items: int = 1) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "array", "items": items, "maxItems": max_items}
    if min_items:
        schema["minItems"] = min_items
    return schema


_TEXT = _string(2000)
_SOURCE = _obj({"title": _string(300), "url": _string(2000, min_length=0), "text": _string(20000)}, ["title", "text"])

CHOOSE_TOPIC = DecisionPoint(
    point="choose_topic",
    stage="topic",
    note="`select_topic.topicId` is narrowed to the ids of the topics just discovered.",
    actions=(
        Action(
            id="select_topic",
            label="Write about this topic",
            kind="primary",
            parameters=_obj({"topicId": {"type": "string"}}, ["topicId"]),
            description="pick one of the discovered topics",
        ),
        Action(
            id="custom_topic",
            label="Use my own topic",
            parameters=_obj({"topic": _TEXT, "angle": _string(500, min_length=0)}, ["topic"]),
            description="enter a topic (and optionally its angle) instead",
        ),
        Action(
            id="discover_topics",
            label="Find other topics",
            parameters=_obj({"category": _string(200, min_length=0), "keywords": _array(_TEXT, 20, min_items=0)}),
            description="discover again, optionally for another category or keywords",
        ),
    ),
)

REVIEW_RESEARCH = DecisionPoint(
    point="review_research",
    stage="research",
    actions=(
        Action(id="approve_research", label="Start writing", kind="primary", description="go on to the outline"),
        Action(
            id="add_sources",
            label="Add sources",
            parameters=_obj({"sources": _array(_SOURCE, 20)}, ["sources"]),
            description="add the editor's own sources (title, text, optional URL) to the research",
        ),
        Action(
            id="research_deeper",
            label="Research deeper",
            parameters=_obj({"queries": _array(_TEXT, 10), "focus": _TEXT}),
            description="research more queries (given, or planned from a focus / the open follow-ups)",
        ),
    ),
)

APPROVE_OUTLINE = DecisionPoint(
    point="approve_outline",
    stage="writing",
    actions=(
        Action(id="approve_outline", label="Write the draft", kind="primary", description="draft every section"),
        Action(
            id="edit_outline",
            label="Edit the outline",
            parameters=_obj({"title": _string(300), "sections": _array(_TEXT, 12)}, ["sections"]),
            description="replace the section headings (and optionally the title), then draft",
        ),
    ),
)

APPROVE_STYLE = DecisionPoint(
    point="approve_style",
    stage="styling",
    note="`restyle.preset` is narrowed to the preset names of `content.style_presets`.",
    actions=(
        Action(id="approve_style", label="Send to review", kind="primary", description="review the styled article"),
        Action(
            id="restyle",
            label="Restyle",
            parameters=_obj(
                {
                    "preset": {"type": "string"},
                    "tone": _string(100),
                    "length_words": {"type": "integer", "minimum": 50, "maximum": 10000},
                    "format": {"enum": ["article", "newsletter", "social_thread"]},
                    "platform": _string(100),
                }
            ),
            description="apply another preset, or override its tone / length / format / platform",
        ),
    ),
)

REVIEW_VERDICT = DecisionPoint(
    point="review_verdict",
    stage="review",
    note="`request_changes` is offered only while fewer than `content.max_review_rounds` rounds were used.",
    actions=(
        Action(id="approve", label="Publish", kind="primary", description="the article is final (stage done)"),
        Action(
            id="request_changes",
            label="Request changes",
            parameters=_obj({"notes": _TEXT}, ["notes"]),
            description="back to writing with the notes; the next draft addresses them",
        ),
    ),
)

DECLARED: tuple[DecisionPoint, ...] = (CHOOSE_TOPIC, REVIEW_RESEARCH, APPROVE_OUTLINE, APPROVE_STYLE, REVIEW_VERDICT)


def answer_schema(actions: Sequence[Action]) -> dict[str, Any]:
    """The interrupt's answer schema: ``{"action": <one id>, "parameters": <that action's schema>}``."""
    return {
        "oneOf": [
            {
                "type": "object",
                "properties": {"action": {"const": a.id}, "parameters": a.parameters},
                "required": ["action"],
                "additionalProperties": False,
            }
            for a in actions
        ]
    }


class Choice(BaseModel):
    """What a human chose: the action id and its (validated) parameters."""

    action: str
    parameters: dict[str, Any] = Field(default_factory=dict)


def ask_action(
    point: DecisionPoint,
    message: str,
    actions: Sequence[Action] | None = None,
    *,
    data: Mapping[str, Any] | None = None,
) -> Choice:
    """Stop the run until a human picks one of ``actions`` (default: all of ``point``'s); return the choice."""
    offered = list(actions if actions is not None else point.actions)
    payload = {
        **(data or {}),
        "content_pipeline": True,
        "stage": point.stage,
        "point": point.point,
        "actions": [a.public() for a in offered],
    }
    answer = ask(InterruptRequest(kind="input", message=message, schema=answer_schema(offered), data=payload))
    return Choice.model_validate(answer)


def narrowed(action: Action, **properties: dict[str, Any]) -> Action:
    """``action`` with some parameter properties replaced (e.g. an enum of the ids on offer now)."""
    params = dict(action.parameters)
    params["properties"] = {**params.get("properties", {}), **properties}
    return action.model_copy(update={"parameters": params})


def is_content_interrupt(value: Any) -> bool:
    return is_typed(value) and bool((value.get("data") or {}).get("content_pipeline"))


def actions_of(value: Any) -> list[dict[str, Any]]:
    """The actions a pending interrupt value offers (``[]`` for anything but a content-pipeline interrupt)."""
    if not is_content_interrupt(value):
        return []
    return list((value.get("data") or {}).get("actions") or [])
