"""Database faults: Postgres restarted five times while 100 runs are in flight; none is lost or stuck.

Uses its own embedded Postgres (pgserver) so restarting it cannot disturb anything else on the machine.
"""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.support.core import retrying
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow


def _restart(server: Any) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "restart"], pgdata=server.pgdata, user=server.system_user, timeout=60)


def _stop(server: Any) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", "stop"], pgdata=server.pgdata, user=server.system_user, timeout=60)


async def test_postgres_restarts_during_100_runs(tmp_path: Path) -> None:
    import pgserver

    pgdata = Path(tempfile.mkdtemp(prefix="clew-restart-pg-"))
    server = pgserver.get_server(pgdata, cleanup_mode="stop")
    url = server.get_uri()
    api = ClewProcess(url, tmp_path, workers=4, env={"CLEW_LEASE_SECONDS": "2"}).start()
    client = get_client(url=api.url)
    try:
        runs = []
        for _ in range(100):
            thread = await client.threads.create()
            run = await client.runs.create(thread["thread_id"], "steps3", input={"count": 0, "delay": 0.1})
            runs.append((thread["thread_id"], run["run_id"]))
        unfinished_at_restart = []
        for _ in range(5):
            await asyncio.sleep(1.0)
            pending = await retrying(client.threads.count, status="busy")
            unfinished_at_restart.append(pending)
            await asyncio.to_thread(_restart, server)
        # every restart hit runs in flight
        assert all(n > 0 for n in unfinished_at_restart), unfinished_at_restart
        deadline = time.monotonic() + 240
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline:
            for tid, rid in runs:
                if statuses.get(rid) in ("success", "error"):
                    continue
                run = await retrying(client.runs.get, tid, rid)
                statuses[rid] = run["status"]
            if all(s in ("success", "error") for s in statuses.values()) and len(statuses) == 100:
                break
            await asyncio.sleep(1.0)
        assert list(statuses.values()).count("success") == 100, statuses
        attempts = [(await retrying(client.runs.get, tid, rid))["attempt"] for tid, rid in runs]
        print("busy threads at each restart:", unfinished_at_restart, "runs retried:", sum(a > 1 for a in attempts))
        for tid, _ in runs:
            state = await retrying(client.threads.get_state, tid)
            assert state["values"]["count"] == 3
            assert state["values"]["log"] == ["n1", "n2", "n3"]
            thread = await retrying(client.threads.get, tid)
            assert thread["status"] == "idle"
    finally:
        await client.http.client.aclose()
        api.stop()
        # pgserver's own cleanup only stops the postmaster it started, which the restarts replaced
        with contextlib.suppress(Exception):
            _stop(server)
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)
