"""Stored token usage and cost (table ``usage_records``): write each model call, sum per run, thread, user-day.

Every function takes a psycopg ``AsyncConnection``, a psycopg ``AsyncConnectionPool`` or anything else with an
async ``connection()`` context manager (``persistence.db.Database``). Rows are read with a tuple row factory,
so the caller's connection row factory does not matter. A "day" is the UTC calendar day of the database clock,
so every worker agrees on when a daily budget resets.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime
from decimal import Decimal
from typing import Any
from uuid import UUID

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from domain.usage import UsageRecord, UsageSink, UsageTotals

_INSERT = (
    "INSERT INTO usage_records (run_id, thread_id, user_id, node, model, input_tokens, output_tokens, cost_usd,"
    " estimated, created_at) VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, coalesce(%s, now()))"
)
_TODAY_UTC = "date_trunc('day', now() AT TIME ZONE 'UTC') AT TIME ZONE 'UTC'"
SPENT_TODAY = f"SELECT coalesce(sum(cost_usd), 0) FROM usage_records WHERE user_id = %s AND created_at >= {_TODAY_UTC}"
# calls, tokens and cost of some records (``where``) by one column (``group``)
GROUPED = sql.SQL(
    "SELECT {group}, count(*), coalesce(sum(input_tokens), 0), coalesce(sum(output_tokens), 0),"
    " coalesce(sum(cost_usd), 0) FROM usage_records WHERE {where} GROUP BY {group} ORDER BY {group}"
)
BY_RUN = sql.SQL("run_id = %s")
BY_THREAD = sql.SQL("thread_id = %s")
BY_USER_TODAY = sql.SQL(f"user_id = %s AND created_at >= {_TODAY_UTC}")


@asynccontextmanager
async def _connection(target: Any) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    if isinstance(target, psycopg.AsyncConnection):
        yield target
    else:
        async with target.connection() as conn:
            yield conn


async def record_usage(
    conn: Any,
    *,
    user_id: str,
    run_id: UUID | str | None = None,
    thread_id: UUID | str | None = None,
    node: str = "",
    model: str = "",
    input_tokens: int = 0,
    output_tokens: int = 0,
    cost_usd: float = 0.0,
    estimated: bool = False,
    created_at: datetime | None = None,
) -> None:
    """Store one model call's usage (``created_at`` defaults to the database's now)."""
    async with _connection(conn) as c:
        await c.execute(
            _INSERT,
            (
                run_id,
                thread_id,
                user_id,
                node,
                model,
                input_tokens,
                output_tokens,
                Decimal(str(round(cost_usd, 8))),
                estimated,
                created_at,
            ),
        )


async def record_many(
    conn: Any,
    records: Sequence[UsageRecord],
    *,
    user_id: str,
    run_id: UUID | str | None = None,
    thread_id: UUID | str | None = None,
) -> None:
    """Store several :class:`UsageRecord` of one run in one round trip."""
    if not records:
        return
    rows = [
        (
            run_id,
            thread_id,
            user_id,
            r.node,
            r.model,
            r.input_tokens,
            r.output_tokens,
            Decimal(str(round(r.cost_usd, 8))),
            r.estimated,
            None,
        )
        for r in records
    ]
    async with _connection(conn) as c, c.cursor() as cur:
        await cur.executemany(_INSERT, rows)


def usage_sink(
    conn: Any, *, user_id: str, run_id: UUID | str | None = None, thread_id: UUID | str | None = None
) -> UsageSink:
    """A ``UsageTracker`` sink storing each record as it happens (pass a pool, not a borrowed connection)."""

    async def sink(record: UsageRecord) -> None:
        await record_usage(
            conn,
            user_id=user_id,
            run_id=run_id,
            thread_id=thread_id,
            node=record.node,
            model=record.model,
            input_tokens=record.input_tokens,
            output_tokens=record.output_tokens,
            cost_usd=record.cost_usd,
            estimated=record.estimated,
        )

    return sink


async def spent_today(conn: Any, user_id: str) -> float:
    """What ``user_id``'s model calls cost since the start of the current UTC day, in USD."""
    async with _connection(conn) as c, c.cursor(row_factory=tuple_row) as cur:
        await cur.execute(SPENT_TODAY, (user_id,))
        row = await cur.fetchone()
    return float(row[0]) if row else 0.0


async def _grouped(conn: Any, where: sql.Composable, params: tuple[Any, ...], group: str) -> dict[str, UsageTotals]:
    async with _connection(conn) as c, c.cursor(row_factory=tuple_row) as cur:
        await cur.execute(GROUPED.format(group=sql.Identifier(group), where=where), params)
        rows = await cur.fetchall()
    return {
        str(k): UsageTotals(calls=int(n), input_tokens=int(i), output_tokens=int(o), cost_usd=float(cost))
        for k, n, i, o, cost in rows
    }


def _sum(groups: dict[str, UsageTotals]) -> UsageTotals:
    total = UsageTotals()
    for t in groups.values():
        total.calls += t.calls
        total.input_tokens += t.input_tokens
        total.output_tokens += t.output_tokens
        total.cost_usd += t.cost_usd
    return total


async def run_usage(conn: Any, run_id: UUID | str) -> dict[str, UsageTotals]:
    """A run's usage per node."""
    return await _grouped(conn, BY_RUN, (run_id,), "node")


async def thread_usage(conn: Any, thread_id: UUID | str) -> UsageTotals:
    """Everything a thread's runs consumed."""
    return _sum(await _grouped(conn, BY_THREAD, (thread_id,), "model"))


async def user_usage_today(conn: Any, user_id: str) -> dict[str, UsageTotals]:
    """A user's usage since the start of the UTC day, per model."""
    return await _grouped(conn, BY_USER_TODAY, (user_id,), "model")
