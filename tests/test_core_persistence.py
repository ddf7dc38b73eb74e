"""Persistence of the runtime core: concurrent migrations, event retention, batched event writes.

These run in-process (or as ``python -c`` processes) against fresh databases, without the API server.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from config_schema.settings import RuntimeSettings
from engine.broker import Broker, Listener, Outcomes
from engine.events import EventLog
from persistence import runs as runs_repo
from persistence.checkpointer import FencedOut
from persistence.db import Database
from persistence.migrations import migration_files
from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT

# Each process imports everything first, then waits at a file barrier, so the interesting calls start together.
_PRELUDE = """
import asyncio, json, sys, time
from pathlib import Path
url, go = sys.argv[1], Path(sys.argv[2])
import psycopg
from config_schema.settings import RuntimeSettings
from persistence.migrations import migrate
from engine.runtime import Runtime
import os
Path(f"{go}.ready.{os.getpid()}").touch()
while not go.exists():
    time.sleep(0.002)
"""

MIGRATE = _PRELUDE + """
async def main():
    async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
        print(json.dumps(await migrate(conn)))
asyncio.run(main())
"""

START_RUNTIME = _PRELUDE + """
async def main():
    rt = await Runtime.start(RuntimeSettings(database_url=url), None, workers=0, url=url)
    await rt.stop()
    print(json.dumps("started"))
asyncio.run(main())
"""


@pytest.fixture
def fresh_db() -> Any:
    url = create_database("clew_core_p")
    yield url
    drop_database(url)


def run_together(url: str, scripts: list[str], tmp_path: Path) -> list[Any]:
    go = tmp_path / f"go-{uuid.uuid4().hex}"
    procs = [
        subprocess.Popen([sys.executable, "-c", textwrap.dedent(s), url, str(go)], cwd=ROOT,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for s in scripts
    ]
    deadline = time.monotonic() + 120
    while len(list(tmp_path.glob(f"{go.name}.ready.*"))) < len(procs):  # all imported, waiting at the barrier
        assert time.monotonic() < deadline and all(p.poll() is None for p in procs), "a process did not get ready"
        time.sleep(0.02)
    go.touch()
    outs = []
    for p in procs:
        out, err = p.communicate(timeout=180)
        assert p.returncode == 0, err[-3000:]
        outs.append(json.loads(out.strip().splitlines()[-1]))
    return outs


def test_concurrent_migrations_apply_each_version_once(fresh_db: str, tmp_path: Path) -> None:
    applied = run_together(fresh_db, [MIGRATE] * 4, tmp_path)
    versions = [v for v, _, _ in migration_files()]
    flat = [v for lst in applied for v in lst]
    assert sorted(flat) == versions, applied  # every version applied, by exactly one process
    with psycopg.connect(fresh_db) as conn:
        rows = conn.execute("SELECT version, count(*) FROM clew_migrations GROUP BY version ORDER BY version")
        assert [(v, n) for v, n in rows.fetchall()] == [(v, 1) for v in versions]
    # and a later run finds nothing to do
    assert run_together(fresh_db, [MIGRATE], tmp_path) == [[]]


def test_concurrent_runtime_starts(fresh_db: str, tmp_path: Path) -> None:
    """Whole process start-ups at the same moment: clew's migrations plus LangGraph's saver and store setup."""
    assert run_together(fresh_db, [START_RUNTIME] * 3, tmp_path) == ["started"] * 3
    with psycopg.connect(fresh_db) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")}
        assert {"runs", "run_events", "threads", "checkpoints", "checkpoint_writes", "store"} <= tables
        n = conn.execute("SELECT count(*) FROM clew_migrations").fetchone()
        assert n is not None and n[0] == len(migration_files())


@pytest.fixture
async def db(fresh_db: str) -> AsyncIterator[Database]:
    database = await Database.open(RuntimeSettings(database_url=fresh_db), url=fresh_db)
    yield database
    await database.close()


async def make_run(db: Database, *, status: str, ended_days_ago: float | None, events: int,
                   token: int = 1) -> str:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO threads (thread_id, user_id) VALUES (%s, 'u')", (thread_id,))
        await conn.execute(
            "INSERT INTO runs (run_id, thread_id, user_id, assistant_id, graph_id, status, kwargs, fencing_token,"
            " created_at, ended_at) VALUES (%s, %s, 'u', %s, 'g', %s, '{}', %s, now() - interval '30 days',"
            " CASE WHEN %s::float8 IS NULL THEN NULL ELSE now() - make_interval(secs => %s::float8 * 86400) END)",
            (run_id, thread_id, str(uuid.uuid4()), status, token, ended_days_ago, ended_days_ago),
        )
        for seq in range(1, events + 1):
            await conn.execute(
                "INSERT INTO run_events (run_id, seq, event, data, created_at)"
                " VALUES (%s, %s, 'values', '{}', now() - interval '30 days')",
                (run_id, seq),
            )
    return run_id


async def event_count(db: Database, run_id: str) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM run_events WHERE run_id = %s", (run_id,))
    return int(row["n"]) if row else 0


async def test_prune_events_drops_only_old_finished_runs(db: Database) -> None:
    old_done = await make_run(db, status="success", ended_days_ago=10, events=3)
    old_failed = await make_run(db, status="error", ended_days_ago=8, events=2)
    recent = await make_run(db, status="success", ended_days_ago=1, events=4)
    running = await make_run(db, status="running", ended_days_ago=None, events=5)
    pending = await make_run(db, status="pending", ended_days_ago=None, events=1)
    async with db.connection() as conn:
        dropped = await runs_repo.prune_events(conn, 7)
    assert dropped == 5
    assert [await event_count(db, r) for r in (old_done, old_failed, recent, running, pending)] == [0, 0, 4, 5, 1]
    # the runs themselves stay (only their event logs go)
    row = await db.fetchone("SELECT count(*) AS n FROM runs")
    assert row is not None and row["n"] == 5
    async with db.connection() as conn:
        assert await runs_repo.prune_events(conn, 7) == 0
        assert await runs_repo.prune_events(conn, 0.5) == 4  # a shorter retention reaches the recent run


async def transactions(db: Database, run_id: str) -> int:
    """How many transactions wrote this run's events (rows of one transaction share xmin)."""
    row = await db.fetchone("SELECT count(DISTINCT xmin::text) AS n FROM run_events WHERE run_id = %s", (run_id,))
    return int(row["n"]) if row else 0


