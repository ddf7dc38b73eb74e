"""Thread, assistant and configuration semantics of the Agent Server protocol through the official SDK: the
client's configurable reaches the graph untouched, graph factories are built per assistant and run, every
search and count filter is applied and unknown fields are refused, threads pre-filled by supersteps, subgraph
state reads and updates, and assistant schemas as the graph declares them."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.support.core import http


# --- 8. configuration ------------------------------------------------------------------------------------------
async def test_client_configurable_reaches_the_graph(client: Any) -> None:
    out = await client.runs.wait(None, "p_echo", input={}, config={"configurable": {
        "user_id": "chosen-by-client", "temperature": 0.5, "langgraph_auth_user_id": "mallory"}})
    seen = out["seen"]
    assert seen["user_id"] == "chosen-by-client" and seen["temperature"] == 0.5
    assert seen["langgraph_auth_user_id"] == "alice"  # clew's identity, never the client's
    assert seen["graph_id"] == "p_echo" and {"thread_id", "run_id", "assistant_id"} <= set(seen)


async def test_graph_factory_built_with_assistant_and_run_config(client: Any, h: httpx.AsyncClient) -> None:
    assert await client.runs.wait(None, "p_factory", input={"count": 0}) == {"count": 2, "log": ["n1", "n2"]}
    four = await client.assistants.create("p_factory", config={"configurable": {"steps": 4}})
    out = await client.runs.wait(None, four["assistant_id"], input={"count": 0})
    assert out == {"count": 4, "log": ["n1", "n2", "n3", "n4"]}
    out = await client.runs.wait(None, four["assistant_id"], input={"count": 0}, config={"configurable": {"steps": 3}})
    assert out["log"] == ["n1", "n2", "n3"]  # the run's configuration over the assistant's
    drawn = await client.assistants.get_graph(four["assistant_id"])
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "n1", "n2", "n3", "n4", "__end__"]
    drawn = await client.assistants.get_graph("p_factory")
    assert [n["id"] for n in drawn["nodes"]] == ["__start__", "n1", "n2", "__end__"]


# --- 9. filters and unknown fields ----------------------------------------------------------------------------
async def test_every_filter_is_applied(client: Any) -> None:
    tag = {"suite": "filters-" + (await client.threads.create())["thread_id"]}
    a = (await client.threads.create(metadata=tag))["thread_id"]
    b = (await client.threads.create(metadata=tag))["thread_id"]
    await client.runs.wait(a, "steps3", input={"count": 0})
    await client.runs.wait(b, "steps3", input={"count": 5})
    assert await client.threads.count(metadata=tag) == 2
    assert await client.threads.count(metadata=tag, values={"count": 3}) == 1
    assert await client.threads.count(metadata=tag, values={"count": 99}) == 0
    found = await client.threads.search(metadata=tag, values={"count": 8}, limit=1,
                                        extract={"last": "values.log[-1]", "n": "values.count", "no": "values.x[3]"})
    assert [t["thread_id"] for t in found] == [b]
    assert found[0]["extracted"] == {"last": "n3", "n": 8, "no": None}
    found = await client.threads.search(metadata=tag, status="idle", select=["thread_id", "status"])
    assert sorted(found, key=lambda t: t["thread_id"]) == sorted(
        [{"thread_id": a, "status": "idle"}, {"thread_id": b, "status": "idle"}], key=lambda t: t["thread_id"])
    name = "filtered-" + a
    made = await client.assistants.create("steps3", name=name, metadata={"k": a})
    await client.assistants.create("steps10", name=name, metadata={"k": a})
    assert await client.assistants.count(metadata={"k": a}) == 2
    assert await client.assistants.count(metadata={"k": a}, graph_id="steps3") == 1
    assert await client.assistants.count(name=name, graph_id="steps10") == 1
    found = await client.assistants.search(metadata={"k": a}, graph_id="steps3", select=["assistant_id", "name"])
    assert found == [{"assistant_id": made["assistant_id"], "name": name}]


@pytest.fixture
async def h(server: Any, keys: dict[str, str]) -> Any:
    async with http(server, keys["alice"]) as c:
        yield c


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/threads/search", {"metdata": {"a": 1}}),
    ("POST", "/threads/count", {"valuez": {}}),
    ("POST", "/threads", {"thread": "x"}),
    ("POST", "/assistants/search", {"graph": "steps3"}),
    ("POST", "/assistants/count", {"graphid": "steps3"}),
    ("POST", "/store/items/search", {"prefix": ["a"]}),
    ("POST", "/runs/wait", {"assistant_id": "steps3", "input": {}, "stream_modes": ["values"]}),
])
async def test_unknown_field_is_named(h: httpx.AsyncClient, method: str, path: str, body: dict[str, Any]) -> None:
    r = await h.request(method, path, json=body)
    unknown = next(iter(k for k in body if k not in ("assistant_id", "input")))
    assert r.status_code == 422 and unknown in r.json()["detail"] and "extra" in r.json()["detail"].lower(), r.text


async def test_fields_the_sdks_send_are_accepted(h: httpx.AsyncClient) -> None:
    r = await h.post("/runs/wait", json={
        "assistant_id": "steps3", "input": {"count": 0}, "webhook": None, "feedback_keys": ["x"],
        "langsmith_tracer": {"project_name": "p"}, "strict_resume": False, "checkpoint_during": True,
        "on_completion": "delete", "after_seconds": 0, "durability": "sync", "stream_mode": ["values"]})
    assert r.status_code == 200 and r.json()["count"] == 3


# --- 10. supersteps and subgraph state ----------------------------------------------------------------------------
async def test_thread_created_with_supersteps(client: Any, h: httpx.AsyncClient) -> None:
    thread = await client.threads.create(graph_id="steps3", supersteps=[
        {"updates": [{"values": {"count": 5}, "as_node": "__input__"}]},
        {"updates": [{"values": {"count": 6, "log": ["n1"]}, "as_node": "n1"}]},
    ])
    tid = thread["thread_id"]
    assert thread["status"] == "interrupted" and thread["values"] == {"count": 6, "log": ["n1"]}
    state = await client.threads.get_state(tid)
    assert state["next"] == ["n2"] and state["metadata"]["source"] == "update"
    assert len(await client.threads.get_history(tid)) == 2
    assert await client.runs.wait(tid, "steps3", input=None) == {"count": 8, "log": ["n1", "n2", "n3"]}
    r = await h.post("/threads", json={"supersteps": [{"updates": [{"values": {}, "as_node": "__input__"}]}]})
    assert r.status_code == 422 and "graph_id" in r.json()["detail"]
    r = await h.post("/threads", json={"metadata": {"graph_id": "steps3"},
                                       "supersteps": [{"updates": [{"values": {}, "as_node": "nope"}]}]})
    assert r.status_code == 422 and "'nope'" in r.json()["detail"]


async def test_subgraph_state_read_and_update(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid, "p_sub", input={"topic": "owls"})
    assert out["__interrupt__"][0]["value"] == {"question": "which?"}
    flat = await client.threads.get_state(tid)
    [task] = flat["tasks"]
    assert task["name"] == "child" and task["state"] is None
    ns = task["checkpoint"]["checkpoint_ns"]
    assert ns.startswith("child:") and task["checkpoint"]["thread_id"] == tid
    deep = await client.threads.get_state(tid, subgraphs=True)
    sub = deep["tasks"][0]["state"]
    assert sub["values"] == {"topic": "owls", "log": ["prepare"]} and sub["next"] == ["ask"]
    assert sub["checkpoint"]["checkpoint_ns"] == ns
    assert sub["tasks"][0]["interrupts"][0]["value"] == {"question": "which?"}
    done = await client.threads.update_state(tid, {"topic": "bats"}, checkpoint={"checkpoint_ns": ns})
    assert done["checkpoint"]["checkpoint_ns"] == ns
    deep = await client.threads.get_state(tid, subgraphs=True)
    assert deep["tasks"][0]["state"]["values"]["topic"] == "bats" and deep["values"]["topic"] == "owls"
    with pytest.raises(httpx.HTTPStatusError) as info:
        await client.threads.update_state(tid, {"topic": "x"}, as_node="nope", checkpoint={"checkpoint_ns": ns})
    assert info.value.response.status_code == 400
    out = await client.runs.wait(tid, "p_sub", command={"resume": "first"})
    # the subgraph's state (with the update) flows back into the parent; its `log` starts from the parent's
    assert out == {"topic": "bats", "answer": "first", "log": ["prepare", "prepare", "ask", "done"]}


# --- 11. assistant schemas ----------------------------------------------------------------------------------------
async def test_schemas_as_the_graph_declares_them(client: Any) -> None:
    s = await client.assistants.get_schemas("p_output")
    assert s["input_schema"]["properties"] == {"topic": {"title": "Topic", "type": "string"}}
    assert s["output_schema"]["properties"] == {"plan": {"title": "Plan", "type": "string"}}
    assert s["state_schema"]["title"] == "PlanState"
    assert set(s["state_schema"]["properties"]) == {"topic", "plan", "scratch"}
    e = await client.assistants.get_schemas("p_echo")
    fields = {"tone": {"default": "plain", "title": "Tone", "type": "string"},
              "temperature": {"default": 0.0, "title": "Temperature", "type": "number"}}
    assert e["context_schema"]["properties"] == fields and e["context_schema"]["title"] == "EchoContext"
    assert e["config_schema"]["properties"] == fields


async def test_a_whole_number_beyond_64_bits_is_refused(h: httpx.AsyncClient) -> None:
    # jsonb would keep 1e300 as an integer that no JSON answer could carry: every listing would fail
    r = await h.post("/threads", content=b'{"metadata": {"n": 1e300}}', headers={"content-type": "application/json"})
    assert r.status_code == 422 and "metadata.n" in r.json()["detail"]
    r = await h.post("/threads", json={"metadata": {"n": 1.5e300 / 1e290}})
    assert r.status_code == 200
