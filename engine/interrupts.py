"""The interrupt contract: the typed payload a node asks a human with, the answer schemas, and the check of a
resume before any run is created. The engine enforces it; nodes ask through :mod:`nodes.interrupts`.

A typed interrupt is LangGraph's ``interrupt()`` with a payload clients can render without knowing the graph:

    {"type": "clew.interrupt", "kind": "approval" | "input" | "selection" | "todos",
     "message": "...", "options": [...], "schema": {JSON schema of the answer}, "data": {...}}

The run ends ``interrupted``; the payload is in the stream as ``__interrupt__`` (values and updates), as a
``custom`` event ``{"event": "interrupt", "data": {"id", "value"}}`` (mapped to the SSE event ``interrupt`` by
the executor) and in the thread state. A resume (``command: {resume: answer}``) is validated against the
declared schema before any run is created (:func:`check_resume`, called by ``engine.lifecycle.create_run``
with the thread row locked): an invalid answer is a 422 and the thread stays interrupted.

Kinds and their answers (the schema says it exactly):

- ``approval``: ``{"decision": "approve" | "edit" | "reject", "edited": <value, required for edit>,
  "comment": "..."}``, read as an :class:`Approval`. A node may also offer ``"feedback"`` (then ``comment``,
  non-empty, is required): the human neither accepts nor edits but says what to change, and the node revises
  (multi-agent research's outline review).
- ``input``: by default ``{"text": "<non-empty>"}``, or any JSON value matching the node's own schema.
- ``selection``: ``{"selected": <one of options>}`` (or a non-empty list of them with ``multiple=True``).
- ``todos``: the todo gate of :mod:`nodes.todos`, resumed by the todo pipeline, never by hand while todos
  are pending (409).
"""


from __future__ import annotations

import functools
import json
import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError
from pydantic import BaseModel, ConfigDict, Field

from domain.errors import Conflict, InvalidInput
from persistence import todos as todos_repo

if TYPE_CHECKING:
    from persistence.db import Conn

INTERRUPT_TYPE = "clew.interrupt"

InterruptKind = Literal["approval", "input", "selection", "todos"]
Decision = Literal["approve", "edit", "reject", "feedback"]
DECISIONS: tuple[Decision, ...] = ("approve", "edit", "reject")
"""The default options of an approval."""
ALL_DECISIONS: tuple[Decision, ...] = ("approve", "edit", "reject", "feedback")

INPUT_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"text": {"type": "string", "minLength": 1}},
    "required": ["text"],
    "additionalProperties": False,
}


class InterruptRequest(BaseModel):
    """The typed payload of a strong interrupt (also the shape a todo is described with)."""

    model_config = ConfigDict(populate_by_name=True)

    type: Literal["clew.interrupt"] = INTERRUPT_TYPE
    kind: InterruptKind
    message: str = Field(min_length=1)
    options: list[Any] = Field(default_factory=list)
    answer_schema: dict[str, Any] = Field(alias="schema")
    data: dict[str, Any] = Field(default_factory=dict)

    def payload(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=True)


class Approval(BaseModel):
    """The answer to an approval: approve, edit (with the edited value) or reject."""

    decision: Decision
    edited: Any = None
    comment: str | None = None

    @property
    def approved(self) -> bool:
        return self.decision != "reject"


# --- answer schemas -------------------------------------------------------------------------------------
def approval_schema(
    options: Sequence[str] = DECISIONS, edit_schema: dict[str, Any] | None = None
) -> dict[str, Any]:
    """Answer schema of an approval: ``decision`` among ``options``; ``edited`` required when editing,
    a non-empty ``comment`` when giving feedback."""
    unknown = [o for o in options if o not in ALL_DECISIONS]
    if unknown or not options:
        raise ValueError(
            f"approval options must be a non-empty subset of {list(ALL_DECISIONS)}, got {list(options)}"
        )
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "decision": {"enum": list(options)},
            "comment": {"type": "string"},
        },
        "required": ["decision"],
        "additionalProperties": False,
    }
    if "edit" in options:
        schema["properties"]["edited"] = edit_schema or {}
        schema["allOf"] = [
            {"if": {"properties": {"decision": {"const": "edit"}}}, "then": {"required": ["edited"]}}
        ]
    if "feedback" in options:
        schema.setdefault("allOf", []).append(
            {
                "if": {"properties": {"decision": {"const": "feedback"}}},
                "then": {"required": ["comment"], "properties": {"comment": {"minLength": 1, "pattern": "\\S"}}},
            }
        )
    return schema


def option_values(options: Sequence[Any]) -> list[Any]:
    """Selectable values: an option is a value, or ``{"value": …, "label": …}``."""
    return [o["value"] if isinstance(o, dict) and "value" in o else o for o in options]


def selection_schema(options: Sequence[Any], *, multiple: bool = False) -> dict[str, Any]:
    values = option_values(options)
    if not values:
        raise ValueError("a selection needs at least one option")
    item: dict[str, Any] = {"enum": values}
    selected: dict[str, Any] = (
        {"type": "array", "items": item, "minItems": 1, "uniqueItems": True} if multiple else item
    )
    return {
        "type": "object",
        "properties": {"selected": selected},
        "required": ["selected"],
        "additionalProperties": False,
    }


def default_schema(kind: str, options: Sequence[Any] = ()) -> dict[str, Any]:
    if kind == "approval":
        return approval_schema([o for o in option_values(options)] or DECISIONS)
    if kind == "selection":
        return selection_schema(options)
    return dict(INPUT_SCHEMA)


