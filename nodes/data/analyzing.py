"""The start of a data-question turn: read the question and the database, keep the relevant tables.

``analyze`` resets the turn's fields, checks the connection and the question, loads the cached schema and
tells whether the question already is SQL (:func:`looks_like_sql`: it is then taken as it is, and validated
like any SQL); ``select_tables`` keeps the tables relevant to the question and to the earlier turns' SQL.
"""

from __future__ import annotations

import re
import time
from typing import Any

import sqlglot
from langchain_core.messages import HumanMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from config_schema.access import setting
from nodes.data import runtime as data_runtime
from nodes.data.connect import ConnectionUnavailable
from nodes.data.flow import DataQueryState, connection_spec, emit, fail, history_of
from nodes.data.schema import SchemaUnavailable, get_schema, rank_tables
from nodes.data.sql_safety import dialect_of
from nodes.run_context import context_values
from providers.models import get_model

_SQL_START = re.compile(
    r"^\s*(?:(?:--[^\n]*\n|/\*.*?\*/)\s*)*\(*\s*(select|with|insert|update|delete|drop|create|alter|truncate|"
    r"grant|revoke|copy|pragma|attach|detach|set|show|explain|call|do|values|table|merge|replace|lock|load|"
    r"handler|begin|commit|rollback|vacuum|analyze|reindex|cluster|refresh|listen|notify|prepare|execute|"
    r"deallocate|use|kill|flush|install|optimize|repair|describe|desc|reset|savepoint|release|start)\b",
    re.IGNORECASE | re.DOTALL,
)


def looks_like_sql(question: str, dialect: str | None = None) -> bool:
    """Whether the question already is SQL (it is then taken as such, and validated like any SQL): it starts
    with a SQL keyword and parses as SQL (``Select the best city for me`` does not; it goes to the model).
    Text sqlglot only keeps as an opaque command is not taken for SQL either."""
    if not _SQL_START.match(question):
        return False
    try:
        statements = [s for s in sqlglot.parse(question, read=dialect) if s is not None]
    except (ParseError, TokenError):
        return False
    return bool(statements) and not any(isinstance(s, exp.Command) for s in statements)


async def analyze(state: DataQueryState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """Start a turn: reset its fields, check the connection and the question, load the schema."""
    question = str(state.get("question") or "").strip()
    if not _SQL_START.match(question):
        question = " ".join(question.split())
    reset: dict[str, Any] = {
        "status": "running",
        "stage": "analyzing",
        "tables": [],
        "sql": "",
        "sql_source": "none",
        "explanation": "",
        "checked_sql": "",
        "risks": [],
        "approved_by": "",
        "repairs": 0,
        "db_error": None,
        "error": None,
        "result": None,
        "chart": None,
        "answer": "",
        "started_at": time.time(),
        "question": question,
    }
    if question:
        reset["messages"] = [HumanMessage(content=question)]
    emit("analyzing", message="reading the question and the database")
    if not question:
        return {**reset, **fail("analyzing", 'a question is required: send {"question": "...", "connection_id": "..."}')}
    try:
        spec = await connection_spec(state, config)
        schema = await get_schema(data_runtime.db(), spec)
    except (ConnectionUnavailable, SchemaUnavailable) as exc:
        return {**reset, **fail("analyzing", f"the database cannot be read: {exc}")}
    reset.update(
        dialect=dialect_of(spec.driver),
        offline=get_model(context_values(runtime), "smart") is None,
        is_sql=looks_like_sql(question, dialect_of(spec.driver)),
    )
    emit("analyzing", message="schema loaded", connection=spec.name, dialect=reset["dialect"],
         tables_total=len(schema.get("tables") or []), offline=reset["offline"], is_sql=reset["is_sql"])
    return reset


async def select_tables(state: DataQueryState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    """Keep the tables relevant to the question (and to the earlier turns' SQL)."""
    values = context_values(runtime)
    spec = await connection_spec(state, config)
    schema = await get_schema(data_runtime.db(), spec)
    history = history_of(state, int(setting(values, "data.history_turns")))
    query = " ".join([*(t["question"] for t in history[-2:]), state["question"]])
    earlier = [t for turn in history for t in turn.get("tables") or []]
    tables = rank_tables(schema, query, limit=int(setting(values, "data.max_tables")), also=earlier)
    emit("analyzing", message="relevant tables chosen", tables=tables)
    return {"tables": tables}
