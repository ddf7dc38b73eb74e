"""Assistants, threads, store and system routes through the official SDK (raw httpx where it has no call)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from engine.graphs import system_assistant_id
from tests.support.core import http, status_of


# --- system ------------------------------------------------------------------------------------------------
async def test_ok_info_docs_openapi(server: Any) -> None:
    async with http(server, None) as h:
        assert (await h.get("/ok")).json() == {"ok": True}
        info = (await h.get("/info")).json()
        assert info["version"] and info["langgraph_py_version"] and "steps3" in info["graphs"]
        assert info["flags"]["assistants"] is True and info["flags"]["store"] is True
        docs = await h.get("/docs")
        assert docs.status_code == 200 and "swagger" in docs.text.lower()
        spec = (await h.get("/openapi.json")).json()
        for path in ("/threads", "/threads/{thread_id}/runs/stream", "/assistants/search", "/store/items",
                     "/threads/{thread_id}/runs/{run_id}/cancel", "/runs/wait"):
            assert path in spec["paths"], path


# --- assistants --------------------------------------------------------------------------------------------
async def test_system_assistants(client: Any) -> None:
    a = await client.assistants.get("steps3")
    assert a["assistant_id"] == system_assistant_id("steps3")
    assert a["assistant_id"] == str(uuid.uuid5(uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8"), "steps3"))
    assert (await client.assistants.get(a["assistant_id"]))["graph_id"] == "steps3"
    found = await client.assistants.search(graph_id="steps3", metadata={"created_by": "system"})
    assert [x["assistant_id"] for x in found] == [a["assistant_id"]]


async def test_assistant_crud_and_versions(client: Any) -> None:
    a = await client.assistants.create("steps3", config={"recursion_limit": 30}, context={"k": 1},
                                       metadata={"team": "red"}, name="preset one", description="d")
    aid = a["assistant_id"]
    assert a["version"] == 1 and a["name"] == "preset one" and a["context"] == {"k": 1}
    same = await client.assistants.create("steps3", assistant_id=aid, if_exists="do_nothing")
    assert same["assistant_id"] == aid and same["version"] == 1
    assert await status_of(client.assistants.create("steps3", assistant_id=aid)) == 409

    b = await client.assistants.update(aid, metadata={"stage": "2"}, name="preset two")
    assert b["version"] == 2 and b["name"] == "preset two" and b["metadata"] == {"team": "red", "stage": "2"}
    c = await client.assistants.update(aid, context={"k": 3})
    assert c["version"] == 3 and c["context"] == {"k": 3} and c["name"] == "preset two"

    versions = await client.assistants.get_versions(aid)
    assert [v["version"] for v in versions] == [3, 2, 1]
    assert [v["name"] for v in versions] == ["preset two", "preset two", "preset one"]
    assert [v["version"] for v in await client.assistants.get_versions(aid, metadata={"stage": "2"})] == [3, 2]

    back = await client.assistants.set_latest(aid, 1)
    assert back["version"] == 1 and back["name"] == "preset one" and back["context"] == {"k": 1}
    assert (await client.assistants.get(aid))["version"] == 1

    assert aid in [x["assistant_id"] for x in await client.assistants.search(metadata={"team": "red"})]
    assert aid in [x["assistant_id"] for x in await client.assistants.search(name="preset")]
    n = await client.assistants.count(graph_id="steps3", metadata={"team": "red"})
    assert n >= 1
    page = await client.assistants.search(graph_id="steps3", limit=1, offset=0, sort_by="created_at",
                                          sort_order="asc")
    assert len(page) == 1

    # a run through the assistant uses its graph and config
    tid = (await client.threads.create())["thread_id"]
    out = await client.runs.wait(tid, aid, input={"count": 0})
    assert out["count"] == 3
    assert (await client.threads.get(tid))["metadata"]["assistant_id"] == aid

    await client.assistants.delete(aid)
    assert await status_of(client.assistants.get(aid)) == 404
    # system assistants cannot change
    assert await status_of(client.assistants.delete("steps3")) in (403, 409)


async def test_assistant_graph_schemas_subgraphs(client: Any) -> None:
    g = await client.assistants.get_graph("steps3")
    ids = {n["id"] for n in g["nodes"]}
    assert {"n1", "n2", "n3"} <= ids
    assert {(e["source"], e["target"]) for e in g["edges"]} >= {("n1", "n2"), ("n2", "n3")}
    schemas = await client.assistants.get_schemas("steps3")
    assert schemas["graph_id"] == "steps3"
    assert "count" in schemas["input_schema"]["properties"]
    assert "count" in schemas["state_schema"]["properties"]
    subs = await client.assistants.get_subgraphs("nested")
    assert list(subs) == ["child"]
    assert "note" in subs["child"]["state_schema"]["properties"]
    assert await client.assistants.get_subgraphs("steps3") == {}
    xray = await client.assistants.get_graph("nested", xray=True)
    assert any("inner" in n["id"] for n in xray["nodes"])


# --- threads -----------------------------------------------------------------------------------------------
async def test_thread_crud_search_count(client: Any) -> None:
    tag = uuid.uuid4().hex
    t1 = await client.threads.create(metadata={"tag": tag, "n": 1})
    given = str(uuid.uuid4())
    t2 = await client.threads.create(thread_id=given, metadata={"tag": tag, "n": 2})
    assert t2["thread_id"] == given and t2["status"] == "idle"
    assert (await client.threads.create(thread_id=given, if_exists="do_nothing"))["thread_id"] == given
    assert await status_of(client.threads.create(thread_id=given)) == 409

    got = await client.threads.get(t1["thread_id"])
    assert got["metadata"] == {"tag": tag, "n": 1} and got["values"] is None
    upd = await client.threads.update(t1["thread_id"], metadata={"extra": True})
    assert upd["metadata"] == {"tag": tag, "n": 1, "extra": True}

    found = await client.threads.search(metadata={"tag": tag}, sort_by="created_at", sort_order="asc")
    assert [t["thread_id"] for t in found] == [t1["thread_id"], given]
    assert [t["thread_id"] for t in await client.threads.search(metadata={"tag": tag}, limit=1, offset=1,
                                                               sort_order="asc")] == [given]
    assert await client.threads.count(metadata={"tag": tag}) == 2
    assert await client.threads.count(metadata={"tag": tag}, status="busy") == 0
    assert [t["thread_id"] for t in await client.threads.search(ids=[given])] == [given]

    await client.runs.wait(given, "steps3", input={"count": 0})
    stamped = await client.threads.get(given)
    assert stamped["metadata"]["graph_id"] == "steps3"
    assert stamped["metadata"]["assistant_id"] == system_assistant_id("steps3")
    assert stamped["values"]["count"] == 3
    assert [t["thread_id"] for t in await client.threads.search(metadata={"tag": tag}, status="idle",
                                                               values={"count": 3})] == [given]

    await client.threads.delete(t1["thread_id"])
    assert await status_of(client.threads.get(t1["thread_id"])) == 404
    assert await client.threads.count(metadata={"tag": tag}) == 1


async def test_thread_state_history_update_copy(client: Any, db_url: str) -> None:
    tid = (await client.threads.create())["thread_id"]
    empty = await client.threads.get_state(tid)
    assert empty["values"] == {} and empty["next"] == []
    assert await client.threads.get_history(tid) == []

    await client.runs.wait(tid, "steps3", input={"count": 0})
    state = await client.threads.get_state(tid)
    assert state["values"]["count"] == 3 and state["next"] == []
    history = await client.threads.get_history(tid, limit=100)
    assert history[0]["checkpoint"]["checkpoint_id"] == state["checkpoint"]["checkpoint_id"]
    assert [h["values"].get("count") for h in history[:4]] == [3, 2, 1, 0]
    assert len(await client.threads.get_history(tid, limit=2)) == 2
    older = await client.threads.get_history(tid, limit=100, before={"configurable": history[1]["checkpoint"]})
    assert older[0]["checkpoint"]["checkpoint_id"] == history[2]["checkpoint"]["checkpoint_id"]
    at = await client.threads.get_state(tid, checkpoint_id=history[2]["checkpoint"]["checkpoint_id"])
    assert at["values"]["count"] == 1 and at["next"] == ["n2"]

    # update_state makes a new checkpoint as if a node wrote it
    res = await client.threads.update_state(tid, {"count": 40}, as_node="n3")
    assert res["checkpoint"]["checkpoint_id"] != state["checkpoint"]["checkpoint_id"]
    after = await client.threads.get_state(tid)
    assert after["values"]["count"] == 40 and after["values"]["log"] == ["n1", "n2", "n3"]
    assert (await client.threads.get(tid))["values"]["count"] == 40
    out = await client.runs.wait(tid, "steps3", input={})
    assert out["count"] == 43

    # copy: same state and history under a new id, independent from then on
    copy = await client.threads.copy(tid)
    assert copy["thread_id"] != tid
    assert (await client.threads.get_state(copy["thread_id"]))["values"] == (await client.threads.get_state(tid))[
        "values"]
    assert len(await client.threads.get_history(copy["thread_id"], limit=100)) == len(
        await client.threads.get_history(tid, limit=100))
    await client.runs.wait(copy["thread_id"], "steps3", input={})
    assert (await client.threads.get_state(copy["thread_id"]))["values"]["count"] == 46
    assert (await client.threads.get_state(tid))["values"]["count"] == 43


async def test_thread_status_follows_runs(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 0.3})
    assert (await client.threads.get(tid))["status"] == "busy"
    await client.runs.join(tid, run["run_id"])
    assert (await client.threads.get(tid))["status"] == "idle"
    await client.runs.wait(tid, "approval", input={"topic": "x"})
    t = await client.threads.get(tid)
    assert t["status"] == "interrupted" and t["interrupts"]
    failed = await client.runs.create(tid, "steps3", input={"fail": True}, multitask_strategy="enqueue")
    await client.runs.join(tid, failed["run_id"])
    assert (await client.runs.get(tid, failed["run_id"]))["status"] == "error"
    assert (await client.threads.get(tid))["status"] == "error"


# --- store -------------------------------------------------------------------------------------------------
async def test_store_put_get_search_namespaces_delete(client: Any, server: Any, keys: dict[str, str]) -> None:
    root = f"mem-{uuid.uuid4().hex[:8]}"
    await client.store.put_item([root, "profile"], key="a", value={"lang": "en", "n": 1})
    await client.store.put_item([root, "profile"], key="b", value={"lang": "de", "n": 2})
    await client.store.put_item([root, "facts"], key="c", value={"lang": "en", "n": 3})
    item = await client.store.get_item([root, "profile"], key="a")
    assert item["value"] == {"lang": "en", "n": 1} and item["namespace"] == [root, "profile"] and item["key"] == "a"
    await client.store.put_item([root, "profile"], key="a", value={"lang": "fr", "n": 1})
    assert (await client.store.get_item([root, "profile"], key="a"))["value"]["lang"] == "fr"

    found = await client.store.search_items([root])
    assert sorted(i["key"] for i in found["items"]) == ["a", "b", "c"]
    assert [i["key"] for i in (await client.store.search_items([root], filter={"lang": "en"}))["items"]] == ["c"]
    assert len((await client.store.search_items([root], limit=2))["items"]) == 2

    spaces = (await client.store.list_namespaces(prefix=[root]))["namespaces"]
    assert sorted(spaces) == [[root, "facts"], [root, "profile"]]
    assert (await client.store.list_namespaces(prefix=[root], max_depth=1))["namespaces"] == [[root]]

    # the JSON-list form of the namespace query parameter works too
    async with http(server, keys["alice"]) as h:
        r = await h.get("/store/items", params={"namespace": f'["{root}", "facts"]', "key": "c"})
        assert r.status_code == 200 and r.json()["value"]["n"] == 3

    await client.store.delete_item([root, "profile"], key="b")
    assert await client.store.get_item([root, "profile"], key="b") is None  # 200 null, as the reference
    assert sorted(i["key"] for i in (await client.store.search_items([root]))["items"]) == ["a", "c"]


@pytest.mark.parametrize("graph", ["steps3", "chat"])
async def test_stateless_runs(client: Any, graph: str) -> None:
    payload = {"count": 0} if graph == "steps3" else {"messages": [{"role": "user", "content": "hi"}]}
    out = await client.runs.wait(None, graph, input=payload)
    assert out
    parts = [p.event async for p in client.runs.stream(None, graph, input=payload)]
    assert parts[0] == "metadata" and parts[-1] == "end"
