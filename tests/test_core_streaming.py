"""Streaming through the official SDK: every stream mode, state and history, interrupts and resume."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.graphs.scripted import ANSWER


async def collect(stream: Any) -> list[tuple[str, Any]]:
    return [(part.event, part.data) async for part in stream]


async def test_values_updates_messages(client: Any) -> None:
    thread = await client.threads.create()
    events = await collect(client.runs.stream(
        thread["thread_id"], "chat", input={"messages": [{"role": "user", "content": "hi"}]},
        stream_mode=["values", "updates", "messages-tuple"],
    ))
    names = [e for e, _ in events]
    assert names[0] == "metadata" and names[-1] == "end"
    tokens = "".join(d[0]["content"] for e, d in events if e == "messages")
    assert tokens == ANSWER
    updates = [d for e, d in events if e == "updates"]
    assert updates[-1]["reply"]["messages"][0]["content"] == ANSWER
    values = [d for e, d in events if e == "values"]
    assert [m["content"] for m in values[-1]["messages"]] == ["hi", ANSWER]
    state = await client.threads.get_state(thread["thread_id"])
    assert [m["type"] for m in state["values"]["messages"]] == ["human", "ai"]
    history = await client.threads.get_history(thread["thread_id"])
    assert len(history) >= 2
    t = await client.threads.get(thread["thread_id"])
    assert t["status"] == "idle"
    assert t["metadata"]["graph_id"] == "chat"


@pytest.mark.parametrize("mode", ["custom", "debug", "tasks", "checkpoints"])
async def test_other_modes(client: Any, mode: str) -> None:
    thread = await client.threads.create()
    events = await collect(client.runs.stream(thread["thread_id"], "steps3", input={"count": 0}, stream_mode=mode))
    payload = [d for e, d in events if e == mode]
    assert payload, events
    if mode == "custom":
        assert [d["node"] for d in payload] == ["n1", "n2", "n3"]


async def test_subgraph_namespaces(client: Any) -> None:
    thread = await client.threads.create()
    events = await collect(client.runs.stream(thread["thread_id"], "nested", input={"messages": []},
                                              stream_mode="updates", stream_subgraphs=True))
    assert any(e.startswith("updates|child:") for e, _ in events), events


@pytest.mark.parametrize("mode", [["values"], ["updates"], ["values", "updates", "debug"]])
async def test_named_events_without_custom_mode(client: Any, mode: list[str]) -> None:
    """clew's named events (todo, interrupt) reach the stream whatever the modes, from an async node, a
    subgraph's sync node and a later node, in the order they have when the `custom` mode is also streamed."""
    async def names(modes: list[str]) -> list[tuple[str, Any]]:
        thread = await client.threads.create()
        events = await collect(client.runs.stream(thread["thread_id"], "named_events", input={"count": 0},
                                                  stream_mode=modes))
        return [(e, d) for e, d in events if e in ("todo", *mode)]

    plain = await names(mode)
    with_custom = await names([*mode, "custom"])
    assert [d for e, d in plain if e == "todo"] == [{"n": 1, "seen": 0}, {"n": 2, "seen": 1}, {"n": 3, "seen": 2}]
    assert [e for e, _ in plain] == [e for e, _ in with_custom]
    positions = [i for i, (e, _) in enumerate(plain) if e == "todo"]
    # each node's event comes after the chunks of the step before it (a node sees the state it was given)
    for (i, (_, todo)) in zip(positions, [(e, d) for e, d in plain if e == "todo"], strict=True):
        if mode == ["values"]:
            assert plain[i - 1][1]["count"] == todo["seen"]


async def test_interrupt_and_resume(client: Any) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    events = await collect(client.runs.stream(tid, "approval", input={"topic": "t"}, stream_mode=["values", "updates"]))
    upd = [d for e, d in events if e == "updates" and "__interrupt__" in d]
    vals = [d for e, d in events if e == "values" and "__interrupt__" in d]
    assert upd and vals
    assert upd[0]["__interrupt__"][0]["value"]["question"] == "approve?"
    t = await client.threads.get(tid)
    assert t["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    assert state["next"] == ["ask"] and state["interrupts"]
    result = await client.runs.wait(tid, "approval", command={"resume": "ok"})
    assert result["decision"] == "ok" and result["log"] == ["plan", "ask", "finish"]
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_wait_returns_interrupt(client: Any) -> None:
    thread = await client.threads.create()
    result = await client.runs.wait(thread["thread_id"], "approval", input={"topic": "w"})
    assert result["__interrupt__"][0]["value"]["plan"] == "plan for w"


async def test_join_stream_with_last_event_id(client: Any, server: Any, keys: dict[str, str]) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.05},
                                   stream_mode=["values", "updates"])
    headers = {"x-api-key": keys["alice"]}
    url = f"{server.url}/threads/{tid}/runs/{run['run_id']}/stream"

    async def read(last: str | None, stop_after: int | None = None) -> list[tuple[str, str]]:
        out: list[tuple[str, str]] = []
        h = dict(headers)
        if last is not None:
            h["Last-Event-ID"] = last
        async with httpx.AsyncClient(timeout=30) as http, http.stream("GET", url, headers=h) as resp:
            assert resp.status_code == 200
            ident = ""
            async for line in resp.aiter_lines():
                if line.startswith("id: "):
                    ident = line[4:]
                elif line.startswith("event: "):
                    out.append((ident, line[7:]))
                if line == "" and out and stop_after and len(out) >= stop_after:
                    break
        return out

    first = await read("-1", stop_after=5)  # join mid-run, leave early
    ids_first = [int(i) if i else None for i, _ in first]
    rest = await read(first[-1][0])
    whole = await read("-1")
    assert [e for _, e in whole][-1] == "end"
    joined = first + rest
    assert [e for _, e in joined] == [e for _, e in whole][: len(joined)] or [x for x in joined] == whole
    seqs = [int(i) for i, _ in whole if i]
    assert seqs == sorted(set(seqs)), "ids strictly increase without duplicates"
    assert ids_first


async def test_headers_on_run_creation(client: Any, server: Any, keys: dict[str, str]) -> None:
    thread = await client.threads.create()
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["alice"]}) as http:
        r = await http.post(f"/threads/{thread['thread_id']}/runs", json={"assistant_id": "steps3", "input": {}})
        assert r.status_code == 200
        run_id = r.json()["run_id"]
        assert r.headers["content-location"] == f"/threads/{thread['thread_id']}/runs/{run_id}"
        assert r.headers["location"].endswith("/stream")
        r = await http.options(f"/threads/{thread['thread_id']}/runs", headers={
            "Origin": "http://example.test", "Access-Control-Request-Method": "POST"})
        assert r.status_code == 200
        assert r.headers["access-control-allow-origin"] == "http://example.test"  # CLEW_CORS_ORIGINS
    await client.runs.join(thread["thread_id"], run_id)


async def test_events_mode_with_other_modes(client: Any) -> None:
    thread = await client.threads.create()
    events = await collect(client.runs.stream(thread["thread_id"], "chat",
                                              input={"messages": [{"role": "user", "content": "hi"}]},
                                              stream_mode=["events", "values", "messages-tuple"]))
    names = {e for e, _ in events}
    assert {"events", "values", "messages", "end"} <= names
    kinds = {d["event"] for e, d in events if e == "events"}
    assert "on_chat_model_stream" in kinds and "on_chain_start" in kinds
    tokens = "".join(d[0]["content"] for e, d in events if e == "messages")
    assert tokens == ANSWER
