"""Shared fixtures of the configuration tests (``tests/test_config_*.py``).

- ``config_db``: a fresh scratch database (migrations applied) for in-process tests of the service.
- ``cluster``: two real ``clew serve`` processes (A and B) on one fresh database, with a system TOML file and
  a ``CLEW_SETTING__…`` variable, API keys for alice (admin), bob, carol and dave; shared by the API and the
  reload tests (one start-up). Its own database keeps the system overrides these tests set away from other
  test modules' server.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from api.auth import hash_key, new_key
from config_schema.settings import RuntimeSettings
from persistence.db import Database
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

SYSTEM_TOML = """
[research]
depth = 4            # file beats the declared default (2)
breadth = 5          # ... and is then beaten by the environment

[ui]
font_size = 18
"""
SYSTEM_ENV = {"CLEW_SETTING__RESEARCH__BREADTH": "6", "CLEW_SETTING__AGENT_BEHAVIOR__SUMMARY_LENGTH": "long"}


@pytest.fixture(scope="module")
async def config_db() -> AsyncIterator[Database]:
    url = create_database("clew_cfg")
    db = await Database.open(RuntimeSettings(pool_min_size=1, pool_max_size=8), url=url)
    try:
        yield db
    finally:
        await db.close()
        drop_database(url)


def graphs_file(directory: Path) -> Path:
    """A langgraph.json with just the graphs these tests run (independent of other modules' graphs)."""
    path = directory / "langgraph.json"
    path.write_text(
        json.dumps(
            {
                "dependencies": ["."],
                "graphs": {
                    "config_echo": "tests.graphs.config_echo:graph",
                    "steps10": "tests.graphs.scripted:steps10",
                },
            }
        )
    )
    return path


def make_keys(db_url: str, users: list[str]) -> dict[str, str]:
    """API keys for ``users``, written straight to the database (what ``clew keys create`` does, minus a
    process start per key)."""
    keys = {u: new_key() for u in users}
    with psycopg.connect(db_url, autocommit=True) as conn:
        for user, key in keys.items():
            conn.execute("INSERT INTO users (user_id) VALUES (%s) ON CONFLICT DO NOTHING", (user,))
            conn.execute("INSERT INTO api_keys (user_id, key_hash) VALUES (%s, %s)", (user, hash_key(key)))
    return keys


@dataclass
class Cluster:
    db_url: str
    a: ClewProcess
    b: ClewProcess
    keys: dict[str, str]
    extra: list[ClewProcess] = field(default_factory=list)

    def http(self, user: str, proc: ClewProcess | None = None) -> httpx.AsyncClient:
        return httpx.AsyncClient(
            base_url=(proc or self.a).url, headers={"x-api-key": self.keys[user]}, timeout=30
        )

    def sdk(self, user: str, proc: ClewProcess | None = None) -> Any:
        return get_client(url=(proc or self.a).url, api_key=self.keys[user])


@pytest.fixture(scope="session")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    root = tmp_path_factory.mktemp("clew-config")
    url = create_database("clew_cfg_api")
    toml = root / "system.toml"
    toml.write_text(SYSTEM_TOML)
    env = {
        "CLEW_AUTH": "api_key",
        "CLEW_ADMIN_USERS": '["alice"]',
        "CLEW_CONFIG_FILE": str(toml),
        **SYSTEM_ENV,
    }
    graphs = graphs_file(root)
    procs: list[ClewProcess] = []
    try:
        for name in ("a", "b"):  # started side by side (concurrent start-ups are safe)
            data = root / name
            data.mkdir()
            procs.append(ClewProcess(url, data, config=graphs, workers=2, env=env).start(wait=False))
        for p in procs:
            p.wait_ready()
        c = Cluster(url, procs[0], procs[1], make_keys(url, ["alice", "bob", "carol", "dave"]))
        yield c
        procs.extend(c.extra)
    finally:
        for p in procs:
            p.stop()
        drop_database(url)
