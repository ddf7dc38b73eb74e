"""Waiting and reading helpers of the tests: the one poller (:func:`eventually`), run progress, raw HTTP,
SSE, direct database reads.

Waiting is done by polling the API (or the database, a log, a stub) with a generous deadline: the deadline
only turns a hang into a readable failure, no test asserts how long anything took.
"""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import httpx
import psycopg
from psycopg.rows import dict_row

T = TypeVar("T")

TERMINAL = {"success", "error", "timeout", "interrupted"}


async def eventually(probe: Callable[[], Awaitable[T | None] | T | None], *, timeout: float = 60.0,
                     every: float = 0.05, what: str = "condition") -> T:
    """Call ``probe`` (plain or async) until it returns something truthy, and return that; fail with ``what``
    after ``timeout`` seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        value = probe()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if loop.time() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        await asyncio.sleep(every)


async def retrying(fn: Callable[..., Awaitable[T]], *args: Any, **kwargs: Any) -> T:
    """``await fn(*args, **kwargs)``, retried while it raises (a database or server restarting), for up to
    120 seconds."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + 120
    while True:
        try:
            return await fn(*args, **kwargs)
        except Exception:
            if loop.time() > deadline:
                raise
            await asyncio.sleep(0.3)


async def wait_count(client: Any, thread_id: str, at_least: int) -> dict[str, Any]:
    """Wait until the thread's checkpointed ``count`` reached ``at_least`` (a steps graph made progress)."""

    async def probe() -> dict[str, Any] | None:
        state = await client.threads.get_state(thread_id)
        values = state.get("values") or {}
        return state if isinstance(values, dict) and values.get("count", 0) >= at_least else None

    return await eventually(probe, what=f"count >= {at_least} on thread {thread_id}")


async def only_run(client: Any, thread_id: str) -> dict[str, Any]:
    """The single run of a thread, once it exists."""

    async def probe() -> dict[str, Any] | None:
        runs = await client.runs.list(thread_id)
        return runs[0] if len(runs) == 1 else None

    return await eventually(probe, what=f"the run of thread {thread_id}")


async def wait_status(client: Any, thread_id: str, run_id: str, statuses: set[str] | None = None) -> dict[str, Any]:
    want = statuses or TERMINAL

    async def probe() -> dict[str, Any] | None:
        run = await client.runs.get(thread_id, run_id)
        return run if run["status"] in want else None

    return await eventually(probe, what=f"run {run_id} in {sorted(want)}")


async def wait_thread_idle(client: Any, thread_id: str, statuses: tuple[str, ...] = ("idle",)) -> dict[str, Any]:
    async def probe() -> dict[str, Any] | None:
        t = await client.threads.get(thread_id)
        return t if t["status"] in statuses else None

    return await eventually(probe, what=f"thread {thread_id} in {statuses}")


async def status_of(call: Awaitable[Any]) -> int:
    """The HTTP status an SDK call ends with (200 when it succeeds)."""
    try:
        await call
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


def http(server: Any, key: str | None, **headers: str) -> httpx.AsyncClient:
    h = dict(headers)
    if key is not None:
        h["x-api-key"] = key
    return httpx.AsyncClient(base_url=server.url, headers=h, timeout=60.0)


@asynccontextmanager
async def user_clients(server: Any, keys: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    """An HTTP client of ``server`` per user of ``keys`` (``{user: key}``), closed afterwards."""
    clients = {u: http(server, k) for u, k in keys.items()}
    try:
        yield clients
    finally:
        for c in clients.values():
            await c.aclose()


async def sse_events(resp: httpx.Response) -> list[tuple[str, str, str]]:
    """``(id, event, data)`` of every SSE event of a response, read to its end."""
    out: list[tuple[str, str, str]] = []
    ident, event, data = "", "", ""
    async for line in resp.aiter_lines():
        if line == "":
            if event:
                out.append((ident, event, data))
            ident, event, data = "", "", ""
        elif line.startswith("id: "):
            ident = line[4:]
        elif line.startswith("event: "):
            event = line[7:]
        elif line.startswith("data: "):
            data = line[6:]
    return out


async def db_rows(db_url: str, sql: str, params: Any = None) -> list[dict[str, Any]]:
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True, row_factory=dict_row) as conn:
        cur = await conn.execute(sql, params)
        return await cur.fetchall()


async def table_counts(db_url: str) -> dict[str, int]:
    """Row counts of every table clew and LangGraph write to (to prove a request changed nothing)."""
    tables = ["threads", "runs", "run_events", "assistants", "assistant_versions", "checkpoints",
              "checkpoint_writes", "checkpoint_blobs", "store", "users", "api_keys"]
    out: dict[str, int] = {}
    async with await psycopg.AsyncConnection.connect(db_url, autocommit=True) as conn:
        for table in tables:
            cur = await conn.execute(f"SELECT count(*) FROM {table}")
            row = await cur.fetchone()
            out[table] = int(row[0]) if row else 0
    return out


async def no_active_runs(db_url: str) -> None:
    """Wait until no run anywhere is pending or running (so table counts are stable)."""

    async def probe() -> bool:
        rows = await db_rows(db_url, "SELECT count(*) AS n FROM runs WHERE status IN ('pending', 'running')")
        return rows[0]["n"] == 0

    await eventually(probe, what="no active runs")
