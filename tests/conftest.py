"""Shared fixtures: a scratch database and a real clew server (subprocess, real uvicorn) with two users.

``client`` speaks as alice and ``other_client`` as bob, both through the official langgraph-sdk, so every
API test also checks what the SDK sends and parses. The helpers themselves live in ``tests/support/``; its
fixture modules are listed in ``pytest_plugins`` below (the configuration cluster and databases, the
knowledge bases).
"""

from __future__ import annotations

import os

os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from langgraph_sdk import get_client

from tests.support.keys import make_key
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

pytest_plugins = ["tests.support.config", "tests.support.knowledge"]


@pytest.fixture(scope="session")
def db_url() -> Iterator[str]:
    url = create_database()
    yield url
    drop_database(url)


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("clew-data")


@pytest.fixture(scope="session")
def server(db_url: str, data_dir: Path) -> Iterator[ClewProcess]:
    # one allowed browser origin: the CORS preflight test of the protocol routes uses it
    proc = ClewProcess(db_url, data_dir, env={"CLEW_AUTH": "api_key", "CLEW_ADMIN_USERS": '["alice"]',
                                              "CLEW_CORS_ORIGINS": '["http://example.test"]'})
    proc.start()
    yield proc
    proc.stop()


@pytest.fixture(scope="session")
def keys(server: ClewProcess, db_url: str, data_dir: Path) -> dict[str, str]:
    return {u: make_key(db_url, u) for u in ("alice", "bob")}


@pytest.fixture
async def client(server: ClewProcess, keys: dict[str, str]) -> AsyncIterator[object]:
    c = get_client(url=server.url, api_key=keys["alice"])
    yield c
    await c.http.client.aclose()


@pytest.fixture
async def other_client(server: ClewProcess, keys: dict[str, str]) -> AsyncIterator[object]:
    c = get_client(url=server.url, api_key=keys["bob"])
    yield c
    await c.http.client.aclose()
