"""The database handle: one psycopg connection pool per process, opened on the right Postgres.

``DATABASE_URL`` wins; without it the embedded server in the data directory is started. Connections are
autocommit with ``dict_row`` and ``prepare_threshold=0`` (what langgraph-checkpoint-postgres documents: every
statement is prepared on first use; multi-statement migration scripts opt out with ``prepare=False``); the
pool checks a connection before lending it, so a restarted Postgres heals on its own.
Callers open explicit transactions with ``conn.transaction()`` where several statements must agree.

:func:`is_transient` / :func:`retrying` say which database errors are worth repeating (a connection that died
with a restarted Postgres, a serialization failure, a deadlock victim) and repeat a safe statement until the
database answers again, for a bounded time.
"""

from __future__ import annotations

import asyncio
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, Protocol, TypeVar

import psycopg
import structlog
from psycopg.pq import ConnStatus
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from persistence import channels
from persistence.embedded import start_embedded
from persistence.migrations import migrate

log = structlog.get_logger("clew.persistence")

T = TypeVar("T")

Conn = psycopg.AsyncConnection[DictRow]

PING = "SELECT 1"

CONNECT_KWARGS: dict[str, Any] = {"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row}

# A connection borrowed again within this many seconds is trusted without a ping (it just worked); one that sat
# in the pool longer is pinged first. Pinging on every borrow cost a round trip per database call (12% of the
# CPU of a busy server, see docs/benchmarks.md). A broken connection found in use is discarded by the pool.
PING_IDLE_SECONDS = 5.0
_last_borrowed: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()


async def check_connection(conn: Conn) -> None:
    """The pool's health check on borrow: ping a connection that was idle, trust one in steady use."""
    now = time.monotonic()
    last = _last_borrowed.get(conn)
    _last_borrowed[conn] = now
    if last is not None and now - last < PING_IDLE_SECONDS and conn.pgconn.status == ConnStatus.OK:
        return
    await AsyncConnectionPool.check_connection(conn)


def is_transient(exc: BaseException) -> bool:
    """Whether repeating the statement (on a fresh connection) may succeed: SQLSTATE classes 08 (connection),
    40 (serialization failure, deadlock) and 57 (operator intervention: the server shut down or restarted) —
    all ``psycopg.OperationalError`` — and the pool's own timeout. Data errors, constraint violations and
    programming errors are not transient: the same statement fails again."""
    return isinstance(exc, psycopg.OperationalError)


async def retrying(fn: Callable[[], Awaitable[T]], *, within: float = 30.0, what: str = "statement") -> T:
    """Run ``fn`` (one idempotent statement or transaction) again after transient errors, with a back-off, for at
    most ``within`` seconds; then the last error is raised. Only for statements whose repetition is harmless:
    fenced writes (a second try after a lost commit finds the work done or the token gone) and re-reads."""
    deadline = time.monotonic() + within
    delay = 0.05
    while True:
        try:
            return await fn()
        except Exception as exc:
            if not is_transient(exc) or time.monotonic() + delay > deadline:
                raise
            log.warning("transient database error; retrying", what=what, error=str(exc)[:200])
            await asyncio.sleep(delay)
            delay = min(delay * 2, 1.0)


class DatabaseSettings(Protocol):
    """The process settings the database needs (``config_schema.settings.RuntimeSettings`` has them; it sits
    above this package, so only their shape is named here)."""

    @property
    def database_url(self) -> str | None: ...

    @property
    def pg_dir(self) -> Path: ...

    @property
    def pool_min_size(self) -> int: ...

    @property
    def pool_max_size(self) -> int: ...


async def resolve_url(settings: DatabaseSettings) -> str:
    """The Postgres URL to use: ``DATABASE_URL`` or the embedded server's."""
    if settings.database_url:
        return settings.database_url
    return await start_embedded(settings.pg_dir)


class Database:
    """A pool on one Postgres, plus the URL for dedicated connections (LISTEN)."""

    def __init__(self, url: str, pool: AsyncConnectionPool[Conn]) -> None:
        self.url = url
        self.pool = pool

    @classmethod
    async def open(
        cls, settings: DatabaseSettings, *, url: str | None = None, run_migrations: bool = True
    ) -> Database:
        url = url or await resolve_url(settings)
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            url,
            min_size=settings.pool_min_size,
            max_size=settings.pool_max_size,
            kwargs=CONNECT_KWARGS,
            check=check_connection,
            open=False,
            name="clew",
            reconnect_timeout=120.0,
        )
        await pool.open(wait=True, timeout=60.0)
        db = cls(url, pool)
        if run_migrations:
            async with pool.connection() as conn:
                await migrate(conn)
        return db

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[Conn]:
        async with self.pool.connection() as conn:
            yield conn

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction (committed on success, rolled back on error)."""
        async with self.pool.connection() as conn, conn.transaction():
            yield conn

    async def fetchone(self, sql: str, params: Any = None) -> dict[str, Any] | None:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)  # type: ignore[arg-type]
            return await cur.fetchone()

    async def fetchall(self, sql: str, params: Any = None) -> list[dict[str, Any]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)  # type: ignore[arg-type]
            return await cur.fetchall()

    async def execute(self, sql: str, params: Any = None) -> int:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql, params)  # type: ignore[arg-type]
            return cur.rowcount

    async def ping(self) -> None:
        """One round trip (raises when the database does not answer)."""
        await self.fetchone(PING)

    async def notify(self, channel: str, payload: str) -> None:
        async with self.pool.connection() as conn:
            await channels.notify(conn, channel, payload)

    async def connect_dedicated(self, application_name: str | None = None) -> Conn:
        """A connection outside the pool, for LISTEN."""
        extra = {"application_name": application_name} if application_name else {}
        return await psycopg.AsyncConnection.connect(self.url, **CONNECT_KWARGS, **extra)

    async def close(self) -> None:
        await self.pool.close()
