"""``GET /threads/{thread_id}/stream`` (the SDK's ``threads.join_stream``): the thread's runs in order, each
run's ``end`` sent as ``metadata {"status": "run_done"}`` as the reference server does, replayed after
``Last-Event-ID`` and then live, open for the next run."""

from __future__ import annotations

import asyncio
import json
import uuid
from typing import Any

import httpx

from tests.support.core import http


async def read_until(h: httpx.AsyncClient, path: str, runs_done: int, **kw: Any) -> list[tuple[str, str, Any]]:
    """Events of an open stream until ``runs_done`` runs ended (then the client leaves)."""
    out: list[tuple[str, str, Any]] = []
    done = 0
    async with h.stream("GET", path, **kw) as r:
        assert r.status_code == 200, await r.aread()
        ident = event = data = ""
        async for line in r.aiter_lines():
            if line.startswith("id: "):
                ident = line[4:]
            elif line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: "):
                data = line[6:]
            elif line == "" and event:
                out.append((ident, event, json.loads(data)))
                if event == "metadata" and out[-1][2].get("status") == "run_done":
                    done += 1
                    if done == runs_done:
                        return out
                ident = event = data = ""
    return out


async def test_thread_stream_live_then_replayed(client: Any, other_client: Any, server: Any,
                                                keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    async with http(server, keys["alice"]) as h:
        live = asyncio.create_task(read_until(h, f"/threads/{tid}/stream", 2))
        await asyncio.sleep(0.5)  # the reader is connected (events before it would be skipped)
        first = await client.runs.create(tid, "steps3", input={"count": 0}, stream_mode=["values"])
        second = await client.runs.create(tid, "steps3", input={"count": 10}, stream_mode=["updates"])
        events = await asyncio.wait_for(live, 60)

        def shape(run: dict[str, Any], mode: str, values: list[Any]) -> list[tuple[str, Any]]:
            return [("metadata", {"run_id": run["run_id"], "attempt": 1}), *[(mode, v) for v in values],
                    ("metadata", {"status": "run_done", "run_id": run["run_id"]})]

        expected = shape(first, "values", [{"count": 0, "log": []}, {"count": 1, "log": ["n1"]}, {"count": 2, "log": ["n1", "n2"]},
                                           {"count": 3, "log": ["n1", "n2", "n3"]}])
        expected += shape(second, "updates", [{"n1": {"count": 11, "log": ["n1"]}}, {"n2": {"count": 12, "log": ["n2"]}},
                                              {"n3": {"count": 13, "log": ["n3"]}}])
        assert [(e, d) for _, e, d in events] == expected
        ids = [i for i, _, _ in events]
        assert ids[0].startswith(first["run_id"] + ":") and ids[-1].startswith(second["run_id"] + ":")
        # replayed from the start, and after any event id: exactly what followed
        again = await read_until(h, f"/threads/{tid}/stream", 2, headers={"Last-Event-ID": "-1"})
        assert again == events
        again = await read_until(h, f"/threads/{tid}/stream", 2, headers={"Last-Event-ID": ids[2]})
        assert again == events[3:]
        r = await h.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "garbage"})
        assert r.status_code == 422 and "Last-Event-ID" in r.json()["detail"]
    async with http(server, keys["bob"]) as bob:
        r = await bob.get(f"/threads/{tid}/stream", headers={"Last-Event-ID": "-1"})
        assert r.status_code == 404
        r = await bob.get(f"/threads/{uuid.uuid4()}/stream")
        assert r.status_code == 404


async def test_sdk_join_stream(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "steps3", input={"count": 0})
    parts = []
    async for part in await client.threads.join_stream(tid, last_event_id="-1"):
        parts.append((part.event, part.data))
        if part.event == "metadata" and part.data.get("status") == "run_done":
            break
    assert [e for e, _ in parts] == ["metadata", "values", "values", "values", "values", "metadata"]
