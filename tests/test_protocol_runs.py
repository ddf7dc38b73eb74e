"""Run semantics of the Agent Server protocol, compared with what ``langgraph dev`` answers for the same request:
static interrupts and cancel-as-interrupt leave the thread ``interrupted`` (continued by a run with no input),
joins after the last event close at once, ``runs/wait`` returns the graph's output schema, and the status codes
and headers of bad requests and stateless runs are the reference's. Every 4xx is logged."""

from __future__ import annotations

import json
import uuid
from typing import Any

import httpx
import pytest

from tests.support.core import eventually, http, sse_events, wait_count


async def sse(h: httpx.AsyncClient, method: str, path: str, **kw: Any) -> tuple[httpx.Response, list[tuple[str, str, Any]]]:
    async with h.stream(method, path, **kw) as r:
        if r.status_code != 200:
            await r.aread()
            return r, []
        events = await sse_events(r)
    return r, [(i, e, json.loads(d)) for i, e, d in events]


@pytest.fixture
async def h(server: Any, keys: dict[str, str]) -> Any:
    async with http(server, keys["alice"]) as c:
        yield c


# --- 2. static interrupts ------------------------------------------------------------------------------
async def test_compiled_interrupt_before_leaves_thread_interrupted(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid, "p_static", input={"count": 0})
    assert out == {"count": 1, "log": ["n1"]}  # no __interrupt__: a static interrupt has no value
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted" and thread["interrupts"] == {}
    state = await client.threads.get_state(tid)
    assert state["next"] == ["n2"] and [t["name"] for t in state["tasks"]] == ["n2"]
    assert state["tasks"][0]["error"] is None
    out = await client.runs.wait(tid, "p_static", input=None)  # continue: no input
    assert out == {"count": 3, "log": ["n1", "n2", "n3"]}
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_run_interrupt_before_first_node_then_continue(client: Any, h: httpx.AsyncClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid, "steps3", input={"count": 0}, interrupt_before=["n1"])
    assert out == {"count": 0, "log": []}
    assert (await client.threads.get(tid))["status"] == "interrupted"
    assert (await client.threads.get_state(tid))["next"] == ["n1"]
    r, events = await sse(h, "POST", f"/threads/{tid}/runs/stream",
                          json={"assistant_id": "steps3", "input": None, "stream_mode": ["values", "updates"]})
    assert r.status_code == 200
    assert [(e, d) for _, e, d in events][1:] == [
        ("values", {"count": 0, "log": []}),
        ("updates", {"n1": {"count": 1, "log": ["n1"]}}), ("values", {"count": 1, "log": ["n1"]}),
        ("updates", {"n2": {"count": 2, "log": ["n2"]}}), ("values", {"count": 2, "log": ["n1", "n2"]}),
        ("updates", {"n3": {"count": 3, "log": ["n3"]}}), ("values", {"count": 3, "log": ["n1", "n2", "n3"]}),
        ("end", None),
    ]
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_run_interrupt_after(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid, "steps3", input={"count": 0}, interrupt_after=["n2"])
    assert out == {"count": 2, "log": ["n1", "n2"]}
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted" and thread["values"] == {"count": 2, "log": ["n1", "n2"]}
    assert (await client.threads.get_state(tid))["next"] == ["n3"]