async def test_token_chunks_are_written_in_batches(db: Database) -> None:
    run_id = await make_run(db, status="running", ended_days_ago=None, events=0, token=7)
    log_ = EventLog(db, Broker())
    writer = log_.writer(run_id, 7, 0)
    try:
        # a long answer arriving token by token while the writer is idle: one INSERT for all of it
        for i in range(500):
            writer.add("messages", [{"content": f"tok{i} ", "type": "AIMessageChunk"}, {"langgraph_node": "n"}])
        await writer.flush()
        assert await event_count(db, run_id) == 500
        assert await transactions(db, run_id) == 1

        # tokens arriving while a write is in flight are gathered into the next single write
        writer.add("messages", [{"content": "first"}, {}])
        await asyncio.sleep(0)
        for i in range(299):
            writer.add("messages", [{"content": f"more{i}"}, {}])
        await writer.flush()
        assert await event_count(db, run_id) == 800
        assert await transactions(db, run_id) <= 3
    finally:
        await writer.close()
        await log_.stop()
    rows = await db.fetchall("SELECT seq FROM run_events WHERE run_id = %s ORDER BY seq", (run_id,))
    assert [r["seq"] for r in rows] == list(range(1, 801)), "ids increase without gap or duplicate"


async def test_event_writer_is_fenced(db: Database) -> None:
    run_id = await make_run(db, status="running", ended_days_ago=None, events=0, token=3)
    log_ = EventLog(db, Broker())
    stale = log_.writer(run_id, 2, 0)  # a former owner's token
    try:
        stale.add("values", {"x": 1})
        with pytest.raises(FencedOut):
            await stale.flush()
        with pytest.raises(FencedOut):
            stale.add("values", {"x": 2})
    finally:
        await stale.close()
        await log_.stop()
    assert await event_count(db, run_id) == 0


async def test_event_log_batches_runs_together_and_fences_each(db: Database) -> None:
    """One write carries the events of several runs; a run whose token lost is refused alone."""
    runs = [await make_run(db, status="running", ended_days_ago=None, events=0, token=4) for _ in range(3)]
    log_ = EventLog(db, Broker())
    writers = [log_.writer(r, 4, 0) for r in runs]
    stale = log_.writer(await make_run(db, status="running", ended_days_ago=None, events=0, token=9), 8, 0)
    try:
        for i in range(5):
            for w in [*writers, stale]:
                w.add("values", {"i": i})
        for w in writers:
            await w.flush()
        with pytest.raises(FencedOut):
            await stale.flush()
    finally:
        await log_.stop()
    xmins = await db.fetchall(
        "SELECT DISTINCT xmin::text AS x FROM run_events WHERE run_id = ANY(%s::uuid[])", (runs,)
    )
    assert len(xmins) == 1  # all three runs' events in one statement
    for r in runs:
        rows = await db.fetchall("SELECT seq FROM run_events WHERE run_id = %s ORDER BY seq", (r,))
        assert [x["seq"] for x in rows] == [1, 2, 3, 4, 5]
    assert await event_count(db, stale.run_id) == 0


