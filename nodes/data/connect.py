"""Opening a user's database: a connection record + its decrypted password → a SQLAlchemy async engine.

One engine per connection and version (its ``updated_at``), built lazily and kept per process; engines use
``NullPool``, so every use gets a fresh database session that is closed afterwards: whatever a statement
changed in its session (a setting, a variable) dies with it. Every session is read-only from its first
moment, before clew sends anything:

- PostgreSQL (``psycopg``): the libpq ``options`` parameter sets ``default_transaction_read_only=on``;
- MySQL / MariaDB (``aiomysql``): ``init_command`` runs ``SET SESSION TRANSACTION READ ONLY``;
- SQLite (``aiosqlite``): the file is opened as a ``mode=ro`` URI with ``PRAGMA query_only = ON``, no
  attached databases, and an authorizer that lets SQLite itself deny anything but reading.

The executor (:mod:`nodes.data.execution`) adds a read-only transaction and a timeout per statement.

A :class:`ConnectionSpec` carries the password only in memory (``repr`` hides it); the graph's state holds
the connection id, never the spec. :func:`load_spec` checks ownership: another user's id is "not found".
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import re
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

# The three drivers' dialects are imported with this module (at process start, with the graph), so the first
# question of a process does not stall the event loop importing them.
import sqlalchemy.dialects.mysql.aiomysql  # noqa: F401
import sqlalchemy.dialects.postgresql.psycopg  # noqa: F401
import sqlalchemy.dialects.sqlite.aiosqlite  # noqa: F401
import structlog
from sqlalchemy.engine import URL
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import NullPool

from nodes.data.denylist import denied
from nodes.data.reach import TargetRefused, check_target, refuse_if_own
from nodes.data.runtime import own_identity, reach_settings
from persistence import connections as repo
from persistence.connections import server_identity
from persistence.secret_box import decrypt

log = structlog.get_logger("clew.data")

DRIVERS = ("sqlite", "postgresql", "mysql")
DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}
CONNECT_TIMEOUT_SECONDS = 10

# Connection options a user may set: passed to the driver as they are (anything else is refused, so an
# option cannot switch the session back to read-write, e.g. libpq's ``options=-c ...``).
DRIVER_OPTIONS: dict[str, frozenset[str]] = {
    "postgresql": frozenset({"sslmode", "sslrootcert", "application_name"}),
    "mysql": frozenset({"charset"}),
    "sqlite": frozenset(),
}
# Options clew itself reads (not passed to the driver).
CLEW_OPTIONS = frozenset({"schema"})


class ConnectionUnavailable(RuntimeError):
    """The connection does not exist for this user, or its password cannot be read."""


@dataclass(frozen=True)
class ConnectionSpec:
    connection_id: str
    user_id: str
    name: str
    driver: str
    database: str
    host: str | None = None
    port: int | None = None
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    options: dict[str, Any] = field(default_factory=dict, hash=False, compare=False)
    allowed_tables: tuple[str, ...] | None = None
    version: str = ""
    # the address :func:`nodes.data.reach.check_target` checked for a host name: the session connects there
    hostaddr: str | None = None

    @property
    def schema(self) -> str | None:
        """The schema introspected and queried by default (PostgreSQL: ``public`` unless ``options.schema``)."""
        value = self.options.get("schema")
        if value:
            return str(value)
        return "public" if self.driver == "postgresql" else None


def check_options(driver: str, options: dict[str, Any]) -> None:
    """Raise ``ValueError`` naming the first option not allowed for ``driver``."""
    allowed = DRIVER_OPTIONS.get(driver, frozenset()) | CLEW_OPTIONS
    for key, value in options.items():
        if key not in allowed:
            raise ValueError(f"option {key!r} is not supported for {driver}; allowed: {sorted(allowed)}")
        if not isinstance(value, str | int | bool) or isinstance(value, str) and not re.fullmatch(r"[\w./:@ -]*", value):
            raise ValueError(f"option {key!r}: a plain string or number is required")


async def check_reach(values: dict[str, Any], db_url: str, data_dir: Path) -> str | None:
    """:func:`nodes.data.reach.check_target` with the administrator's current settings; raises
    :class:`TargetRefused`, returns the checked address of a host name."""
    allowed_hosts, sqlite_directories = await reach_settings()
    return await check_target(
        str(values["driver"]), values.get("host"), values.get("port"), str(values["database"]),
        data_dir=data_dir, own_url=db_url, allowed_hosts=allowed_hosts, sqlite_directories=sqlite_directories,
    )


def sqlite_uri(path: str) -> str:
    return f"file:{Path(path).expanduser().resolve()}?mode=ro"


def url_of(spec: ConnectionSpec) -> URL:
    """The SQLAlchemy URL (its ``repr`` and ``render_as_string()`` mask the password)."""
    if spec.driver == "sqlite":
        return URL.create("sqlite+aiosqlite", database=sqlite_uri(spec.database), query={"uri": "true"})
    drivername = {"postgresql": "postgresql+psycopg", "mysql": "mysql+aiomysql"}[spec.driver]
    query = {k: str(v) for k, v in spec.options.items() if k in DRIVER_OPTIONS[spec.driver]}
    return URL.create(
        drivername,
        username=spec.username or None,
        password=spec.password or None,
        host=spec.host or "127.0.0.1",
        port=spec.port or DEFAULT_PORTS[spec.driver],
        database=spec.database,
        query=query,
    )


def _postgres_creator(spec: ConnectionSpec) -> Any:
    """A psycopg session at the address that was checked (``hostaddr``), read-only from its first moment,
    refused (and closed) when the server turns out to be clew's own database (:func:`reach.refuse_if_own`)."""
    import psycopg

    async def create() -> Any:
        params: dict[str, Any] = {
            "host": spec.host or "127.0.0.1", "port": spec.port or DEFAULT_PORTS["postgresql"],
            "dbname": spec.database, "user": spec.username or None, "password": spec.password or None,
            "hostaddr": spec.hostaddr, "options": "-c default_transaction_read_only=on",
            "connect_timeout": CONNECT_TIMEOUT_SECONDS,
            **{k: str(v) for k, v in spec.options.items() if k in DRIVER_OPTIONS["postgresql"]},
        }
        conn = await psycopg.AsyncConnection.connect(**{k: v for k, v in params.items() if v is not None})
        try:
            refuse_if_own(await server_identity(conn), await own_identity())
            await conn.rollback()
        except BaseException:
            with contextlib.suppress(Exception):
                await conn.close()
            raise
        return conn

    return create


