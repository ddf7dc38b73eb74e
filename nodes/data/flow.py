"""The state of the ``data_query`` graph (wired in ``graphs/data_query.py``), its stages, and what its nodes share.

One turn of a conversation (a thread) is one run: ``{"question": "...", "connection_id": "..."}``. The state
carries the connection **id** only; each node that needs the database loads the connection (checking that
it belongs to the run's user) and decrypts its password in memory, so no password ever reaches a
checkpoint, an event or a log line.

Stage events are LangGraph ``custom`` stream events ``{"type": <stage>, "data": {...}}`` with the stages of
the design: ``analyzing``, ``generating_sql``, ``executing``, ``result``, ``visualization``, ``done`` and
``error`` (a refusal, a database error after the repairs, an unreachable database or model: the reason in
words, never a trace). The turn's outcome is ``status``: ``done`` | ``refused`` | ``rejected`` | ``error``.

The nodes: :mod:`nodes.data.analyzing` (``analyze``, ``select_tables``), :mod:`nodes.data.generating` (the
SQL: ``generate_sql``, ``check``, ``approve``, ``repair``) and :mod:`nodes.data.answering` (``execute``,
``show_result``, ``visualize``, ``answer``, ``finish``).
"""

from __future__ import annotations

import operator
from collections.abc import Mapping
from typing import Annotated, Any

from langchain_core.messages import AnyMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_stream_writer
from langgraph.graph.message import add_messages
from typing_extensions import TypedDict

from engine.context import AUTH_USER_ID
from nodes.data import runtime as data_runtime
from nodes.data.connect import ConnectionSpec, ConnectionUnavailable, load_spec

STAGES = ("analyzing", "generating_sql", "executing", "result", "visualization", "done", "error")


class DataQueryState(TypedDict, total=False):
    """One conversation about one database; per-turn fields are reset by ``analyze``."""

    messages: Annotated[list[AnyMessage], add_messages]
    turns: Annotated[list[dict[str, Any]], operator.add]
    question: str
    connection_id: str
    dialect: str
    status: str
    stage: str
    offline: bool
    is_sql: bool
    tables: list[str]
    tables_read: list[str]
    sql: str
    sql_source: str
    explanation: str
    checked_sql: str
    risks: list[str]
    approved_by: str
    repairs: int
    db_error: str | None
    error: dict[str, Any] | None
    result: dict[str, Any] | None
    chart: dict[str, Any] | None
    answer: str
    started_at: float


class DataQueryInput(TypedDict, total=False):
    question: str
    connection_id: str


def emit(stage: str, **data: Any) -> None:
    """Send a stage event (no-op outside a run)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer({"type": stage, "data": {"stage": stage, **data}})


def user_id_of(config: RunnableConfig) -> str:
    """The run's user (a data question always has one: its connections are the user's)."""
    user = (config.get("configurable") or {}).get(AUTH_USER_ID)
    if not user:
        raise ConnectionUnavailable("the run has no user")
    return str(user)


async def connection_spec(state: Mapping[str, Any], config: RunnableConfig) -> ConnectionSpec:
    """The turn's connection, loaded for the run's user (its password decrypted in memory only)."""
    connection_id = str(state.get("connection_id") or "")
    if not connection_id:
        raise ConnectionUnavailable("no connection_id: say which database to ask")
    return await load_spec(data_runtime.db(), data_runtime.data_dir(), user_id_of(config), connection_id)


def fail(stage: str, reason: str, status: str = "error", **extra: Any) -> dict[str, Any]:
    """End the turn at ``stage``: an ``error`` event and the state update saying why."""
    emit("error", failed_stage=stage, reason=reason, **extra)
    return {"status": status, "error": {"stage": stage, "reason": reason, **extra}}


def history_of(state: Mapping[str, Any], limit: int) -> list[dict[str, Any]]:
    """The last ``limit`` earlier turns that produced SQL (the model sees them for follow-up questions)."""
    turns = [t for t in state.get("turns") or [] if t.get("sql")]
    return turns[-limit:] if limit else []
