"""Retention deletes exactly what it should and nothing of a live thread.

Threads made through a real server, then aged with SQL (the job compares timestamps with ``now()``):

- ``old``: idle for 40 days, two finished runs → its events go, its checkpoints are pruned to the latest
  (its state still reads the same and a new run continues from it);
- ``waiting``: interrupted, equally old → untouched (a person still has to answer it);
- ``queued``: old, with a pending run → untouched;
- ``recent``: idle, finished yesterday → untouched;
- a knowledge document whose row vanished (a crash between the two deletes) → its chunks go, another
  document's stay; a stream event of a run that no longer exists → goes;
- content sessions: one expired two days ago → its thread goes; one expired but busy, one not expired → stay.

``clew retention --dry-run`` reports the same counts and changes nothing; while another process holds the
retention lock, a pass does nothing.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from config_schema.settings import RuntimeSettings
from persistence.channels import RETENTION_LOCK
from tests.support.core import db_rows
from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT, ClewProcess

ENV = {"CLEW_AUTH": "none", "CLEW_RETENTION_INTERVAL_SECONDS": "0"}


@pytest.fixture(scope="module")
def ret_db() -> Iterator[str]:
    url = create_database("clew_retention")
    yield url
    drop_database(url)


def _cli(db_url: str, data: Path, *args: str) -> dict[str, int]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEW_")}
    env.update({"DATABASE_URL": db_url, "CLEW_DATA_DIR": str(data), **ENV})
    out = subprocess.run([sys.executable, "-m", "cli.main", "retention", *args], cwd=ROOT, env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    counts = {m[0]: int(m[2]) for m in re.findall(r"^(\w+): (would delete|deleted) (\d+)$", out.stdout, re.M)}
    if "another process" in out.stdout:
        counts["__locked__"] = 1
    return counts


def _sql(db_url: str, statement: str, params: Any = None) -> None:
    with psycopg.connect(db_url, autocommit=True) as conn:
        conn.execute(statement, params)


async def _count(db_url: str, sql: str, params: Any = None) -> int:
    return int((await db_rows(db_url, sql, params))[0]["n"])


async def _snapshot(db_url: str, threads: dict[str, str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for name, tid in threads.items():
        out[f"{name}.events"] = await _count(
            db_url, "SELECT count(*) AS n FROM run_events e JOIN runs r USING (run_id) WHERE r.thread_id = %s", (tid,))
        out[f"{name}.checkpoints"] = await _count(
            db_url, "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s", (tid,))
        out[f"{name}.exists"] = await _count(db_url, "SELECT count(*) AS n FROM threads WHERE thread_id = %s", (tid,))
    out["all_events"] = await _count(db_url, "SELECT count(*) AS n FROM run_events")
    out["documents"] = await _count(db_url, "SELECT count(*) AS n FROM documents")
    return out


async def test_retention(ret_db: str, tmp_path: Path) -> None:
    data = tmp_path
    server = ClewProcess(ret_db, data, workers=2, env=ENV).start()
    threads: dict[str, str] = {}
    try:
        sdk = get_client(url=server.url)
        for name in ("old", "waiting", "queued", "recent", "session_old", "session_busy", "session_live"):
            threads[name] = (await sdk.threads.create())["thread_id"]
        for _ in range(2):
            await sdk.runs.wait(threads["old"], "steps3", input={})
        await sdk.runs.wait(threads["waiting"], "approval", input={"topic": "t"})
        await sdk.runs.wait(threads["queued"], "steps3", input={})
        await sdk.runs.wait(threads["recent"], "steps3", input={})
        for name in ("session_old", "session_busy", "session_live"):
            await sdk.runs.wait(threads[name], "steps3", input={})
        old_state = (await sdk.threads.get_state(threads["old"]))["values"]
        assert old_state["count"] == 6
        async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
            docs = {}
            for name, text in (("gone", "Alpha beta gamma. " * 40), ("kept", "Delta epsilon zeta. " * 40)):
                r = await c.post("/api/v1/knowledge/upload", files={"file": (f"{name}.md", text.encode(), "text/markdown")})
                assert r.status_code == 201, r.text
                docs[name] = r.json()
        await sdk.http.client.aclose()
    finally:
        server.stop()
    assert (await db_rows(ret_db, "SELECT status FROM threads WHERE thread_id = %s", (threads["waiting"],)))[0][
        "status"] == "interrupted"

    # a queued run on `queued`: a server without workers takes it and leaves it pending
    idle_server = ClewProcess(ret_db, data, workers=0, env=ENV).start()
    try:
        sdk = get_client(url=idle_server.url)
        await sdk.runs.create(threads["queued"], "steps3", input={})
        await sdk.http.client.aclose()
    finally:
        idle_server.stop()

    # age everything but `recent` and `session_live`
    aged = [threads[n] for n in ("old", "waiting", "queued", "session_old", "session_busy")]
    _sql(ret_db, "UPDATE runs SET ended_at = now() - interval '10 days' WHERE thread_id = ANY(%s::uuid[]) "
                 "AND status NOT IN ('pending', 'running')", (aged,))
    _sql(ret_db, "UPDATE threads SET updated_at = now() - interval '40 days' WHERE thread_id = ANY(%s::uuid[])", (aged,))
    _sql(ret_db, "UPDATE runs SET ended_at = now() - interval '1 day' WHERE thread_id = %s", (threads["recent"],))
    # content sessions
    for name, expires, status in (("session_old", "2 days", "idle"), ("session_busy", "2 days", "busy"),
                                  ("session_live", "-2 hours", "idle")):
        _sql(ret_db, "INSERT INTO content_sessions (thread_id, user_id, article_id, ttl_hours, expires_at) "
                     f"VALUES (%s, 'local', 'a', 1, now() - interval '{expires}')", (threads[name],))
        _sql(ret_db, "UPDATE threads SET status = %s WHERE thread_id = %s", (status, threads[name]))
    # a crash between the two deletes of a document; an event of a run that is gone
    _sql(ret_db, "DELETE FROM documents WHERE document_id = %s", (docs["gone"]["document_id"],))
    _sql(ret_db, "INSERT INTO run_events (run_id, seq, event, data, created_at) "
                 "VALUES (%s, 1, 'values', '{}', now() - interval '2 hours')", (str(uuid.uuid4()),))

    before = await _snapshot(ret_db, threads)
    expected_events = before["old.events"] + before["session_old.events"] + 1

    # dry run: the counts, nothing deleted
    dry = _cli(ret_db, data, "--dry-run")
    assert dry["run_events"] == before["old.events"] + before["session_old.events"]
    assert dry["pruned_threads"] == 2 and dry["checkpoints"] >= 2  # old, session_old
    assert dry["knowledge_chunks"] == docs["gone"]["chunk_count"] > 0
    assert dry["content_sessions"] == 1 and dry["orphaned_run_events"] == 1
    assert await _snapshot(ret_db, threads) == before

    # another process holds the lock: nothing happens
    with psycopg.connect(ret_db, autocommit=True) as holder:
        holder.execute("SELECT pg_advisory_lock(%s)", (RETENTION_LOCK,))
        assert _cli(ret_db, data) == {"__locked__": 1}
        holder.execute("SELECT pg_advisory_unlock(%s)", (RETENTION_LOCK,))
    assert await _snapshot(ret_db, threads) == before

    done = _cli(ret_db, data)
    assert {k: done[k] for k in ("run_events", "pruned_threads", "knowledge_chunks", "content_sessions",
                                 "orphaned_run_events")} == \
        {k: dry[k] for k in ("run_events", "pruned_threads", "knowledge_chunks", "content_sessions",
                             "orphaned_run_events")}
    after = await _snapshot(ret_db, threads)
    assert after["all_events"] == before["all_events"] - expected_events
    assert after["old.events"] == 0
    # both aged idle threads kept exactly one checkpoint (no subgraphs here)
    assert done["checkpoints"] == before["old.checkpoints"] - 1 + before["session_old.checkpoints"] - 1
    assert after["old.checkpoints"] == 1
    assert await _count(ret_db, "SELECT count(*) AS n FROM checkpoints WHERE thread_id = %s AND checkpoint_ns = ''",
                        (threads["old"],)) == 1
    assert after["session_old.exists"] == 0
    assert await _count(ret_db, "SELECT count(*) AS n FROM content_sessions") == 2
    # nothing of the live threads changed
    for name in ("waiting", "queued", "recent", "session_busy", "session_live"):
        for what in ("events", "checkpoints", "exists"):
            assert after[f"{name}.{what}"] == before[f"{name}.{what}"], (name, what)
    assert after["documents"] == before["documents"]

    # the kept document's chunks are all there, the vanished one's are gone
    from persistence.db import Database
    from retrieval.knowledge.service import close_knowledge_base, open_knowledge_base

    settings = RuntimeSettings(data_dir=data, database_url=ret_db)
    db = await Database.open(settings)
    kb = await open_knowledge_base(settings, db)
    try:
        assert await kb.store.count("local") == docs["kept"]["chunk_count"]
    finally:
        await close_knowledge_base(kb)
        await db.close()

    # the pruned thread still reads the same and a new run continues from its latest checkpoint
    server = ClewProcess(ret_db, data, workers=1, env=ENV).start()
    try:
        sdk = get_client(url=server.url)
        assert (await sdk.threads.get_state(threads["old"]))["values"] == old_state
        out = await sdk.runs.wait(threads["old"], "steps3", input={})
        assert out["count"] == 9
        await sdk.http.client.aclose()
    finally:
        server.stop()
    # a second pass finds no more orphans (the threads released above are at rest now, so they may go)
    again = _cli(ret_db, data, "--dry-run")
    assert again["knowledge_chunks"] == 0 and again["orphaned_run_events"] == 0
