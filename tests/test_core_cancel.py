"""Cancelling runs: action interrupt keeps finished steps, action rollback restores the thread exactly; and
``on_disconnect`` (a client dropping its stream cancels the run, or lets it continue).
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest

from tests.support.core import (
    TERMINAL,
    db_rows,
    eventually,
    http,
    only_run,
    wait_count,
    wait_status,
    wait_thread_idle,
)

HI = {"messages": [{"role": "user", "content": "hi"}]}


def dangling_tool_calls(messages: list[dict[str, Any]]) -> list[str]:
    """Ids of tool calls no tool message answers."""
    answered = {m.get("tool_call_id") for m in messages if m.get("type") == "tool"}
    return [c["id"] for m in messages if m.get("type") == "ai" for c in (m.get("tool_calls") or [])
            if c["id"] not in answered]


async def snapshot(client: Any, tid: str) -> tuple[Any, Any, Any]:
    thread = await client.threads.get(tid)
    return (
        await client.threads.get_state(tid),
        await client.threads.get_history(tid, limit=100),
        {k: thread[k] for k in ("status", "values", "interrupts")},
    )


async def test_cancel_interrupt_keeps_finished_steps(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.3})
    await wait_count(client, tid, 2)
    await client.runs.cancel(tid, run["run_id"], wait=True, action="interrupt")
    done = await client.runs.get(tid, run["run_id"])
    assert done["status"] == "interrupted"
    values = (await client.threads.get_state(tid))["values"]
    assert 2 <= values["count"] < 10 and values["log"] == [f"n{i + 1}" for i in range(values["count"])]
    # stopped where it was, like a static interrupt (the reference server's answer): a new input starts over
    # from what was kept
    assert (await client.threads.get(tid))["status"] == "interrupted"
    out = await client.runs.wait(tid, "steps3", input={"delay": 0})
    assert out["count"] == values["count"] + 3
    with pytest.raises(httpx.HTTPStatusError) as info:  # a finished run cannot be cancelled again
        await client.runs.cancel(tid, run["run_id"])
    assert info.value.response.status_code == 409


async def test_cancel_rollback_restores_thread_exactly(client: Any, db_url: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.wait(tid, "toolchat", input=HI)
    assert [m["type"] for m in first["messages"]] == ["human", "ai", "tool", "ai"]
    before = await snapshot(client, tid)

    run = await client.runs.create(
        tid, "toolchat", input={"messages": [{"role": "user", "content": "again"}], "delay": 30.0}
    )

    async def tool_call_checkpointed() -> bool:
        msgs = (await client.threads.get_state(tid))["values"].get("messages", [])
        return len(msgs) == 6 and bool(dangling_tool_calls(msgs))

    await eventually(tool_call_checkpointed, what="the second turn's tool call in the checkpoints")
    await client.runs.cancel(tid, run["run_id"], wait=True, action="rollback")

    after = await snapshot(client, tid)
    assert after[0] == before[0], "get_state is exactly as before the run"
    assert after[1] == before[1], "history is exactly as before the run"
    assert after[2] == before[2]
    assert dangling_tool_calls(after[0]["values"]["messages"]) == []
    with pytest.raises(httpx.HTTPStatusError) as info:
        await client.runs.get(tid, run["run_id"])
    assert info.value.response.status_code == 404
    rows = await db_rows(db_url, "SELECT count(*) AS n FROM run_events WHERE run_id = %s", (run["run_id"],))
    assert rows[0]["n"] == 0
    # and the thread is usable: the next turn sees only the first one
    out = await client.runs.wait(tid, "toolchat", input={"messages": [{"role": "user", "content": "third"}]})
    assert [m["type"] for m in out["messages"]] == ["human", "ai", "tool", "ai"] * 2


async def test_rollback_cancel_landing_as_the_run_ends_still_rolls_back(client: Any, db_url: str) -> None:
    """A rollback cancel committed after the graph's last step but before the run's final write: the run must
    not end `success` (the cancel was accepted); it is rolled back like any other."""
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "late_cancel", input={"count": 0})
    before = await snapshot(client, tid)
    assert before[0]["values"] == {"count": 1, "log": ["step", "last"]}
    run = await client.runs.create(tid, "late_cancel", input={"cancel": True})
    out = await client.runs.join(tid, run["run_id"])
    assert out == before[0]["values"]  # the thread as it was: the run's steps are gone
    after = await snapshot(client, tid)
    assert after == before
    with pytest.raises(httpx.HTTPStatusError) as info:
        await client.runs.get(tid, run["run_id"])
    assert info.value.response.status_code == 404
    rows = await db_rows(db_url, "SELECT count(*) AS n FROM run_events WHERE run_id = %s", (run["run_id"],))
    assert rows[0]["n"] == 0


async def test_cancel_rollback_of_first_run_leaves_empty_thread(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    before = await client.threads.get_state(tid)
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.3})
    await wait_count(client, tid, 1)
    await client.runs.cancel(tid, run["run_id"], wait=True, action="rollback")
    state = await client.threads.get_state(tid)
    assert state["values"] == before["values"] == {} and state["next"] == []
    assert await client.threads.get_history(tid) == []
    assert await client.runs.list(tid) == []
    await wait_thread_idle(client, tid)


async def test_cancel_interrupt_mid_tool_call_leaves_it_pending(client: Any) -> None:
    """Interrupt keeps progress: the unanswered tool call is the next step, not lost."""
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "toolchat", input={**HI, "delay": 30.0})

    async def tool_call_checkpointed() -> bool:
        return len((await client.threads.get_state(tid))["values"].get("messages", [])) == 2

    await eventually(tool_call_checkpointed, what="the tool call in the checkpoints")
    await client.runs.cancel(tid, run["run_id"], wait=True)
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    assert state["next"] == ["tool"]
    assert (await client.threads.get(tid))["status"] == "interrupted"  # continued by a run with no input


@pytest.mark.parametrize("action", ["interrupt", "rollback"])
async def test_cancel_right_after_create_is_never_lost(client: Any, action: str) -> None:
    """A cancel that lands while the run is being claimed or set up still stops it."""
    for _ in range(6):
        tid = (await client.threads.create())["thread_id"]
        run = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 0.5})
        await client.runs.cancel(tid, run["run_id"], action=action)
        if action == "interrupt":
            done = await wait_status(client, tid, run["run_id"])
            assert done["status"] == "interrupted", done
            count = (await client.threads.get_state(tid))["values"].get("count", 0)
            assert count < 3
        else:

            async def gone(tid: str = tid) -> bool:
                return await client.runs.list(tid) == []

            await eventually(gone, what="the rolled-back run to disappear")
            assert (await client.threads.get_state(tid))["values"] == {}
        # stopped before or in a node: interrupted with that node next; stopped before any checkpoint: idle
        stopped = bool((await client.threads.get_state(tid))["next"])
        await wait_thread_idle(client, tid, ("interrupted",) if stopped else ("idle",))


async def test_cancel_pending_run(client: Any) -> None:
    """A queued run behind another one is cancelled without ever starting."""
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 0.5})
    queued = await client.runs.create(tid, "steps3", input={"delay": 0})
    assert queued["status"] == "pending"
    await client.runs.cancel(tid, queued["run_id"])
    assert (await client.runs.get(tid, queued["run_id"]))["status"] == "interrupted"
    await client.runs.join(tid, first["run_id"])
    assert (await client.threads.get_state(tid))["values"]["count"] == 3
    await wait_thread_idle(client, tid)


async def test_cancel_many(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.3})
    await wait_count(client, tid, 1)
    await client.runs.cancel_many(thread_id=tid, run_ids=[run["run_id"]])
    assert (await wait_status(client, tid, run["run_id"]))["status"] == "interrupted"


async def _drop_stream_early(server: Any, key: str, tid: str, body: dict[str, Any]) -> None:
    async with http(server, key) as h, h.stream("POST", f"/threads/{tid}/runs/stream", json=body) as resp:
        assert resp.status_code == 200
        seen = 0
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                seen += 1
                if line == "event: values" or seen >= 3:
                    break
    # leaving the context closes the connection mid-run


@pytest.mark.parametrize("on_disconnect", ["cancel", None])
async def test_disconnect_cancels(client: Any, server: Any, keys: dict[str, str], on_disconnect: str | None) -> None:
    tid = (await client.threads.create())["thread_id"]
    body: dict[str, Any] = {"assistant_id": "steps10", "input": {"count": 0, "delay": 0.3}, "stream_mode": "values"}
    if on_disconnect:
        body["on_disconnect"] = on_disconnect
    await _drop_stream_early(server, keys["alice"], tid, body)
    run = await only_run(client, tid)
    done = await wait_status(client, tid, run["run_id"])
    assert done["status"] == "interrupted"
    assert (await client.threads.get_state(tid))["values"]["count"] < 10


async def test_disconnect_continue(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    body = {"assistant_id": "steps10", "input": {"count": 0, "delay": 0.1}, "stream_mode": "values",
            "on_disconnect": "continue"}
    await _drop_stream_early(server, keys["alice"], tid, body)
    run = await only_run(client, tid)
    done = await wait_status(client, tid, run["run_id"])
    assert done["status"] == "success"
    assert (await client.threads.get_state(tid))["values"]["count"] == 10


async def test_resumable_stream_defaults_to_continue(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    body = {"assistant_id": "steps10", "input": {"count": 0, "delay": 0.1}, "stream_resumable": True}
    await _drop_stream_early(server, keys["alice"], tid, body)
    run = await only_run(client, tid)
    assert (await wait_status(client, tid, run["run_id"]))["status"] == "success"


async def test_cancel_wait_returns_after_the_run_ended(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.3})
    await wait_count(client, tid, 1)
    async with http(server, keys["alice"]) as h:
        r = await h.post(f"/threads/{tid}/runs/{run['run_id']}/cancel", params={"wait": 1, "action": "interrupt"})
        assert r.status_code in (200, 202, 204)
    assert (await client.runs.get(tid, run["run_id"]))["status"] in TERMINAL
    await asyncio.sleep(0)