async def test_cancel_with_interrupt_leaves_thread_interrupted(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps10", input={"count": 0, "delay": 0.3})
    await wait_count(client, tid, 2)
    await client.runs.cancel(tid, run["run_id"], wait=True, action="interrupt")
    assert (await client.runs.get(tid, run["run_id"]))["status"] == "interrupted"
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    state = await client.threads.get_state(tid)
    done = state["values"]["count"]
    assert state["next"] == [f"n{done + 1}"]
    assert [(t["name"], t["error"]) for t in state["tasks"]] == [(f"n{done + 1}", None)]
    assert thread["values"]["count"] == done
    out = await client.runs.wait(tid, "steps10", input=None)  # continues with the stopped node
    assert out["count"] == 10 and out["log"] == [f"n{i}" for i in range(1, 11)]
    assert (await client.threads.get(tid))["status"] == "idle"


# --- 3. joining a finished run -----------------------------------------------------------------------------
async def test_join_stream_after_the_end_closes_and_resumes_exactly(client: Any, h: httpx.AsyncClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    r, events = await sse(h, "POST", f"/threads/{tid}/runs/stream",
                          json={"assistant_id": "steps3", "input": {"count": 0}, "stream_resumable": True})
    ids = [int(i) for i, _, _ in events]
    assert [e for _, e, _ in events] == ["metadata", "values", "values", "values", "values", "end"]
    assert ids == sorted(ids)
    loc = r.headers["content-location"]
    for last in (ids[-1], ids[-1] + 5):  # at or after `end`: closes at once with nothing
        r2, again = await sse(h, "GET", f"{loc}/stream", headers={"Last-Event-ID": str(last)})
        assert r2.status_code == 200 and again == []
    r2, again = await sse(h, "GET", f"{loc}/stream", headers={"Last-Event-ID": str(ids[1])})
    assert again == events[2:]  # exactly what followed, no second `metadata`
    r2, again = await sse(h, "GET", f"{loc}/stream", headers={"Last-Event-ID": "-1"})
    assert again == events


# --- 7. run output ---------------------------------------------------------------------------------------
async def test_wait_and_join_return_the_output_schema(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    assert await client.runs.wait(tid, "p_output", input={"topic": "owls"}) == {"plan": "plan for owls"}
    run = await client.runs.create(tid, "p_output", input={"topic": "bats"})
    assert await client.runs.join(tid, run["run_id"]) == {"plan": "plan for bats"}
    # the thread's values stay the whole state
    assert (await client.threads.get(tid))["values"] == {"topic": "bats", "plan": "plan for bats",
                                                         "scratch": "internal notes"}
    assert await client.runs.wait(None, "p_output", input={"topic": "x"}) == {"plan": "plan for x"}


# --- 12. status codes and headers --------------------------------------------------------------------------
async def test_status_codes_like_the_reference(client: Any, h: httpx.AsyncClient) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "steps3", input={"count": 0})
    for path in ("/threads/abc", f"/threads/{tid}/runs/abc", "/threads/abc/state", "/runs/abc"):
        r = await h.get(path)
        assert r.status_code == 422 and "must be a UUID" in r.json()["detail"], (path, r.text)
    r = await h.post("/threads", json={"thread_id": "abc"})
    assert r.status_code == 422 and "must be a UUID" in r.json()["detail"]
    for path in (f"/threads/{tid}/runs", "/runs/wait"):
        r = await h.post(path, json={"assistant_id": "nope", "input": {}})
        assert r.status_code == 422 and "'nope'" in r.json()["detail"] and "steps3" in r.json()["detail"]
    r = await h.post(f"/threads/{tid}/runs", json={"assistant_id": str(uuid.uuid4()), "input": {}})
    assert r.status_code == 404 and "assistant" in r.json()["detail"]
    r = await h.post(f"/threads/{tid}/state", json={"values": {"count": 1}, "as_node": "nope"})
    assert r.status_code == 400 and r.json()["error"] == "unknown_node" and "'nope'" in r.json()["detail"]


async def test_stateless_runs_point_at_runs(client: Any, h: httpx.AsyncClient) -> None:
    r, events = await sse(h, "POST", "/runs/stream", json={"assistant_id": "steps3", "input": {"count": 0}})
    run_id = events[0][2]["run_id"]
    assert r.headers["content-location"] == f"/runs/{run_id}"
    assert r.headers["location"] == f"/runs/{run_id}/stream"
    r = await h.post("/runs/wait", json={"assistant_id": "steps3", "input": {"count": 0}})
    assert r.status_code == 200 and r.json() == {"count": 3, "log": ["n1", "n2", "n3"]}
    run_id = r.headers["content-location"].removeprefix("/runs/")
    assert r.headers["location"] == f"/runs/{run_id}/join"
    uuid.UUID(run_id)
    tid = (await client.threads.create())["thread_id"]
    r = await h.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "steps3", "input": {"count": 0}})
    assert r.headers["content-location"].startswith(f"/threads/{tid}/runs/")
    assert r.headers["location"] == r.headers["content-location"] + "/join"