def _new_run(thread_id: str, user_id: str = "u", **over: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "run_id": str(uuid.uuid4()), "thread_id": thread_id, "user_id": user_id, "assistant_id": str(uuid.uuid4()),
        "graph_id": "g", "kwargs": {}, "config_snapshot": {}, "metadata": {}, "multitask_strategy": "reject",
        "max_attempts": 3, "thread_metadata": {"graph_id": "g"}, "new_thread_metadata": {"graph_id": "g", "t": 1},
        "create": True, "cap": None, "channel": "clew_runs",
    }
    return {**fields, **over}


async def _thread(db: Database, thread_id: str) -> dict[str, Any] | None:
    return await db.fetchone("SELECT user_id, status, metadata FROM threads WHERE thread_id = %s", (thread_id,))


async def test_run_created_in_one_statement_only_on_a_new_or_idle_thread(db: Database) -> None:
    """The fast path of run creation queues a run only when there is nothing to decide; otherwise it writes
    nothing and answers None (the caller takes the general path)."""
    new = str(uuid.uuid4())
    async with db.connection() as conn:
        run = await runs_repo.create_if_idle(conn, **_new_run(new))
    assert run is not None and run["status"] == "pending" and str(run["thread_id"]) == new
    assert await _thread(db, new) == {"user_id": "u", "status": "busy", "metadata": {"graph_id": "g", "t": 1}}
    async with db.connection() as conn:  # busy (its run is pending): nothing
        assert await runs_repo.create_if_idle(conn, **_new_run(new)) is None
        await conn.execute("UPDATE threads SET status = 'idle' WHERE thread_id = %s", (new,))
        # idle, but its run is still pending: nothing
        assert await runs_repo.create_if_idle(conn, **_new_run(new)) is None
        await conn.execute("UPDATE runs SET status = 'success' WHERE thread_id = %s", (new,))
        await conn.execute("UPDATE threads SET metadata = '{\"x\": 2}' WHERE thread_id = %s", (new,))
        # idle and no active run: queued, the thread busy with the run's stamp merged into its metadata
        again = await runs_repo.create_if_idle(conn, **_new_run(new, create=False))
        assert again is not None
        # another user's thread, a missing thread without create, a user at the cap: nothing
        await conn.execute("UPDATE threads SET status = 'idle' WHERE thread_id = %s", (new,))
        await conn.execute("UPDATE runs SET status = 'success' WHERE thread_id = %s", (new,))
        assert await runs_repo.create_if_idle(conn, **_new_run(new, user_id="someone-else")) is None
        assert await runs_repo.create_if_idle(conn, **_new_run(str(uuid.uuid4()), create=False)) is None
        await conn.execute("UPDATE runs SET status = 'pending' WHERE thread_id = %s", (new,))
        capped = str(uuid.uuid4())
        assert await runs_repo.create_if_idle(conn, **_new_run(capped, cap=2)) is None
        assert await runs_repo.create_if_idle(conn, **_new_run(capped, cap=3)) is not None
    assert await _thread(db, new) == {"user_id": "u", "status": "idle", "metadata": {"x": 2, "graph_id": "g"}}
    row = await db.fetchone("SELECT count(*) AS n FROM runs WHERE thread_id = %s", (new,))
    assert row is not None and row["n"] == 2