def _mysql_creator(spec: ConnectionSpec) -> Any:
    """aiomysql hard-codes ``CLIENT.MULTI_STATEMENTS`` in every handshake, which would let
    ``SELECT 1; DROP TABLE t`` reach the server as two statements. The connection is built here with the
    flag cleared before the handshake (aiomysql offers no switch for it), so the server itself refuses a
    chain of statements; the test suite checks that it does."""
    import aiomysql
    from pymysql.constants import CLIENT

    async def create() -> Any:
        conn = aiomysql.Connection(
            host=spec.hostaddr or spec.host or "127.0.0.1",
            port=spec.port or DEFAULT_PORTS["mysql"],
            user=spec.username or "",
            password=spec.password or "",
            db=spec.database,
            charset=str(spec.options.get("charset") or "utf8mb4"),
            init_command="SET SESSION TRANSACTION READ ONLY",
            connect_timeout=CONNECT_TIMEOUT_SECONDS,
            client_flag=CLIENT.FOUND_ROWS,
        )
        conn.client_flag &= ~CLIENT.MULTI_STATEMENTS
        try:
            await conn._connect()
        except BaseException:
            with contextlib.suppress(Exception):
                conn.close()
            raise
        return conn

    return create


# SQLite authorizer actions a data question may use: reading, calling allowed functions, reading (not
# setting) a PRAGMA (SQLAlchemy's introspection reads table_info and friends), recursive CTEs and the
# transaction statements (harmless on a read-only file). Everything else -- every write, ATTACH (which
# would create a file even on a mode=ro connection), DETACH, DDL -- is denied by SQLite itself.
_SQLITE_ALLOWED_ACTIONS = frozenset(
    getattr(sqlite3, name)
    for name in ("SQLITE_SELECT", "SQLITE_READ", "SQLITE_FUNCTION", "SQLITE_PRAGMA", "SQLITE_RECURSIVE",
                 "SQLITE_TRANSACTION", "SQLITE_SAVEPOINT")
    if hasattr(sqlite3, name)
)


# PRAGMAs that take an argument only to name what they describe (SQLAlchemy's introspection uses them);
# any other PRAGMA with an argument sets something and is denied.
_SQLITE_SCHEMA_PRAGMAS = frozenset(
    {"table_info", "table_xinfo", "index_list", "index_info", "index_xinfo", "foreign_key_list", "table_list"}
)


def _sqlite_authorizer(action: int, arg1: str | None, arg2: str | None, _db: str | None, _trigger: str | None) -> int:
    if action not in _SQLITE_ALLOWED_ACTIONS:
        return sqlite3.SQLITE_DENY
    if action == sqlite3.SQLITE_PRAGMA and arg2 is not None and (arg1 or "").lower() not in _SQLITE_SCHEMA_PRAGMAS:
        return sqlite3.SQLITE_DENY  # setting a pragma (query_only = 0, writable_schema = 1, ...)
    if action == sqlite3.SQLITE_FUNCTION and arg2 and denied(arg2) is not None:
        return sqlite3.SQLITE_DENY  # the validator's deny-list, enforced by SQLite too
    return sqlite3.SQLITE_OK


