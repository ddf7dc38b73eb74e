"""The todo pipeline through the SDK and raw HTTP: filing (and its ``todo`` events), listing, completing with a
validated result, cancelling, the gate, the automatic resume exactly once under concurrent completion,
idempotent filing when a node runs again, the session aliases, the demo graph end to end, another user's
todos being invisible, and the pending list pushed by ``GET /todos/stream``."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


@pytest.fixture
async def http(server: Any, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["alice"]}, timeout=60) as c:
        yield c


@pytest.fixture
async def bob(server: Any, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["bob"]}, timeout=60) as c:
        yield c


async def collect(stream: Any) -> list[tuple[str, Any]]:
    return [(part.event, part.data) async for part in stream]


async def at_gate(client: Any, n: int, **extra: Any) -> tuple[str, list[tuple[str, Any]]]:
    thread = await client.threads.create()
    events = await collect(
        client.runs.stream(
            thread["thread_id"], "hitl_todos", input={"n": n, **extra}, stream_mode=["values", "updates"]
        )
    )
    return thread["thread_id"], events


async def resume_run_events(client: Any, tid: str, run_id: str) -> list[tuple[str, Any]]:
    await client.runs.join(tid, run_id)
    return await collect(client.runs.join_stream(tid, run_id, last_event_id="-1"))


async def test_todo_lifecycle(client: Any, http: httpx.AsyncClient) -> None:
    tid, events = await at_gate(client, 3)
    created = [d for e, d in events if e == "todo"]
    assert [d["action"] for d in created] == ["created"] * 3
    assert [d["todo"]["kind"] for d in created] == ["approval", "input", "selection"]
    gate = [d for e, d in events if e == "interrupt"]
    assert gate and gate[0]["value"]["kind"] == "todos" and len(gate[0]["value"]["data"]["pending"]) == 3
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"

    todos = (await http.get(f"/threads/{tid}/todos")).json()
    assert [t["status"] for t in todos] == ["pending"] * 3 and [t["message"] for t in todos] == [
        "todo 0",
        "todo 1",
        "todo 2",
    ]
    t0, t1, t2 = (t["todo_id"] for t in todos)
    assert todos[2]["options"] == ["x", "y"] and todos[0]["schema"]["required"] == ["decision"]
    mine = (await http.get("/todos", params={"status": "pending", "thread_id": tid})).json()
    assert {t["todo_id"] for t in mine} == {t0, t1, t2}
    assert (await http.get("/todos", params={"status": "bogus"})).status_code == 422
    assert (await http.get(f"/todos/{t0}")).json()["todo_id"] == t0

    # a result that breaks the todo's schema changes nothing
    r = await http.post(f"/todos/{t0}/complete", json={"result": {"decision": "perhaps"}})
    assert r.status_code == 422 and r.json()["error"] == "invalid_result"
    r = await http.post(f"/todos/{t2}/complete", json={"result": {"selected": "z"}})
    assert r.status_code == 422
    r = await http.post(f"/todos/{t0}/complete", json={"result": {"decision": "approve"}})
    assert r.status_code == 200 and r.json()["status"] == "completed" and r.json()["resumed_run_id"] is None
    assert (
        await http.post(f"/todos/{t0}/complete", json={"result": {"decision": "approve"}})
    ).status_code == 409
    # a hand-made resume of the gate is refused while todos are pending
    r = await http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "hitl_todos", "command": {"resume": {"todos": []}}}
    )
    assert r.status_code == 409 and r.json()["error"] == "waiting_on_todos"
    r = await http.post(f"/todos/{t1}/cancel")
    assert r.status_code == 200 and r.json()["status"] == "cancelled" and r.json()["resumed_run_id"] is None
    assert (await http.post(f"/todos/{t1}/cancel")).status_code == 409
    assert (await client.threads.get(tid))["status"] == "interrupted"

    r = await http.post(f"/todos/{t2}/complete", json={"result": {"selected": "y"}})
    assert r.status_code == 200
    run_id = r.json()["resumed_run_id"]
    assert run_id
    events = await resume_run_events(client, tid, run_id)
    done = [(d["action"], d["todo"]["todo_id"]) for e, d in events if e == "todo"]
    assert done == [("completed", t0), ("cancelled", t1), ("completed", t2)]
    run = await client.runs.get(tid, run_id)
    assert run["status"] == "success" and run["metadata"]["resumed_by"] == "todos"
    resume = run["kwargs"]["command"]["resume"]["todos"]
    assert [(t["todo_id"], t["status"], t["result"]) for t in resume] == [
        (t0, "completed", {"decision": "approve"}),
        (t1, "cancelled", None),
        (t2, "completed", {"selected": "y"}),
    ]
    state = await client.threads.get_state(tid)
    assert state["values"]["log"] == ["prepare", "file", "work", "gate"]
    assert state["values"]["results"] == {
        "todo 0": {"status": "completed", "result": {"decision": "approve"}},
        "todo 1": {"status": "cancelled", "result": None},
        "todo 2": {"status": "completed", "result": {"selected": "y"}},
    }
    assert (await client.threads.get(tid))["status"] == "idle"
    assert len(await client.runs.list(tid)) == 2
    assert (await http.get("/todos", params={"status": "pending", "thread_id": tid})).json() == []


async def test_concurrent_completion_resumes_exactly_once(client: Any, http: httpx.AsyncClient) -> None:
    for _ in range(5):
        tid, _ = await at_gate(client, 2)
        todos = (await http.get(f"/threads/{tid}/todos")).json()
        results = [{"decision": "approve"}, {"text": "hello"}]
        responses = await asyncio.gather(
            *(
                http.post(f"/todos/{t['todo_id']}/complete", json={"result": res})
                for t, res in zip(todos, results, strict=True)
            )
        )
        assert [r.status_code for r in responses] == [200, 200], [r.text for r in responses]
        resumed = [r.json()["resumed_run_id"] for r in responses if r.json()["resumed_run_id"]]
        assert len(resumed) == 1
        await client.runs.join(tid, resumed[0])
        runs = await client.runs.list(tid)
        assert len(runs) == 2 and {r["status"] for r in runs} == {"success", "interrupted"}
        state = await client.threads.get_state(tid)
        assert state["values"]["log"].count("gate") == 1
        assert {k: v["result"] for k, v in state["values"]["results"].items()} == {
            "todo 0": {"decision": "approve"},
            "todo 1": {"text": "hello"},
        }


async def test_todos_done_before_the_gate_do_not_stop_the_run(client: Any, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    run = await client.runs.create(tid, "hitl_todos", input={"n": 1, "delay": 1.5})
    todos: list[dict[str, Any]] = []
    for _ in range(200):
        todos = (await http.get(f"/threads/{tid}/todos")).json()
        if todos:
            break
        await asyncio.sleep(0.02)
    r = await http.post(f"/todos/{todos[0]['todo_id']}/complete", json={"result": {"decision": "reject"}})
    assert r.status_code == 200 and r.json()["resumed_run_id"] is None
    await client.runs.join(tid, run["run_id"])
    assert (await client.threads.get(tid))["status"] == "idle"
    assert len(await client.runs.list(tid)) == 1
    state = await client.threads.get_state(tid)
    assert state["values"]["results"]["todo 0"]["result"] == {"decision": "reject"}


async def test_filing_is_idempotent_when_the_node_runs_again(client: Any, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    events = await collect(client.runs.stream(tid, "hitl_refile", input={}, stream_mode="updates"))
    assert [d["action"] for e, d in events if e == "todo"] == ["created"]
    result = await client.runs.wait(tid, "hitl_refile", command={"resume": {"decision": "approve"}})
    assert result["decision"] == "approve"
    todos = (await http.get(f"/threads/{tid}/todos")).json()
    assert len(todos) == 1 and todos[0]["message"] == "note for later"


async def test_session_aliases(client: Any, http: httpx.AsyncClient) -> None:
    tid, _ = await at_gate(client, 2)
    s = (await http.get(f"/agent/sessions/{tid}/state")).json()
    assert s["status"] == "interrupted" and s["interrupt"]["value"]["kind"] == "todos"
    assert s["current_node"] == "gate" and s["progress"]["todos_pending"] == 2 and len(s["todos"]) == 2
    todos = (await http.get(f"/agent/sessions/{tid}/todos")).json()
    assert [t["status"] for t in todos] == ["pending", "pending"]
    r = await http.post(
        f"/agent/todos/{todos[0]['todo_id']}/complete", json={"result_data": {"decision": "edit"}}
    )
    assert r.status_code == 422
    r = await http.post(
        f"/agent/todos/{todos[0]['todo_id']}/complete", json={"result": {"decision": "approve"}}
    )
    assert r.status_code == 422  # the alias takes the document's field name
    r = await http.post(
        f"/agent/todos/{todos[0]['todo_id']}/complete", json={"result_data": {"decision": "approve"}}
    )
    assert r.status_code == 200 and r.json()["resumed_run_id"] is None
    r = await http.post(f"/agent/todos/{todos[1]['todo_id']}/complete", json={"result_data": {"text": "ok"}})
    assert r.status_code == 200 and r.json()["resumed_run_id"]
    await client.runs.join(tid, r.json()["resumed_run_id"])
    s = (await http.get(f"/agent/sessions/{tid}/state")).json()
    assert s["status"] == "idle" and s["progress"]["todos_done"] == 2 and s["interrupt"] is None


async def test_another_users_todos_are_invisible(
    client: Any, http: httpx.AsyncClient, bob: httpx.AsyncClient
) -> None:
    tid, _ = await at_gate(client, 1)
    todo_id = (await http.get(f"/threads/{tid}/todos")).json()[0]["todo_id"]
    assert todo_id not in {t["todo_id"] for t in (await bob.get("/todos")).json()}
    assert (await bob.get("/todos", params={"thread_id": tid})).json() == []
    for method, url, body in [
        ("GET", f"/todos/{todo_id}", None),
        ("POST", f"/todos/{todo_id}/complete", {"result": {"decision": "approve"}}),
        ("POST", f"/todos/{todo_id}/cancel", None),
        ("GET", f"/threads/{tid}/todos", None),
        ("GET", f"/agent/sessions/{tid}/todos", None),
        ("POST", f"/agent/todos/{todo_id}/complete", {"result_data": {"decision": "approve"}}),
    ]:
        r = await bob.request(method, url, json=body)
        assert r.status_code == 404, (url, r.text)
        assert r.json()["error"] == "not_found"
    assert (await http.get(f"/todos/{todo_id}")).json()["status"] == "pending"
    assert (await http.get("/todos/not-a-uuid")).status_code == 422  # a malformed id, as the reference


async def test_demo_graph_end_to_end(client: Any, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    first = await client.runs.wait(tid, "hitl_demo", input={"topic": "tidal power"})
    ask = first["__interrupt__"][0]["value"]
    assert ask["kind"] == "approval" and ask["data"]["plan"][0] == "Background of tidal power"
    edited = ["Background of tidal power", "Costs of tidal power"]
    second = await client.runs.wait(
        tid, "hitl_demo", command={"resume": {"decision": "edit", "edited": edited}}
    )
    assert second["__interrupt__"][0]["value"]["kind"] == "input"
    third = await client.runs.wait(tid, "hitl_demo", command={"resume": {"text": "engineers"}})
    assert third["__interrupt__"][0]["value"]["kind"] == "selection"
    fourth = await client.runs.wait(tid, "hitl_demo", command={"resume": {"selected": "detailed"}})
    gate = fourth["__interrupt__"][0]["value"]
    assert gate["kind"] == "todos" and len(gate["data"]["pending"]) == 2
    assert "2 claim(s) awaiting verification" in fourth["draft"]  # it kept working meanwhile
    todos = (await http.get(f"/threads/{tid}/todos")).json()
    assert [t["data"]["claim"] for t in todos] == [
        "Interest in tidal power doubled since 2020",
        "Most practitioners of tidal power rely on a single tool",
    ]
    r = await http.post(
        f"/todos/{todos[0]['todo_id']}/complete",
        json={"result": {"decision": "edit", "edited": "Interest in tidal power grew since 2020"}},
    )
    assert r.status_code == 200
    r = await http.post(f"/todos/{todos[1]['todo_id']}/complete", json={"result": {"decision": "reject"}})
    run_id = r.json()["resumed_run_id"]
    assert run_id
    await client.runs.join(tid, run_id)
    state = await client.threads.get_state(tid)
    report = state["values"]["report"]
    assert "For: engineers" in report and "Depth: detailed" in report and "2. Costs of tidal power" in report
    assert "Interest in tidal power grew since 2020 (corrected by a reviewer)" in report
    assert "## Dropped (not verified)\n- Most practitioners of tidal power rely on a single tool" in report
    assert state["values"]["log"] == [
        "plan",
        "review_plan:edit",
        "ask_audience",
        "choose_depth:detailed",
        "deep_dive",
        "research",
        "write_draft",
        "gate",
        "finish",
    ]
    assert state["values"]["progress"] == {"stage": "done", "percent": 100}


async def test_demo_graph_rejected_plan(client: Any) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    await client.runs.wait(tid, "hitl_demo", input={"topic": "x", "audience": "me", "depth": "brief"})
    done = await client.runs.wait(
        tid, "hitl_demo", command={"resume": {"decision": "reject", "comment": "too vague"}}
    )
    assert done["report"] == "The plan was rejected (too vague); nothing was researched."
    assert done["log"] == ["plan", "review_plan:reject", "abandon"]


async def todo_pushes(http: httpx.AsyncClient, out: asyncio.Queue[list[dict[str, Any]]]) -> None:
    """Read ``GET /todos/stream`` into ``out`` (one pending list per ``todos`` event)."""
    async with http.stream("GET", "/todos/stream", timeout=None) as r:
        assert r.status_code == 200 and r.headers["content-type"].startswith("text/event-stream")
        event = ""
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event == "todos":
                await out.put(json.loads(line[5:]))


async def next_push(queue: asyncio.Queue[list[dict[str, Any]]], until: Any) -> list[dict[str, Any]]:
    while True:
        todos = await asyncio.wait_for(queue.get(), 30)
        if until({t["todo_id"] for t in todos}):
            return todos


async def test_pending_todos_are_pushed(client: Any, http: httpx.AsyncClient, bob: httpx.AsyncClient) -> None:
    mine: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    theirs: asyncio.Queue[list[dict[str, Any]]] = asyncio.Queue()
    readers = [asyncio.create_task(todo_pushes(http, mine)), asyncio.create_task(todo_pushes(bob, theirs))]
    try:
        before = {t["todo_id"] for t in await asyncio.wait_for(mine.get(), 30)}  # the list at once
        bobs = await asyncio.wait_for(theirs.get(), 30)
        assert all(t["status"] == "pending" for t in bobs)
        tid, _ = await at_gate(client, 2)  # filed in a run
        filed = [t["todo_id"] for t in (await http.get(f"/threads/{tid}/todos")).json()]
        pushed = await next_push(mine, lambda ids: set(filed) <= ids)
        assert {t["thread_id"] for t in pushed if t["todo_id"] in filed} == {tid}
        assert before <= {t["todo_id"] for t in pushed}
        r = await http.post(f"/todos/{filed[0]}/complete", json={"result": {"decision": "approve"}})
        assert r.status_code == 200
        await next_push(mine, lambda ids: filed[0] not in ids and filed[1] in ids)  # finished outside a run
        r = await http.post(f"/todos/{filed[1]}/cancel")
        assert r.status_code == 200 and r.json()["resumed_run_id"]
        await next_push(mine, lambda ids: not ids & set(filed))
        await client.runs.join(tid, r.json()["resumed_run_id"])
        assert theirs.empty()  # another user's todos changed nothing for bob
    finally:
        for task in readers:
            task.cancel()
        await asyncio.gather(*readers, return_exceptions=True)
