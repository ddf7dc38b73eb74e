"""Strong interrupts, asked from a node: stop the run to ask a human a typed question, resume with the answer.

The payload, the answer schemas and the check of a resume are the engine's (:mod:`engine.interrupts`); these
helpers build a request, call LangGraph's ``interrupt()``, announce the question on the stream, and return the
already validated answer.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.errors import GraphInterrupt
from langgraph.types import interrupt

from engine.interrupts import (
    DECISIONS,
    INPUT_SCHEMA,
    Approval,
    Decision,
    InterruptRequest,
    approval_schema,
    check_schema,
    selection_schema,
)


# --- asking from a node -------------------------------------------------------------------------------
def ask(request: InterruptRequest) -> Any:
    """Stop the run with a typed interrupt; on resume, return the (already validated) answer."""
    check_schema(request.answer_schema)
    payload = request.payload()
    try:
        return interrupt(payload)
    except GraphInterrupt as exc:
        # interrupt() raises only when there is no answer yet, i.e. exactly when the run is about to stop:
        # announcing here (not before the call) keeps a resumed node from announcing the question again.
        items = exc.args[0] if exc.args else ()
        ident = items[0].id if items else None
        get_stream_writer()({"event": "interrupt", "data": {"id": ident, "value": payload}})
        raise


def ask_approval(
    message: str,
    *,
    data: dict[str, Any] | None = None,
    options: Sequence[Decision] = DECISIONS,
    edit_schema: dict[str, Any] | None = None,
) -> Approval:
    """Ask a human to approve, edit (answer ``edited`` must match ``edit_schema``) or reject."""
    schema = approval_schema(options, edit_schema)
    answer = ask(
        InterruptRequest(
            kind="approval", message=message, options=list(options), schema=schema, data=data or {}
        )
    )
    return Approval.model_validate(answer)


def ask_input(
    message: str, *, schema: dict[str, Any] | None = None, data: dict[str, Any] | None = None
) -> Any:
    """Ask for free input: ``{"text": …}`` by default, else any value matching ``schema``."""
    return ask(
        InterruptRequest(kind="input", message=message, schema=schema or dict(INPUT_SCHEMA), data=data or {})
    )


def ask_selection(
    message: str, options: Sequence[Any], *, multiple: bool = False, data: dict[str, Any] | None = None
) -> Any:
    """Ask to pick one option (or several with ``multiple``); returns the selected value(s)."""
    schema = selection_schema(options, multiple=multiple)
    answer = ask(
        InterruptRequest(
            kind="selection",
            message=message,
            options=list(options),
            schema=schema,
            data={**(data or {}), "multiple": multiple},
        )
    )
    return answer["selected"]
