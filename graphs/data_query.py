"""Data questions: natural language to SQL over a user's own database, read-only by construction.

    START -> analyze -> select_tables -> generate_sql -> check --ok--> approve --approve--> execute
                                                          |  ^            |edit -> check    |
                                                          |  '-- repair <-+-- db error -----'
                                                          '-refused-> finish                |ok
                                     execute -> show_result -> visualize -> answer -> finish -> END

Input per turn (one run on the conversation's thread): ``{"question": "...", "connection_id": "<uuid>"}``
(``connection_id`` may be left out on later turns). ``analyze`` checks the connection and loads the cached
schema; ``select_tables`` keeps the relevant tables (sparse ranking); ``generate_sql`` asks the ``smart``
model for structured SQL with the earlier turns in view (a question that already is SQL is taken as it is;
offline there is none yet); ``check`` validates it (:mod:`nodes.data.sql_safety`); ``approve`` interrupts
with the SQL for approval or an edit (``data.approval``: always | never | on_risk; offline the human writes
the SQL here); ``execute`` runs it in a read-only transaction with a timeout; a database error (or a
validator refusal of model SQL) goes to ``repair`` at most ``data.max_repairs`` times; then the result, a
Vega-Lite chart, a short answer and ``done``. Stage events: ``analyzing``, ``generating_sql``,
``executing``, ``result``, ``visualization``, ``done``, ``error`` (see :mod:`nodes.data.flow`; the nodes
are in :mod:`nodes.data.analyzing`, :mod:`nodes.data.generating` and :mod:`nodes.data.answering`).
See docs/data-questions.md.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from nodes.data.analyzing import analyze, select_tables
from nodes.data.answering import after_execute, answer, execute, finish, show_result, visualize
from nodes.data.flow import DataQueryInput, DataQueryState
from nodes.data.generating import (
    after_approve,
    after_check,
    after_repair,
    approve,
    check,
    generate_sql,
    repair,
)


def _after_analyze(state: DataQueryState) -> str:
    return "finish" if state.get("status") == "error" else "select_tables"


def _after_generate(state: DataQueryState) -> str:
    return "finish" if state.get("status") == "error" else "check"


def build() -> Any:
    builder = StateGraph(DataQueryState, input_schema=DataQueryInput)
    for name, fn in [
        ("analyze", analyze),
        ("select_tables", select_tables),
        ("generate_sql", generate_sql),
        ("check", check),
        ("approve", approve),
        ("execute", execute),
        ("repair", repair),
        ("show_result", show_result),
        ("visualize", visualize),
        ("answer", answer),
        ("finish", finish),
    ]:
        builder.add_node(name, fn)
    builder.add_edge(START, "analyze")
    builder.add_conditional_edges("analyze", _after_analyze, ["select_tables", "finish"])
    builder.add_edge("select_tables", "generate_sql")
    builder.add_conditional_edges("generate_sql", _after_generate, ["check", "finish"])
    builder.add_conditional_edges("check", after_check, ["approve", "repair", "finish"])
    builder.add_conditional_edges("approve", after_approve, ["execute", "check", "finish"])
    builder.add_conditional_edges("execute", after_execute, ["show_result", "repair", "finish"])
    builder.add_conditional_edges("repair", after_repair, ["check", "finish"])
    builder.add_edge("show_result", "visualize")
    builder.add_edge("visualize", "answer")
    builder.add_edge("answer", "finish")
    builder.add_edge("finish", END)
    return builder


graph = build().compile(name="data_query")
