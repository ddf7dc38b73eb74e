"""Executing one checked statement read-only, with a deadline and a row cap; always rolled back.

This layer holds on its own, even for a statement the validator never saw (the refusal tests send hostile
statements straight here):

- PostgreSQL: ``SET TRANSACTION READ ONLY`` and ``SET LOCAL statement_timeout`` open the transaction (the
  session is read-only by default already, see :mod:`nodes.data.connect`); the statement goes through the
  extended query protocol (psycopg ``prepare=True``), which accepts exactly one statement, so
  ``SELECT 1; COMMIT; DELETE …`` fails as a whole.
- MySQL / MariaDB: ``SET SESSION TRANSACTION READ ONLY`` (so even DDL, which commits implicitly, meets a
  read-only transaction after that commit) and ``START TRANSACTION READ ONLY``; the deadline is MariaDB's
  ``max_statement_time`` (seconds) or MySQL's ``max_execution_time`` (milliseconds); the client does not
  enable multi-statements, so the server refuses a chain.
- SQLite: the file is open ``mode=ro`` with ``query_only``; a progress handler aborts the statement at the
  deadline; Python's sqlite3 executes only one statement per call.

The statement text is handed to the driver as it is (no bind-parameter parsing: ``%`` and ``:name`` in
literals stay literals). At most ``max_rows + 1`` rows are fetched; the extra one only says "truncated".
The transaction is rolled back and the session closed whatever happened.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from nodes.data.connect import ConnectionSpec, engine_for, error_text
from nodes.data.results import column_types, json_row


class QueryFailed(RuntimeError):
    """The database refused or aborted the statement (``kind``: ``timeout`` | ``database`` | ``connect``)."""

    def __init__(self, message: str, kind: str = "database") -> None:
        super().__init__(message)
        self.message = message
        self.kind = kind


@dataclass
class QueryResult:
    columns: list[dict[str, str]]
    rows: list[list[Any]]
    row_count: int
    truncated: bool
    elapsed_ms: float

    def as_dict(self) -> dict[str, Any]:
        return {
            "columns": self.columns,
            "rows": self.rows,
            "row_count": self.row_count,
            "truncated": self.truncated,
            "elapsed_ms": self.elapsed_ms,
        }


_TIMEOUT_MARKERS = ("statement timeout", "max_statement_time", "max_execution_time", "interrupted")


async def _postgres(driver: Any, sql: str, fetch: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    cur = driver.cursor()
    try:
        await cur.execute(sql, prepare=True)
        description = cur.description or []
        rows = await cur.fetchmany(fetch) if description else []
        types = driver.adapters.types
        cols = [(d.name, getattr(types.get(d.type_code), "name", str(d.type_code))) for d in description]
        return cols, rows
    finally:
        await cur.close()


async def _mysql(driver: Any, sql: str, fetch: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    from pymysql.constants import FIELD_TYPE

    names = {v: k.lower() for k, v in vars(FIELD_TYPE).items() if k.isupper()}
    async with driver.cursor() as cur:
        await cur.execute(sql)  # no args: pymysql does no %-formatting
        description = cur.description or []
        rows = await cur.fetchmany(fetch) if description else []
        cols = [(d[0], names.get(d[1], str(d[1]))) for d in description]
        return cols, list(rows)


async def _sqlite(driver: Any, sql: str, fetch: int) -> tuple[list[Any], list[tuple[Any, ...]]]:
    cur = await driver.execute(sql)
    try:
        description = cur.description or []
        rows = await cur.fetchmany(fetch) if description else []
        return [(d[0], "") for d in description], list(rows)
    finally:
        await cur.close()


async def execute_readonly(spec: ConnectionSpec, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
    """Run ``sql`` on ``spec``'s database read-only; raise :class:`QueryFailed` on any database error."""
    engine = await engine_for(spec)
    fetch = max_rows + 1
    started = time.perf_counter()
    try:
        async with asyncio.timeout(timeout_s + 15):  # a backstop should the server-side deadline not fire
            async with engine.connect() as conn:
                try:
                    raw = await conn.get_raw_connection()
                    driver = raw.driver_connection
                    if spec.driver == "postgresql":
                        await conn.exec_driver_sql("SET TRANSACTION READ ONLY")
                        await conn.exec_driver_sql(f"SET LOCAL statement_timeout = {max(1, int(timeout_s * 1000))}")
                        cols, rows = await _postgres(driver, sql, fetch)
                    elif spec.driver == "mysql":
                        await conn.exec_driver_sql("SET SESSION TRANSACTION READ ONLY")
                        if conn.dialect.is_mariadb:  # type: ignore[attr-defined]
                            await conn.exec_driver_sql(f"SET SESSION max_statement_time = {max(0.001, timeout_s):.3f}")
                        else:
                            await conn.exec_driver_sql(f"SET SESSION max_execution_time = {max(1, int(timeout_s * 1000))}")
                        await conn.exec_driver_sql("START TRANSACTION READ ONLY")
                        cols, rows = await _mysql(driver, sql, fetch)
                    else:
                        deadline = time.monotonic() + timeout_s
                        await driver.set_progress_handler(lambda: int(time.monotonic() > deadline), 1000)
                        cols, rows = await _sqlite(driver, sql, fetch)
                finally:
                    await conn.rollback()
    except QueryFailed:
        raise
    except TimeoutError:
        raise QueryFailed(f"the query ran longer than {timeout_s:g} s and was stopped", "timeout") from None
    except Exception as exc:
        text = error_text(exc)
        lowered = text.lower()
        if any(m in lowered for m in _TIMEOUT_MARKERS):
            raise QueryFailed(f"the query ran longer than {timeout_s:g} s and was stopped ({text})", "timeout") from None
        raise QueryFailed(text) from None
    elapsed = round((time.perf_counter() - started) * 1000, 1)
    truncated = len(rows) > max_rows
    kept = rows[:max_rows]
    columns = column_types(cols, kept)
    return QueryResult(
        columns=columns,
        rows=[json_row(r) for r in kept],
        row_count=len(kept),
        truncated=truncated,
        elapsed_ms=elapsed,
    )
