"""Scratch databases for tests, on ``DATABASE_URL``'s server or on an embedded pgserver.

Each test session (and each test that needs isolation) gets a freshly created database, so parallel
sessions and leftover data never interfere.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import make_conninfo

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