# --- 15. rejected requests are logged ---------------------------------------------------------------------
async def test_every_4xx_is_logged_without_the_body(server: Any, h: httpx.AsyncClient) -> None:
    marker = "secret-" + uuid.uuid4().hex
    r = await h.post("/threads", json={"metadata": marker})
    assert r.status_code == 422
    r = await h.get(f"/threads/{uuid.uuid4()}")
    assert r.status_code == 404

    def lines() -> list[dict[str, Any]]:
        out = []
        for line in server.log_path.read_text(errors="replace").splitlines():
            if '"request rejected"' in line:
                out.append(json.loads(line))
        return out

    async def probe() -> list[dict[str, Any]] | None:
        found = [x for x in lines() if x.get("route") == "/threads/{thread_id}" and x.get("status") == 404]
        return found or None

    found = await eventually(probe, what="the 404 logged")
    assert found[-1]["error"] == "not_found" and found[-1]["user_id"] == "alice" and found[-1]["level"] == "info"
    posts = [x for x in lines() if x.get("route") == "/threads" and x.get("method") == "POST" and x["status"] == 422]
    assert posts and posts[-1]["error"] == "invalid"
    # refused before any route (a value that cannot be stored): logged too
    r = await h.post("/threads/search", content=b'{"metadata": {"' + marker.encode() + b'": NaN}}',
                     headers={"content-type": "application/json"})
    assert r.status_code == 422

    async def early() -> list[dict[str, Any]] | None:
        return [x for x in lines() if x.get("path") == "/threads/search" and x.get("route") is None] or None

    assert (await eventually(early, what="the early 422 logged"))[-1]["error"] == "invalid"
    assert marker not in server.log_path.read_text(errors="replace")


# --- runs/wait answers with what the run's end committed --------------------------------------------------
async def test_wait_answers_what_the_run_ended_with(h: httpx.AsyncClient) -> None:
    """``runs/wait`` on a run this server executed answers from the executor's hand-over (no read back): the
    output, the pending interrupts, or the error — the same as the thread's stored state and the join."""
    tid = str(uuid.uuid4())
    r = await h.post(f"/threads/{tid}/runs/wait",
                     json={"assistant_id": "approval", "input": {"topic": "t"}, "if_not_exists": "create"})
    assert r.status_code == 200, r.text
    waited = r.json()
    state = (await h.get(f"/threads/{tid}/state")).json()
    assert waited["__interrupt__"][0]["value"] == {"question": "approve?", "plan": "plan for t"}
    assert {k: v for k, v in waited.items() if k != "__interrupt__"} == state["values"]
    run_id = r.headers["content-location"].rsplit("/", 1)[-1]
    assert (await h.get(f"/threads/{tid}/runs/{run_id}/join")).json() == waited
    r = await h.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "approval", "command": {"resume": "ok"}})
    assert r.status_code == 200 and r.json() == (await h.get(f"/threads/{tid}/state")).json()["values"]
    assert r.json()["decision"] == "ok" and r.json()["log"] == ["plan", "ask", "finish"]
    r = await h.post("/runs/wait", json={"assistant_id": "steps3", "input": {"count": 0, "fail": True}})
    assert r.status_code == 200
    assert r.json() == {"__error__": {"error": "RuntimeError", "message": "scripted failure in n1"}}
