"""Crash safety with real processes: SIGKILL, SIGSTOP and SIGTERM on `clew worker`, failing runs.

The API runs in its own process with no workers; runs execute in separate `clew worker` processes that the
tests kill. Leases are short (2 s) so recovery is quick.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from langgraph_sdk import get_client

from tests.graphs.crashy import COUNTER_DDL
from tests.support.core import eventually
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow

LEASE = "2"
ENV = {"CLEW_LEASE_SECONDS": LEASE, "CLEW_MAX_ATTEMPTS": "3", "CLEW_SHUTDOWN_GRACE_SECONDS": "10"}


@pytest.fixture(scope="module")
def crash_db() -> Iterator[str]:
    url = create_database("clew_crash")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def api(crash_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    data = tmp_path_factory.mktemp("crash-api")
    proc = ClewProcess(crash_db, data, workers=0, env=ENV).start()
    with psycopg.connect(crash_db, autocommit=True) as conn:
        conn.execute(COUNTER_DDL)
    yield proc
    proc.stop()


@pytest.fixture
def spawn(crash_db: str, tmp_path: Path) -> Iterator[Any]:
    procs: list[ClewProcess] = []

    def _spawn(**env: str) -> ClewProcess:
        p = ClewProcess(crash_db, tmp_path, kind="worker", workers=4, env={**ENV, **env}).start()
        procs.append(p)
        return p

    yield _spawn
    for p in procs:
        if p.proc is not None and p.proc.poll() is None:
            try:
                p.signal(signal.SIGCONT)
            except ProcessLookupError:
                pass
        p.kill()


@pytest.fixture
async def client(api: ClewProcess) -> AsyncIterator[Any]:
    c = get_client(url=api.url)
    yield c
    await c.http.client.aclose()


def counters(db: str, thread_id: str) -> dict[str, int]:
    with psycopg.connect(db, autocommit=True) as conn:
        rows = conn.execute("SELECT node, n FROM effect_counter WHERE thread_id = %s", (thread_id,)).fetchall()
    return {r[0]: r[1] for r in rows}


EXPECTED_RESULTS = ["X", "Y"]
INPUT = {"items": ["x", "y"], "delay": 1.0}


@pytest.mark.parametrize("target", ["a", "b", "branch:x", "c"])
async def test_sigkill_mid_node_resumes_from_checkpoint(client: Any, crash_db: str, spawn: Any, target: str) -> None:
    w1 = spawn()
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "crashy", input=INPUT)
    await eventually(lambda: target in counters(crash_db, tid), timeout=30)
    w1.kill()  # SIGKILL in the middle of `target`
    w2 = spawn()
    await client.runs.join(tid, run["run_id"])
    final = await client.runs.get(tid, run["run_id"])
    assert final["status"] == "success", final
    state = await client.threads.get_state(tid)
    values = state["values"]
    assert sorted(values["results"]) == EXPECTED_RESULTS
    assert [e.split("@")[0] for e in values["log"]] == ["a", "b", "c"]
    # nodes that finished before the crash were not run again; the interrupted one ran again once
    pid2 = str(w2.proc.pid) if w2.proc else ""
    order = ["a", "b", "branch:x", "c"]
    for entry in values["log"]:
        name, pid = entry.split("@")
        if order.index(name) > order.index(target) or name == target:
            assert pid == pid2, values["log"]
    assert counters(crash_db, tid) == {"a": 1, "b": 1, "branch:x": 1, "branch:y": 1, "c": 1}
    assert final["attempt"] == 2


async def test_sigstop_past_lease_is_fenced(client: Any, crash_db: str, spawn: Any, api: ClewProcess) -> None:
    w1 = spawn()
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "crashy", input={"items": ["x"], "delay": 1.5},
                                   stream_mode=["values", "updates"])
    await eventually(lambda: "b" in counters(crash_db, tid), timeout=30)
    w1.signal(signal.SIGSTOP)  # stalled while `b` sleeps
    pid1 = str(w1.proc.pid) if w1.proc else ""
    w2 = spawn()
    pid2 = str(w2.proc.pid) if w2.proc else ""
    await client.runs.join(tid, run["run_id"])
    w1.signal(signal.SIGCONT)  # the stale worker wakes up and tries to carry on
    await asyncio.sleep(3.0)
    state = await client.threads.get_state(tid)
    log = state["values"]["log"]
    assert [e.split("@")[0] for e in log] == ["a", "b", "c"]
    assert log[0].endswith("@" + pid1) and log[1].endswith("@" + pid2) and log[2].endswith("@" + pid2)
    history = await client.threads.get_history(tid, limit=100)
    # no checkpoint after the takeover carries the stalled worker's work
    for snap in history:
        entries = snap["values"].get("log", [])
        assert all(not e.startswith(("b@", "c@")) or e.endswith(pid2) for e in entries)
    with psycopg.connect(crash_db, autocommit=True) as conn:
        rows = conn.execute("SELECT seq, event, data FROM run_events WHERE run_id = %s ORDER BY seq",
                            (run["run_id"],)).fetchall()
    second_start = max(r[0] for r in rows if r[1] == "metadata")
    assert all(f"b@{pid1}" not in r[2] and f"c@{pid1}" not in r[2] for r in rows), "stale worker wrote an event"
    assert [r[1] for r in rows][-1] == "end"
    seqs = [r[0] for r in rows]
    assert seqs == list(range(1, len(seqs) + 1))
    assert second_start > 1
    assert counters(crash_db, tid) == {"a": 1, "b": 1, "branch:x": 1, "c": 1}


async def test_failing_run_ends_error_at_once(client: Any, spawn: Any) -> None:
    # a node's own exception (not a transient one) will recur: no second attempt (see test_core_retries.py)
    spawn()
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "steps3", input={"count": 0, "fail": True})
    await client.runs.join(tid, run["run_id"])
    final = await client.runs.get(tid, run["run_id"])
    assert final["status"] == "error"
    assert final["attempt"] == 1
    assert "scripted failure" in final["error"]["message"]
    assert (await client.threads.get(tid))["status"] == "error"
    ok = await client.runs.wait(tid, "steps3", input={"count": 0, "fail": False})
    assert ok["count"] == 3
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_sse_client_through_worker_crash(client: Any, crash_db: str, spawn: Any) -> None:
    w1 = spawn()
    thread = await client.threads.create()
    tid = thread["thread_id"]
    events: list[tuple[str, Any]] = []

    async def follow() -> None:
        async for part in client.runs.stream(tid, "crashy", input=INPUT, stream_mode=["updates"],
                                             on_disconnect="continue"):
            events.append((part.event, part.data))

    follower = asyncio.create_task(follow())
    await eventually(lambda: "b" in counters(crash_db, tid), timeout=30)
    w1.kill()
    spawn()
    await asyncio.wait_for(follower, timeout=60)
    names = [e for e, _ in events]
    assert names[-1] == "end" and names.count("end") == 1
    assert names.count("metadata") == 2  # one per attempt
    updated = [next(iter(d)) for e, d in events if e == "updates"]
    assert updated.count("a") == 1 and updated.count("c") == 1 and updated.count("b") == 1


async def test_sigterm_hands_run_back_at_step_boundary(client: Any, crash_db: str, spawn: Any) -> None:
    w1 = spawn()
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "crashy", input={"items": ["x"], "delay": 1.0})
    await eventually(lambda: "a" in counters(crash_db, tid), timeout=30)
    w1.signal(signal.SIGTERM)
    assert w1.proc is not None
    w1.proc.wait(20)  # graceful: exits after handing the run back at the next super-step boundary
    with psycopg.connect(crash_db, autocommit=True) as conn:
        row = conn.execute("SELECT status, attempt FROM runs WHERE run_id = %s", (run["run_id"],)).fetchone()
    assert row == ("pending", 0)
    spawn()
    await client.runs.join(tid, run["run_id"])
    final = await client.runs.get(tid, run["run_id"])
    assert final["status"] == "success"
    assert counters(crash_db, tid) == {"a": 1, "b": 1, "branch:x": 1, "c": 1}


async def test_single_serve_restart_recovers_its_own_orphans(crash_db: str, tmp_path: Path) -> None:
    with psycopg.connect(crash_db, autocommit=True) as conn:
        conn.execute(COUNTER_DDL)
    serve = ClewProcess(crash_db, tmp_path, workers=2, env=ENV).start()
    c = get_client(url=serve.url)
    try:
        thread = await c.threads.create()
        tid = thread["thread_id"]
        run = await c.runs.create(tid, "crashy", input={"items": ["x"], "delay": 1.0})
        await eventually(lambda: "b" in counters(crash_db, tid), timeout=30)
        serve.kill()
        serve.start()  # same port, new process: it finds the orphan once the lease lapses
        await c.runs.join(tid, run["run_id"])
        final = await c.runs.get(tid, run["run_id"])
        assert final["status"] == "success" and final["attempt"] == 2
        assert counters(crash_db, tid) == {"a": 1, "b": 1, "branch:x": 1, "c": 1}
    finally:
        await c.http.client.aclose()
        serve.stop()


async def test_run_timeout(crash_db: str, tmp_path: Path) -> None:
    serve = ClewProcess(crash_db, tmp_path, workers=2, env={**ENV, "CLEW_RUN_TIMEOUT_SECONDS": "1"}).start()
    c = get_client(url=serve.url)
    try:
        thread = await c.threads.create()
        tid = thread["thread_id"]
        parts = [p async for p in c.runs.stream(tid, "steps3", input={"count": 0, "delay": 0.6})]
        names = [p.event for p in parts]
        assert names[-2:] == ["error", "end"]
        assert parts[-2].data == {"error": "TimeoutError", "message": "run exceeded its timeout"}
        assert names[0] == "metadata"
        runs = await c.runs.list(tid)
        assert runs[0]["status"] == "timeout"
        assert (await c.threads.get(tid))["status"] == "error"
        ok = await c.runs.wait(tid, "steps3", input={"count": 0, "delay": 0.0})
        assert ok["count"] == 3
    finally:
        await c.http.client.aclose()
        serve.stop()
