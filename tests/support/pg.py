"""Scratch databases for tests, on ``DATABASE_URL``'s server or on an embedded pgserver.

Each test session (and each test that needs isolation) gets a freshly created database, so parallel
sessions and leftover data never interfere. This is the one way tests make a database:
:func:`create_database` / :func:`drop_database` for a URL (a server process migrates it), or
:func:`scratch_database` for an open, migrated :class:`persistence.db.Database` in the test's own process.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import make_conninfo

from config_schema.settings import RuntimeSettings
from persistence.db import Database

_embedded_uri: str | None = None


def server_url() -> str:
    """The admin URL of the Postgres server tests use."""
    global _embedded_uri
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    if _embedded_uri is None:
        import pgserver

        root = Path(os.environ.get("CLEW_TEST_PGDATA") or tempfile.mkdtemp(prefix="clew-test-pg-"))
        _embedded_uri = pgserver.get_server(root, cleanup_mode="stop").get_uri()
    return _embedded_uri


def create_database(prefix: str = "clew_test") -> str:
    name = f"{prefix}_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return make_conninfo(server_url(), dbname=name)


def drop_database(url: str) -> None:
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    with psycopg.connect(server_url(), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@asynccontextmanager
async def scratch_database(prefix: str = "clew_test", **settings: Any) -> AsyncIterator[Database]:
    """A fresh database with clew's migrations applied, open in this process; dropped afterwards.

    ``settings`` override the :class:`RuntimeSettings` it is opened with (a small pool by default).
    """
    url = create_database(prefix)
    db: Database | None = None
    try:
        options: dict[str, Any] = {"auth": "none", "pool_min_size": 1, "pool_max_size": 6, **settings}
        db = await Database.open(RuntimeSettings(**options), url=url)
        yield db
    finally:
        if db is not None:
            await db.close()
        drop_database(url)