async def test_run_created_in_one_statement_sees_a_run_queued_after_its_snapshot(db: Database) -> None:
    """A run queued (and the thread settled idle again) by a transaction that commits while the one-statement
    creation waits for the thread's row lock is invisible to that statement's snapshot; the thread row's changed
    version tells it, and it writes nothing."""
    tid = str(uuid.uuid4())
    async with db.connection() as conn:
        assert await runs_repo.create_if_idle(conn, **_new_run(tid)) is not None
        await conn.execute("UPDATE runs SET status = 'success' WHERE thread_id = %s", (tid,))
        await conn.execute("UPDATE threads SET status = 'idle' WHERE thread_id = %s", (tid,))
    async with db.connection() as holder, db.connection() as creator:
        async with holder.transaction():
            await holder.execute("SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (tid,))
            await holder.execute(
                "INSERT INTO runs (run_id, thread_id, user_id, assistant_id, graph_id, kwargs)"
                " VALUES (%s, %s, 'u', %s, 'g', '{}')", (str(uuid.uuid4()), tid, str(uuid.uuid4())))
            await holder.execute("UPDATE threads SET updated_at = now() WHERE thread_id = %s", (tid,))
            pid = creator.info.backend_pid
            attempt = asyncio.create_task(runs_repo.create_if_idle(creator, **_new_run(tid)))
            for _ in range(500):  # until the statement waits for the row lock (its snapshot taken)
                row = await db.fetchone("SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
                if row is not None and row["wait_event_type"] == "Lock":
                    break
                await asyncio.sleep(0.01)
            else:
                raise AssertionError("the creation never waited for the thread's lock")
        assert await attempt is None
    row = await db.fetchone("SELECT count(*) AS n FROM runs WHERE thread_id = %s AND status = 'pending'", (tid,))
    assert row is not None and row["n"] == 1


def test_outcomes_are_kept_only_while_someone_waits() -> None:
    """The executor's hand-over of a run's end to joiners in the process: dropped when nobody waits, kept while
    any joiner of the run still waits, gone with the last."""
    outcomes = Outcomes()
    outcomes.publish("r", {"status": "success"})
    assert outcomes.get("r") is None
    with outcomes.expect("r"):
        with outcomes.expect("r"):
            outcomes.publish("r", {"status": "success"})
            assert outcomes.get("r") == {"status": "success"}
        assert outcomes.get("r") == {"status": "success"}
    assert outcomes.get("r") is None


async def test_notify_only_while_another_process_listens(db: Database) -> None:
    """A process alone on its database sends no NOTIFY on its hot paths (``Broker.peers`` False); one that starts
    listening announces itself, and the first notifies again at once; when it is gone, the first stops again."""
    first, second = Broker(), Broker()
    a, b = Listener(db, first), Listener(db, second)
    a.start()
    try:
        await asyncio.wait_for(a.ready.wait(), 10)
        for _ in range(100):
            if not first.peers:
                break
            await asyncio.sleep(0.05)
        assert not first.peers and first.channel("clew_events") is None
        b.start()
        await asyncio.wait_for(b.ready.wait(), 10)
        for _ in range(40):  # the hello, well before the next periodic look
            if first.peers:
                break
            await asyncio.sleep(0.01)
        assert first.peers and first.channel("clew_events") == "clew_events"
        await asyncio.sleep(0.3)
        assert second.peers
        await b.stop()
        for _ in range(100):
            if not first.peers:
                break
            await asyncio.sleep(0.05)
        assert not first.peers
    finally:
        await b.stop()
        await a.stop()


async def test_resume_created_in_one_statement_only_on_the_thread_version_it_checked(db: Database) -> None:
    """A resume takes the one-statement path only while the thread is interrupted in the very row version whose
    interrupts its answer was checked against (creation_context's ``version``); otherwise nothing is written."""
    tid = str(uuid.uuid4())
    async with db.connection() as conn:
        assert await runs_repo.create_if_idle(conn, **_new_run(tid)) is not None
        await conn.execute("UPDATE runs SET status = 'interrupted' WHERE thread_id = %s", (tid,))
        await conn.execute(
            "UPDATE threads SET status = 'interrupted', interrupts = '{\"t\": [{\"id\": \"a\", \"value\": 1}]}'"
            " WHERE thread_id = %s", (tid,))
        _, seen, _ = await runs_repo.creation_context(conn, "u", str(uuid.uuid4()), tid)
        assert seen is not None and seen["status"] == "interrupted"
        assert seen["interrupts"] == {"t": [{"id": "a", "value": 1}]}
        checked = seen["version"]
        # the thread changed since the answer was checked (another interrupt now pending): nothing
        await conn.execute(
            "UPDATE threads SET interrupts = '{\"t\": [{\"id\": \"b\", \"value\": 2}]}' WHERE thread_id = %s", (tid,))
        assert await runs_repo.create_if_idle(conn, **_new_run(tid, create=False), expect_version=checked) is None
        _, seen, _ = await runs_repo.creation_context(conn, "u", str(uuid.uuid4()), tid)
        assert seen is not None and seen["version"] != checked
        # idle in the checked version (not waiting on an interrupt): nothing
        await conn.execute("UPDATE threads SET status = 'idle' WHERE thread_id = %s", (tid,))
        _, idle, _ = await runs_repo.creation_context(conn, "u", str(uuid.uuid4()), tid)
        assert idle is not None
        assert await runs_repo.create_if_idle(conn, **_new_run(tid, create=False), expect_version=idle["version"]) is None
        # interrupted, unchanged since it was read: queued, the thread busy
        await conn.execute("UPDATE threads SET status = 'interrupted' WHERE thread_id = %s", (tid,))
        _, seen, _ = await runs_repo.creation_context(conn, "u", str(uuid.uuid4()), tid)
        assert seen is not None
        run = await runs_repo.create_if_idle(conn, **_new_run(tid, create=False), expect_version=seen["version"])
        assert run is not None and run["status"] == "pending"
        # a second resume checked against the same version: the thread is busy now, nothing
        assert await runs_repo.create_if_idle(conn, **_new_run(tid, create=False), expect_version=seen["version"]) is None
    assert (await _thread(db, tid) or {}).get("status") == "busy"
    row = await db.fetchone("SELECT count(*) AS n FROM runs WHERE thread_id = %s AND status = 'pending'", (tid,))
    assert row is not None and row["n"] == 1
