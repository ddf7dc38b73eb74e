"""The state of a multi-agent research: the root graph's, the outline's, and one section team's.

The root state holds the same keys as standard research (``question``, ``queries``, ``findings``, ``report``,
``sources``, ``quality``, ``cost``, ...) plus the ``outline``, its history and revisions, and the written
``sections``. ``findings`` and ``sections`` are appended to by parallel branches and reset by a new research
on the same thread (:func:`extend_or_reset`). The input is standard research's
(:class:`nodes.research.state.ResearchInput`). A section team's state is the ``Send`` argument plus what its
roles add (:class:`SectionState`).
"""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, Field
from typing_extensions import TypedDict

from nodes.research.state import ReportState

SECTION_NODE = "section_team"
MAX_TITLE_CHARS = 200
MAX_BRIEF_CHARS = 1000
MAX_EDITED_SECTIONS = 10
MODE = "multi_agent"


class OutlineSection(BaseModel):
    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    brief: str = Field(default="", max_length=MAX_BRIEF_CHARS)


class Outline(BaseModel):
    """A report's plan: its title and its sections, each with a short brief."""

    title: str = Field(min_length=1, max_length=MAX_TITLE_CHARS)
    sections: list[OutlineSection] = Field(min_length=1)


OUTLINE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE_CHARS, "pattern": "\\S"},
        "sections": {
            "type": "array",
            "minItems": 1,
            "maxItems": MAX_EDITED_SECTIONS,
            "items": {
                "type": "object",
                "properties": {
                    "title": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": MAX_TITLE_CHARS,
                        "pattern": "\\S",
                    },
                    "brief": {"type": "string", "maxLength": MAX_BRIEF_CHARS},
                },
                "required": ["title"],
                "additionalProperties": False,
            },
        },
    },
    "required": ["title", "sections"],
    "additionalProperties": False,
}
"""JSON schema of an edited outline (the ``edited`` value of the review's ``edit`` answer)."""


RESET: dict[str, Any] = {"__reset__": True}


def extend_or_reset(
    left: list[dict[str, Any]] | None, right: list[dict[str, Any]] | None
) -> list[dict[str, Any]]:
    """Reducer of ``findings`` and ``sections``: parallel branches append; an update starting with
    :data:`RESET` replaces the list (a new research on the same thread starts afresh)."""
    items = list(right or [])
    if items and items[0] == RESET:
        return items[1:]
    return [*(left or []), *items]


class EditorialState(ReportState, total=False):
    """State of a multi-agent research thread (plain JSON, served as the thread's values)."""

    findings: Annotated[list[dict[str, Any]], extend_or_reset]
    outline: dict[str, Any]
    outline_history: list[dict[str, Any]]
    plan_revisions: int
    plan_feedback: str | None
    plan_note: str | None
    sections: Annotated[list[dict[str, Any]], extend_or_reset]
    total_sections: int
    exports: dict[str, str]


class SectionState(TypedDict, total=False):
    """State of one section's team (the ``Send`` argument plus what the roles add)."""

    index: int
    total: int
    title: str
    brief: str
    question: str
    source_mode: str
    budget_words: int
    finding: dict[str, Any]
    draft: str
    sources: list[dict[str, Any]]
    reviews: list[dict[str, Any]]
    revision: int
    accepted: bool
    offline: bool

