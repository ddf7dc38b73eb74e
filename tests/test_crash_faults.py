"""Faults during runs of a five-node graph whose nodes log each start and end to a file.

- Postgres (an embedded server of this module's own) restarted several times while runs are in flight: every
  run ends ``success`` and every node of every run started and finished exactly once — a step's checkpoint is
  durable before the next step starts, and a write cut by the restart is retried, not skipped.
- A worker stopped (SIGSTOP) during node 2 past its lease, taken over, then continued (SIGCONT): it may finish
  the node it was in, but starts no further node; every other node ran exactly once.
- SIGTERM during node 2: node 2 finishes in the stopping worker, no node starts there after the signal, the
  run is handed back then (within the grace period) and finishes elsewhere, each node exactly once.
- A cancel recorded while the run's worker is dead is applied by the worker that takes the run over, before
  anything runs; with ``wait=true`` and no worker alive, the API applies it itself.
- Only transient failures get another attempt: a node's ``RuntimeError`` ends the run ``error`` at once (error in
  the stream), a ``ConnectionError`` is retried (finished nodes not run again), a node's ``RetryPolicy`` is
  LangGraph's to apply.

The API runs with no workers; runs execute in ``clew worker`` processes the tests signal.

See docs/architecture.md ("Faults and side effects") for what each fault guarantees.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.graphs.faults import NODES, counts, lines
from tests.support.core import eventually, retrying
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow

# fewer runs in CI (2 cores) than when exploring by hand; enough to hit steps in flight at every restart
RUNS = int(os.environ.get("CLEW_FAULT_RUNS", "24"))
RESTARTS = int(os.environ.get("CLEW_FAULT_RESTARTS", "4"))


def _pg_ctl(server: Any, *args: str) -> None:
    from pgserver._commands import pg_ctl

    pg_ctl(["-w", "-m", "fast", *args], pgdata=server.pgdata, user=server.system_user, timeout=60)


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
        after_restart: list[httpx.Response] = []
        async with httpx.AsyncClient(base_url=api.url, timeout=30) as raw:
            for _ in range(RESTARTS):
                await asyncio.sleep(0.8)
                in_flight.append(await retrying(client.threads.count, status="busy"))
                await asyncio.to_thread(_pg_ctl, server, "restart")
                # the first requests after a restart meet pooled connections that died with it: 503, never 500
                after_restart += await asyncio.gather(*(raw.post("/threads/search", json={}) for _ in range(4)))
        assert all(n > 0 for n in in_flight), in_flight  # every restart hit runs in flight
        assert all(r.status_code == 200 or (r.status_code == 503 and r.headers.get("retry-after"))
                   for r in after_restart), [(r.status_code, r.text) for r in after_restart]
        deadline = time.monotonic() + 180
        statuses: dict[str, str] = {}
        while time.monotonic() < deadline and (
            len(statuses) < len(runs) or any(s not in ("success", "error") for s in statuses.values())
        ):
            for tid, rid in runs:
                if statuses.get(rid) not in ("success", "error"):
                    statuses[rid] = (await retrying(client.runs.get, tid, rid))["status"]
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
            state = await retrying(client.threads.get_state, tid)
            assert state["values"]["done"] == NODES
    finally:
        await client.http.client.aclose()
        api.stop()
        with contextlib.suppress(Exception):
            _pg_ctl(server, "stop")
        server.cleanup()
        shutil.rmtree(pgdata, ignore_errors=True)


LEASE = "2"
ENV = {"CLEW_LEASE_SECONDS": LEASE, "CLEW_MAX_ATTEMPTS": "3", "CLEW_SHUTDOWN_GRACE_SECONDS": "8"}


@pytest.fixture(scope="module")
def fault_db() -> Any:
    url = create_database("clew_faults")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def api(fault_db: str, tmp_path_factory: pytest.TempPathFactory) -> Any:
    proc = ClewProcess(fault_db, tmp_path_factory.mktemp("fault-api"), workers=0, env=ENV).start()
    yield proc
    proc.stop()


@pytest.fixture
def spawn(fault_db: str, tmp_path: Path) -> Any:
    procs: list[ClewProcess] = []

    def _spawn(**env: str) -> ClewProcess:
        p = ClewProcess(fault_db, tmp_path, kind="worker", workers=2, env={**ENV, **env}).start()
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        if p.proc is not None and p.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                p.proc.send_signal(signal.SIGCONT)
        p.kill()


@pytest.fixture
async def client(api: ClewProcess) -> Any:
    c = get_client(url=api.url)
    yield c
    await c.http.client.aclose()


def _started(log_path: str, tid: str, node: str, pid: int | None = None) -> bool:
    return any(e == "start" and t == tid and n == node and (pid is None or p == pid)
               for e, t, n, p, _ in lines(log_path))


def _pid(proc: ClewProcess) -> int:
    assert proc.proc is not None
    return proc.proc.pid


async def test_stalled_worker_starts_no_step_after_losing_its_run(client: Any, spawn: Any, tmp_path: Path) -> None:
    log_path = str(tmp_path / "nodes.log")
    w1 = spawn()
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "five", input={"log_path": log_path, "delay": 1.0})
    await eventually(lambda: _started(log_path, tid, "n2", _pid(w1)), what="n2 to start", every=0.02)
    w1.signal(signal.SIGSTOP)  # stalled in the middle of n2, past its lease
    w2 = spawn()
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
    w1.signal(signal.SIGCONT)  # the stale worker wakes up: it may finish n2, but must not start n3
    await asyncio.sleep(float(LEASE) + 2.0)
    seen = lines(log_path)
    by_w1 = [(e, n) for e, t, n, p, _ in seen if t == tid and p == _pid(w1)]
    assert by_w1 in ([("start", "n1"), ("end", "n1"), ("start", "n2")],
                     [("start", "n1"), ("end", "n1"), ("start", "n2"), ("end", "n2")]), by_w1
    c = counts(log_path)
    for node in NODES:
        ends_w2 = sum(1 for e, t, n, p, _ in seen if (e, t, n, p) == ("end", tid, node, _pid(w2)))
        if node == "n1":
            assert (c[("start", tid, node)], c[("end", tid, node)], ends_w2) == (1, 1, 0)
        else:  # n2 was in flight when w1 stalled: run again by w2; the rest only by w2
            assert c[("start", tid, node)] == (2 if node == "n2" else 1), (node, c)
            assert ends_w2 == 1, (node, seen)
    assert (await client.threads.get_state(tid))["values"]["done"] == NODES


async def test_sigterm_finishes_the_step_then_hands_back(
    client: Any, spawn: Any, tmp_path: Path, fault_db: str
) -> None:
    log_path = str(tmp_path / "nodes.log")
    w1 = spawn()
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "five", input={"log_path": log_path, "delay": 1.5})
    await eventually(lambda: _started(log_path, tid, "n2", _pid(w1)), what="n2 to start", every=0.02)
    signalled = time.time()
    w1.signal(signal.SIGTERM)
    assert w1.proc is not None
    w1.proc.wait(30)
    with psycopg.connect(fault_db, autocommit=True) as conn:
        row = conn.execute("SELECT status, attempt, extract(epoch FROM updated_at) FROM runs WHERE run_id = %s",
                           (run["run_id"],)).fetchone()
    assert row is not None and row[:2] == ("pending", 0), row
    handed_back = float(row[2])
    mine = [(e, n, at) for e, t, n, p, at in lines(log_path) if t == tid and p == _pid(w1)]
    # the step in flight finished in the stopping worker, and nothing started after the signal
    assert [(e, n) for e, n, _ in mine] == [("start", "n1"), ("end", "n1"), ("start", "n2"), ("end", "n2")], mine
    n2_end = mine[-1][2]
    assert n2_end <= handed_back < signalled + float(ENV["CLEW_SHUTDOWN_GRACE_SECONDS"]), (signalled, n2_end, handed_back)
    spawn()
    await client.runs.join(tid, run["run_id"])
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "success"
    c = counts(log_path)
    assert all((c[("start", tid, n)], c[("end", tid, n)]) == (1, 1) for n in NODES), c


@pytest.mark.parametrize("wait", [False, True])
async def test_cancel_while_the_worker_is_dead_is_not_lost(
    client: Any, spawn: Any, tmp_path: Path, api: ClewProcess, wait: bool
) -> None:
    log_path = str(tmp_path / "nodes.log")
    w1 = spawn()
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "five", input={"log_path": log_path, "delay": 1.0},
                                   stream_mode=["updates"])
    await eventually(lambda: _started(log_path, tid, "n2", _pid(w1)), what="n2 to start", every=0.02)
    w1.kill()
    if wait:  # no worker alive: the API applies the cancel itself once the dead worker's lease lapsed
        async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
            resp = await http.post(f"/threads/{tid}/runs/{run['run_id']}/cancel", params={"wait": "true"})
        assert resp.status_code == 204, resp.text
    else:
        await client.runs.cancel(tid, run["run_id"])
        spawn()  # takes the run over once the lease lapses, and must apply the cancel before anything runs
        await client.runs.join(tid, run["run_id"])
    final = await client.runs.get(tid, run["run_id"])
    assert final["status"] == "interrupted", final
    await asyncio.sleep(0.5)
    c = counts(log_path)
    assert c.get(("start", tid, "n2")) == 1 and ("start", tid, "n3") not in c, c
    parts = [p.event async for p in client.runs.join_stream(tid, run["run_id"], last_event_id="-1")]
    assert parts[-1] == "end" and parts.count("end") == 1, parts


async def test_only_transient_failures_are_retried(client: Any, spawn: Any, tmp_path: Path) -> None:
    log_path = str(tmp_path / "nodes.log")
    spawn()
    # a deterministic error: the run ends `error` at once, with the error in the stream
    tid = (await client.threads.create())["thread_id"]
    parts = [p async for p in client.runs.stream(tid, "five", input={"log_path": log_path, "fail": "n3"})]
    assert [p.event for p in parts][-2:] == ["error", "end"]
    assert parts[-2].data["error"] == "RuntimeError" and "deterministic failure in n3" in parts[-2].data["message"]
    run = (await client.runs.list(tid))[0]
    assert (run["status"], run["attempt"]) == ("error", 1), run
    c = counts(log_path)
    assert c[("start", tid, "n3")] == 1 and ("end", tid, "n3") not in c and ("start", tid, "n4") not in c
    # a connection failure: another attempt, from the last checkpoint (n1 and n2 do not run again)
    tid2 = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid2, "five", input={"log_path": log_path, "flaky": "n3"})
    assert out["done"] == NODES
    run2 = (await client.runs.list(tid2))[0]
    assert (run2["status"], run2["attempt"]) == ("success", 2), run2
    c = counts(log_path)
    assert [(c[("start", tid2, n)], c[("end", tid2, n)]) for n in NODES] == [(1, 1), (1, 1), (2, 1), (1, 1), (1, 1)]
    # the node's own RetryPolicy (RuntimeError, 2 attempts) is LangGraph's: applied within the one attempt
    tid3 = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid3, "five_retrying", input={"log_path": log_path, "fail": "n2"}, raise_error=False)
    run3 = (await client.runs.list(tid3))[0]
    assert (run3["status"], run3["attempt"]) == ("error", 1), run3
    c = counts(log_path)
    assert c[("start", tid3, "n2")] == 2 and ("start", tid3, "n3") not in c, c