def _sqlite_creator(spec: ConnectionSpec) -> Any:
    """The file opened ``mode=ro`` with ``query_only``, no attached databases allowed
    (``SQLITE_LIMIT_ATTACHED`` = 0) and :func:`_sqlite_authorizer` on every statement. aiosqlite runs the
    connector in its own thread, where the connection lives."""
    import aiosqlite

    uri = sqlite_uri(spec.database)

    def connector() -> sqlite3.Connection:
        conn = sqlite3.connect(uri, uri=True, timeout=CONNECT_TIMEOUT_SECONDS, check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        conn.setlimit(sqlite3.SQLITE_LIMIT_ATTACHED, 0)
        conn.set_authorizer(_sqlite_authorizer)
        return conn

    async def create() -> Any:
        return await aiosqlite.Connection(connector, 64)

    return create


def build_engine(spec: ConnectionSpec) -> AsyncEngine:
    if spec.driver == "mysql":
        return create_async_engine(url_of(spec), poolclass=NullPool, async_creator=_mysql_creator(spec))
    if spec.driver == "sqlite":
        return create_async_engine(url_of(spec), poolclass=NullPool, async_creator=_sqlite_creator(spec))
    return create_async_engine(url_of(spec), poolclass=NullPool, async_creator=_postgres_creator(spec))


_engines: dict[tuple[str, str], AsyncEngine] = {}
_lock = asyncio.Lock()


async def engine_for(spec: ConnectionSpec) -> AsyncEngine:
    """The engine of ``spec`` (cached per connection id and version; older versions are disposed)."""
    key = (spec.connection_id, spec.version)
    engine = _engines.get(key)
    if engine is not None:
        return engine
    async with _lock:
        engine = _engines.get(key)
        if engine is None:
            for old in [k for k in _engines if k[0] == spec.connection_id]:
                await _engines.pop(old).dispose()
            engine = _engines[key] = build_engine(spec)
    return engine


async def forget(connection_id: str) -> None:
    """Drop the cached engines of a connection (after an update or a delete)."""
    async with _lock:
        for old in [k for k in _engines if k[0] == connection_id]:
            await _engines.pop(old).dispose()


def spec_of(row: dict[str, Any], password: str | None) -> ConnectionSpec:
    allowed = row.get("allowed_tables")
    return ConnectionSpec(
        connection_id=str(row["connection_id"]),
        user_id=str(row["user_id"]),
        name=str(row["name"]),
        driver=str(row["driver"]),
        database=str(row["database"]),
        host=row.get("host"),
        port=row.get("port"),
        username=row.get("username"),
        password=password,
        options=dict(row.get("options") or {}),
        allowed_tables=tuple(str(t).lower() for t in allowed) if allowed is not None else None,
        version=str(row.get("updated_at") or ""),
    )


async def load_spec(db: Any, data_dir: Path, user_id: str, connection_id: str) -> ConnectionSpec:
    """The connection ``connection_id`` of ``user_id`` with its password decrypted (in memory only)."""
    async with db.connection() as conn:
        row = await repo.get(conn, user_id, connection_id)
        token = await repo.get_secret(conn, user_id, connection_id) if row else None
    if row is None:
        raise ConnectionUnavailable(f"connection {connection_id} not found")
    try:  # again at connect time: the settings or a host name's address may have changed since
        hostaddr = await check_reach(row, db.url, data_dir)
    except TargetRefused as exc:
        raise ConnectionUnavailable(str(exc)) from None
    password = None
    if token:
        try:
            password = decrypt(data_dir, token)
        except Exception as exc:  # SecretUnreadable: the key changed
            raise ConnectionUnavailable(str(exc)) from None
    return dataclasses.replace(spec_of(row, password), hostaddr=hostaddr)


def error_text(exc: BaseException) -> str:
    """A driver error as one readable line, without the SQLAlchemy boilerplate (and never a password:
    drivers do not put it in their messages, and URLs are rendered masked)."""
    orig = getattr(exc, "orig", None) or exc
    text = str(orig).strip() or type(orig).__name__
    text = text.split("\n[SQL:")[0].split("\n(Background on this error")[0]
    return " ".join(text.split())[:1000]


async def test_connection(spec: ConnectionSpec) -> dict[str, Any]:
    """``{"reachable", "server_version", "error", "elapsed_ms"}``: connect, ask for the version, close."""
    started = time.perf_counter()
    engine = build_engine(spec)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT_SECONDS + 5):
            async with engine.connect() as conn:
                version = await conn.run_sync(lambda c: c.dialect.server_version_info)
                raw = await conn.get_raw_connection()
                label = _version_label(spec.driver, raw.driver_connection, version)
                await conn.rollback()
        return {"reachable": True, "server_version": label, "error": None, "elapsed_ms": _ms(started)}
    except Exception as exc:
        return {"reachable": False, "server_version": None, "error": error_text(exc), "elapsed_ms": _ms(started)}
    finally:
        await engine.dispose()


def _version_label(driver: str, driver_conn: Any, version: Any) -> str:
    if driver == "mysql":
        info = getattr(driver_conn, "get_server_info", None)
        if callable(info):
            return str(info())
    if driver == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    if driver == "postgresql":
        return "PostgreSQL " + ".".join(str(p) for p in version or ())
    return ".".join(str(p) for p in version or ())


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)


async def forget_all() -> None:
    """Dispose every cached engine (process shutdown)."""
    async with _lock:
        while _engines:
            await _engines.popitem()[1].dispose()
