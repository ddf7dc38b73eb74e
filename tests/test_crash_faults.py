"""Faults during runs of a five-node graph whose nodes log each start and end to a file.

- Postgres (an embedded server of this module's own) restarted several times while runs are in flight: every
  run ends ``success`` and every node of every run started and finished exactly once — a step's checkpoint is
  durable before the next step starts, and a write cut by the restart is retried, not skipped.

See docs/architecture.md ("Faults and side effects") for what each fault guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client

from tests.graphs.faults import NODES, counts
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow

# fewer runs in CI (2 cores) than when exploring by hand; enough to hit steps in flight at every restart
RUNS = int(os.environ.get("CLEW_FAULT_RUNS", "24"))
RESTARTS = int(os.environ.get("CLEW_FAULT_RESTARTS", "4"))


def _pg_ctl(server: Any, *args: str) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", *args], pgdata=server.pgdata, user=server.system_user, timeout=60)


async def _retrying(fn: Any, *args: Any, **kwargs: Any) -> Any:
    deadline = time.monotonic() + 120
    while True:
        try:
            return await fn(*args, **kwargs)
        except (httpx.HTTPError, Exception):
            if time.monotonic() > deadline:
                raise
            await asyncio.sleep(0.3)


async def test_postgres_restarts_never_rerun_a_finished_node(tmp_path: Path) -> None:
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="clew-fault-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    log_path = str(tmp_path / "nodes.log")
    api = ClewProcess(server.get_uri(), tmp_path, workers=4).start()
    client = get_client(url=api.url)
    try:
        runs = []
        for _ in range(RUNS):
            thread = await client.threads.create()
            run = await client.runs.create(thread["thread_id"], "five", input={"log_path": log_path, "delay": 0.15})
            runs.append((thread["thread_id"], run["run_id"]))
        in_flight = []
        for _ in range(RESTARTS):
            await asyncio.sleep(0.8)
            in_flight.append(await _retrying(client.threads.count, status="busy"))
            await asyncio.to_thread(_pg_ctl, server, "restart")
        assert all(n > 0 for n in in_flight), in_flight  # every restart hit runs in flight
        deadline = time.monotonic() + 180
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline and (
            len(statuses) < len(runs) or any(s not in ("success", "error") for s in statuses.values())
        ):
            for tid, rid in runs:
                if statuses.get(rid) not in ("success", "error"):
                    statuses[rid] = (await _retrying(client.runs.get, tid, rid))["status"]
            await asyncio.sleep(0.5)
        assert list(statuses.values()).count("success") == len(runs), statuses
        seen = counts(log_path)
        wrong = {
            (tid, node): (seen.get(("start", tid, node), 0), seen.get(("end", tid, node), 0))
            for tid, _ in runs for node in NODES
            if (seen.get(("start", tid, node), 0), seen.get(("end", tid, node), 0)) != (1, 1)
        }
        assert not wrong, f"(starts, ends) per node that did not run exactly once: {wrong}"
        for tid, _ in runs:
            state = await _retrying(client.threads.get_state, tid)
            assert state["values"]["done"] == NODES
    finally:
        await client.http.client.aclose()
        api.stop()
        with contextlib.suppress(Exception):
            _pg_ctl(server, "stop")
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
