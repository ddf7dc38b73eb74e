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
import pytest
from langgraph_sdk import get_client

from persistence.db import Database
from tests.support.keys import make_key
from tests.support.pg import create_database, drop_database, scratch_database
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
    async with scratch_database("clew_cfg", pool_max_size=8) as db:
        yield db


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
        c = Cluster(url, procs[0], procs[1], {u: make_key(url, u) for u in ("alice", "bob", "carol", "dave")})
        yield c
        procs.extend(c.extra)
    finally:
        for p in procs:
            p.stop()
        drop_database(url)
