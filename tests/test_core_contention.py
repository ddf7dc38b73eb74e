"""Concurrent requests on one thread: ten resumes of one interrupted thread at once, many times over.

Run creation locks the thread row, then its runs; a run's end, a cancel and a rollback lock in the same order
(persistence/runs_sql.py), so they never deadlock, and a request that still loses a deadlock or serialization
conflict is retried inside the request. Asserted: no 5xx ever, exactly one resume accepted per interrupt (the
others 409), every accepted run ends ``success`` on its first attempt (its final statement never had to wait
for a lapsed lease).
"""

from __future__ import annotations

import asyncio
import os
from typing import Any

import httpx
import psycopg
from psycopg.types.json import Jsonb

from persistence.runs_sql import FINISH_RUN_AND_THREAD
from tests.support.core import db_rows, eventually, http, wait_thread_idle

TRIALS = int(os.environ.get("CLEW_CONTENTION_TRIALS", "12"))


async def _trial(api: httpx.AsyncClient) -> list[int]:
    resp = await api.post("/threads", json={})
    tid = resp.json()["thread_id"]
    first = await api.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "approval", "input": {"topic": "t"}})
    assert first.status_code == 200, first.text
    body = {"assistant_id": "approval", "command": {"resume": "yes"}}
    answers = await asyncio.gather(*(api.post(f"/threads/{tid}/runs", json=body) for _ in range(10)))
    codes = sorted(r.status_code for r in answers)
    assert all(c < 500 for c in codes), [(r.status_code, r.text) for r in answers]
    assert codes == [200] + [409] * 9, [(r.status_code, r.text) for r in answers]
    run = next(r.json() for r in answers if r.status_code == 200)
    joined = await api.get(f"/threads/{tid}/runs/{run['run_id']}/join")
    assert joined.status_code == 200, joined.text
    final = (await api.get(f"/threads/{tid}/runs/{run['run_id']}")).json()
    assert (final["status"], final["attempt"]) == ("success", 1), final
    return codes


async def test_ten_concurrent_resumes_never_fail(server: Any, keys: dict[str, str]) -> None:
    async with http(server, keys["alice"]) as api:
        for _ in range(TRIALS):
            await _trial(api)


async def test_concurrent_runs_with_every_strategy_never_fail(server: Any, keys: dict[str, str], client: Any) -> None:
    # runs created, interrupted, rolled back and ending on one thread at once: only 2xx and 409
    async with http(server, keys["alice"]) as api:
        tid = (await api.post("/threads", json={})).json()["thread_id"]
        for _ in range(max(2, TRIALS // 4)):
            answers = await asyncio.gather(*(
                api.post(f"/threads/{tid}/runs", json={
                    "assistant_id": "steps3", "input": {"count": 0, "delay": 0.01},
                    "multitask_strategy": strategy,
                })
                for strategy in ("enqueue", "interrupt", "rollback", "reject", "enqueue") * 2
            ))
            assert all(r.status_code in (200, 409) for r in answers), [(r.status_code, r.text) for r in answers]
        await wait_thread_idle(client, tid)


async def test_run_end_and_run_creation_lock_thread_then_run(
    server: Any, keys: dict[str, str], db_url: str, client: Any
) -> None:
    """The cycle the two used to form, made to happen: a run creation holds the thread row and asks for the run's
    row while that run's final statement is waiting. With one lock order the final statement waits on the thread
    without holding the run, so the creation gets the run at once; with the old order Postgres kills one."""
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 2.0})

    async def running() -> dict[str, Any] | None:
        rows = await db_rows(db_url, "SELECT fencing_token FROM runs WHERE run_id = %s AND status = 'running'",
                             (run["run_id"],))
        return rows[0] if rows else None

    token = (await eventually(running, what="the run to be claimed"))["fencing_token"]
    creating = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    ending = await psycopg.AsyncConnection.connect(db_url, autocommit=True)
    try:
        async with creating.transaction():
            await creating.execute("SELECT 1 FROM threads WHERE thread_id = %s FOR UPDATE", (tid,))
            params = {"run_id": run["run_id"], "token": token, "thread_id": tid, "seqs": [], "events": [],
                      "datas": [], "status": "success", "thread_status": "idle", "error": None, "values": None,
                      "interrupts": Jsonb({}), "channel": "clew_events"}
            end = asyncio.create_task(ending.execute(FINISH_RUN_AND_THREAD, params))
            pid = ending.info.backend_pid

            async def waiting() -> bool:
                rows = await db_rows(db_url, "SELECT wait_event_type FROM pg_stat_activity WHERE pid = %s", (pid,))
                return bool(rows) and rows[0]["wait_event_type"] == "Lock"

            await eventually(waiting, what="the final statement to wait for a lock")
            await creating.execute("SELECT run_id FROM runs WHERE run_id = %s FOR UPDATE", (run["run_id"],))
        await end  # no DeadlockDetected on either side
    finally:
        await creating.close()
        await ending.close()
    await wait_thread_idle(client, tid)
