"""Shared fixtures of the knowledge-base tests: a scratch Postgres database and knowledge bases on it.

Loaded by ``pytest_plugins`` from ``test_knowledge_*.py``. ``knowledge_db`` is the one place that decides
which Postgres the tests use, so it can be swapped for a suite-wide database fixture.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import psycopg
import pytest

from config_schema.settings import RuntimeSettings
from persistence.db import Database
from retrieval.knowledge import KnowledgeBase
from tests.retrieval_helpers import make_kb

ADMIN_URL = os.environ.get("CLEW_TEST_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")


def _db_url(name: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{name}"


@pytest.fixture(scope="session")
async def knowledge_db() -> AsyncIterator[Database]:
    """A uniquely named scratch database (migrations applied), dropped after the session."""
    name = f"clew_test_kb_{uuid.uuid4().hex[:10]}"
    async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{name}"')
    settings = RuntimeSettings(auth="none", pool_min_size=1, pool_max_size=6)
    db: Database | None = None
    try:
        db = await Database.open(settings, url=_db_url(name))
        yield db
    finally:
        if db is not None:
            await db.close()
        async with await psycopg.AsyncConnection.connect(ADMIN_URL, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def kb(knowledge_db: Database, tmp_path: Path) -> AsyncIterator[KnowledgeBase]:
    """A sparse-only knowledge base on a fresh embedded Qdrant."""
    base = await make_kb(knowledge_db, tmp_path)
    try:
        yield base
    finally:
        await base.close()