# Checking a schema against the metaschema costs milliseconds; a graph asks the same few questions again and
# again, so both the check and the compiled validator are cached by the schema's canonical JSON.
@functools.lru_cache(maxsize=512)
def _validator(schema_json: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads(schema_json))


@functools.lru_cache(maxsize=512)
def _schema_problem(schema_json: str) -> str | None:
    try:
        Draft202012Validator.check_schema(json.loads(schema_json))
    except SchemaError as exc:
        return exc.message
    return None


def check_schema(schema: dict[str, Any]) -> None:
    """Raise ``ValueError`` if ``schema`` is not a valid JSON schema (a graph bug, caught when asking)."""
    problem = _schema_problem(json.dumps(schema, sort_keys=True))
    if problem is not None:
        raise ValueError(f"invalid answer schema: {problem}")


def answer_errors(schema: dict[str, Any] | None, answer: Any) -> list[dict[str, str]]:
    """Every way ``answer`` breaks ``schema``, as ``[{"path": "$.decision", "message": …}]`` (empty: valid)."""
    if not schema:
        return []
    validator = _validator(json.dumps(schema, sort_keys=True))
    out = []
    for err in sorted(validator.iter_errors(answer), key=lambda e: list(e.absolute_path)):
        path = "$" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in err.absolute_path)
        out.append({"path": path, "message": err.message})
    return out


def interrupts_by_task(state: Any) -> dict[str, Any]:
    """``{task_id: [interrupt, …]}`` as the Agent Server's thread ``interrupts`` field."""
    out: dict[str, Any] = {}
    for task in state.tasks or ():
        if task.interrupts:
            out[task.id] = [{"value": i.value, "id": i.id} for i in task.interrupts]
    return out


# --- validating a resume (before a run is created) ---------------------------------------------------------------------
def is_typed(value: Any) -> bool:
    return isinstance(value, dict) and value.get("type") == INTERRUPT_TYPE and "kind" in value


_INTERRUPT_ID = re.compile(r"^[0-9a-f]{32}$")


def is_resume_map(resume: Any) -> bool:
    """LangGraph's rule: a dict whose keys are all interrupt ids answers those interrupts one by one."""
    return (
        isinstance(resume, dict)
        and bool(resume)
        and all(isinstance(k, str) and _INTERRUPT_ID.match(k) for k in resume)
    )


def pending_interrupts(thread: dict[str, Any]) -> list[dict[str, Any]]:
    """The thread's pending interrupts ``[{value, id}]`` from its ``interrupts`` column."""
    return [item for items in (thread.get("interrupts") or {}).values() for item in (items or [])]


def resume_pairs(thread: dict[str, Any], resume: Any) -> list[tuple[dict[str, Any], Any]]:
    """The ``(pending interrupt, answer)`` pairs a resume of ``thread`` gives; ``[]`` with nothing pending.

    Raises InvalidInput (422) when several interrupts are pending and the answer is not a map
    ``{interrupt_id: answer}``, or when the map names unknown interrupts."""
    pending = pending_interrupts(thread)
    if not pending:
        return []
    by_id = {str(item.get("id")): item for item in pending}
    if is_resume_map(resume):
        unknown = sorted(k for k in resume if k not in by_id)
        if unknown:
            raise InvalidInput(
                f"no pending interrupt with id {unknown[0]}", code="invalid_resume", pending=sorted(by_id)
            )
        return [(by_id[k], v) for k, v in resume.items()]
    if len(pending) > 1:
        raise InvalidInput(
            f"{len(pending)} interrupts are pending: resume with a map {{interrupt_id: answer}}",
            code="invalid_resume",
            pending=sorted(by_id),
        )
    return [(pending[0], resume)]


def _check_answer(item: dict[str, Any], answer: Any) -> None:
    """Raise InvalidInput (422) when ``answer`` breaks the typed interrupt ``item``'s schema."""
    errors = answer_errors(item["value"].get("schema"), answer)
    if errors:
        first = errors[0]
        raise InvalidInput(
            f"the answer does not match the interrupt's schema: {first['message']} at {first['path']}",
            code="invalid_resume",
            interrupt_id=item.get("id"),
            errors=errors,
        )


def resume_acceptable(thread: dict[str, Any], resume: Any) -> bool:
    """Whether check_resume would accept ``resume`` on ``thread`` as read, decided without a statement: False
    when it would refuse it, and when a todo gate is pending (accepting it needs a count of the pending todos).
    Run creation's one-statement path uses it; the general path then decides, under the thread's lock."""
    try:
        for item, answer in resume_pairs(thread, resume):
            if is_typed(item.get("value")):
                if item["value"]["kind"] == "todos":
                    return False
                _check_answer(item, answer)
    except InvalidInput:
        return False
    return True


async def check_resume(conn: Conn, thread: dict[str, Any], resume: Any) -> None:
    """Refuse a resume that cannot be applied, before a run is created (thread row locked by the caller).

    422 when the answer breaks a typed interrupt's schema, when several interrupts are pending and the
    answer is not a map ``{interrupt_id: answer}``, or when the map names unknown interrupts; 409 when a
    todo gate still waits for pending todos.
    """
    for item, answer in resume_pairs(thread, resume):
        value = item.get("value")
        if not is_typed(value):
            continue
        if value["kind"] == "todos":
            group = (value.get("data") or {}).get("group")
            n = await todos_repo.count_pending(conn, str(thread["thread_id"]), group)
            if n:
                raise Conflict(
                    f"the thread waits for {n} pending todo(s): complete or cancel them",
                    code="waiting_on_todos",
                    pending_todos=n,
                )
        _check_answer(item, answer)
