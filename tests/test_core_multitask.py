"""Multitask strategies with two concurrent requests on one thread, for runs/stream, runs/wait and background runs.

The first request runs ``steps3`` slowly; the second is sent while the first is in flight (after its first node
checkpointed, so "in flight" is certain) and the two are awaited together. Every strategy must lose no turn:
reject answers 409 and leaves the first alone, enqueue runs both in order, interrupt stops the first (its
finished nodes stay) and runs the second, rollback erases the first without a trace and runs the second.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import httpx
import pytest

from tests.support.core import db_rows, wait_count, wait_thread_idle

MODES = ("stream", "wait", "background")
SLOW = {"delay": 1.0}
FAST = {"delay": 0.05}


async def launch(client: Any, thread_id: str, mode: str, payload: dict[str, Any],
                 strategy: str | None = None) -> dict[str, Any]:
    """Create a run in ``mode`` and wait for it; return its id, events (stream) and final output."""
    out: dict[str, Any] = {"events": []}

    def created(meta: Any) -> None:
        out["run_id"] = meta["run_id"]

    if mode == "stream":
        async for part in client.runs.stream(thread_id, "steps3", input=payload, stream_mode=["values", "updates"],
                                             multitask_strategy=strategy, on_run_created=created):
            out["events"].append((part.event, part.data))
            if part.event == "metadata":
                out["run_id"] = part.data["run_id"]
        out["result"] = None
    elif mode == "wait":
        out["result"] = await client.runs.wait(thread_id, "steps3", input=payload, multitask_strategy=strategy,
                                               on_run_created=created)
    else:
        run = await client.runs.create(thread_id, "steps3", input=payload, multitask_strategy=strategy)
        out["run_id"] = run["run_id"]
        out["result"] = await client.runs.join(thread_id, run["run_id"])
    return out


async def second_after_progress(client: Any, thread_id: str, mode: str, strategy: str) -> dict[str, Any]:
    await wait_count(client, thread_id, 1)  # the first run is running and checkpointed its first node
    try:
        return await launch(client, thread_id, mode, FAST, strategy)
    except httpx.HTTPStatusError as exc:
        return {"rejected": exc.response.status_code, "body": exc.response.json()}


async def history_run_ids(client: Any, thread_id: str) -> set[str]:
    history = await client.threads.get_history(thread_id, limit=100)
    return {h["metadata"].get("run_id") for h in history if h.get("metadata")} - {None}


@pytest.mark.parametrize("mode", MODES)
async def test_reject(client: Any, mode: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    first, second = await asyncio.gather(
        launch(client, tid, mode, SLOW), second_after_progress(client, tid, mode, "reject")
    )
    assert second["rejected"] == 409, second
    assert "in progress" in second["body"]["detail"]
    runs = await client.runs.list(tid)
    assert [r["run_id"] for r in runs] == [first["run_id"]]
    assert runs[0]["status"] == "success"
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["n1", "n2", "n3"] and state["values"]["count"] == 3
    assert (await client.threads.get(tid))["status"] == "idle"


@pytest.mark.parametrize("mode", MODES)
async def test_enqueue(client: Any, db_url: str, mode: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    first, second = await asyncio.gather(
        launch(client, tid, mode, SLOW), second_after_progress(client, tid, mode, "enqueue")
    )
    a, b = first["run_id"], second["run_id"]
    assert (await client.runs.get(tid, a))["status"] == "success"
    assert (await client.runs.get(tid, b))["status"] == "success"
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["n1", "n2", "n3"] * 2
    assert state["values"]["count"] == 6
    rows = await db_rows(db_url, "SELECT run_id::text, started_at, ended_at FROM runs WHERE thread_id = %s", (tid,))
    times = {r["run_id"]: r for r in rows}
    assert times[a]["ended_at"] <= times[b]["started_at"], "the queued run starts after the first ended"
    assert {a, b} <= await history_run_ids(client, tid)
    if mode == "stream":
        assert second["events"][-1][0] == "end"
        assert [d for e, d in second["events"] if e == "values"][-1]["count"] == 6
    if mode == "wait":
        assert second["result"]["count"] == 6
    assert (await client.threads.get(tid))["status"] == "idle"


@pytest.mark.parametrize("mode", MODES)
async def test_interrupt(client: Any, mode: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    first, second = await asyncio.gather(
        launch(client, tid, mode, SLOW), second_after_progress(client, tid, mode, "interrupt")
    )
    a, b = first["run_id"], second["run_id"]
    assert (await client.runs.get(tid, a))["status"] == "interrupted"
    assert (await client.runs.get(tid, b))["status"] == "success"
    state = await client.threads.get_state(tid)
    log = state["values"]["log"]
    # the first run's finished nodes stay (no lost turn), then the second run ran in full
    assert log[0] == "n1" and log[-3:] == ["n1", "n2", "n3"] and 4 <= len(log) <= 5, log
    assert state["values"]["count"] == len(log)
    assert {a, b} <= await history_run_ids(client, tid)
    if mode == "stream":
        names = [e for e, _ in first["events"]]
        assert names[0] == "metadata" and names[-1] == "end" and "error" not in names
        assert [e for e, _ in second["events"]][-1] == "end"
    await wait_thread_idle(client, tid)


@pytest.mark.parametrize("mode", MODES)
async def test_rollback(client: Any, db_url: str, mode: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    first, second = await asyncio.gather(
        launch(client, tid, mode, SLOW), second_after_progress(client, tid, mode, "rollback")
    )
    a, b = first["run_id"], second["run_id"]
    with pytest.raises(httpx.HTTPStatusError) as info:
        await client.runs.get(tid, a)
    assert info.value.response.status_code == 404
    runs = await client.runs.list(tid)
    assert [r["run_id"] for r in runs] == [b] and runs[0]["status"] == "success"
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["n1", "n2", "n3"] and state["values"]["count"] == 3
    ids = await history_run_ids(client, tid)
    assert a not in ids and b in ids
    leftovers = await db_rows(
        db_url,
        "SELECT (SELECT count(*) FROM run_events WHERE run_id = %s) AS events,"
        " (SELECT count(*) FROM checkpoints WHERE thread_id = %s AND metadata->>'run_id' = %s) AS checkpoints",
        (a, tid, a),
    )
    assert leftovers[0] == {"events": 0, "checkpoints": 0}
    if mode == "stream":
        assert [e for e, _ in first["events"]][-1] == "end"
    await wait_thread_idle(client, tid)


@pytest.mark.parametrize("mode", MODES)
async def test_simultaneous_enqueue_loses_nothing(client: Any, mode: str) -> None:
    """Two requests sent at the same instant: both run, one after the other."""
    tid = (await client.threads.create())["thread_id"]
    first, second = await asyncio.gather(
        launch(client, tid, mode, FAST, "enqueue"), launch(client, tid, mode, FAST, "enqueue")
    )
    for r in (first, second):
        assert (await client.runs.get(tid, r["run_id"]))["status"] == "success"
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["n1", "n2", "n3"] * 2 and state["values"]["count"] == 6


@pytest.mark.parametrize("mode", MODES)
async def test_simultaneous_reject_admits_exactly_one(client: Any, mode: str) -> None:
    tid = (await client.threads.create())["thread_id"]

    async def attempt() -> dict[str, Any]:
        try:
            return await launch(client, tid, mode, FAST, "reject")
        except httpx.HTTPStatusError as exc:
            return {"rejected": exc.response.status_code}

    results = await asyncio.gather(attempt(), attempt())
    rejected = [r for r in results if "rejected" in r]
    # the thread row lock decides: either the second saw the first active (409) or the first had already ended
    assert all(r["rejected"] == 409 for r in rejected)
    runs = await client.runs.list(tid)
    assert len(runs) == 2 - len(rejected) and all(r["status"] == "success" for r in runs)
    state = await client.threads.get_state(tid)
    assert state["values"]["count"] == 3 * len(runs)


async def test_concurrent_creations_do_not_starve_a_small_pool(db_url: str, tmp_path: Any) -> None:
    """Many run creations at once on a pool of 3: no request may hold one connection while waiting for another
    (that deadlocks the pool until its timeout and answers 500)."""
    from langgraph_sdk import get_client

    from tests.support.server import ClewProcess

    server = ClewProcess(db_url, tmp_path, workers=2,
                         env={"CLEW_POOL_MIN_SIZE": "1", "CLEW_POOL_MAX_SIZE": "3"}).start()
    c = get_client(url=server.url, timeout=60)
    try:
        outs = await asyncio.gather(*(
            c.runs.wait(str(uuid.uuid4()), "steps3", input={"count": 0}, if_not_exists="create")
            for _ in range(12)
        ))
        assert [o["count"] for o in outs] == [3] * 12
    finally:
        await c.http.client.aclose()
        server.stop()
