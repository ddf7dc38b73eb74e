"""The store through the official SDK: what is put is read back and found by search, and the store a graph
sees at run time (``get_store()``) is the same store, scoped to the run's user without the graph knowing."""

from __future__ import annotations

from typing import Any

from tests.support.core import http


async def test_put_get_search_through_the_sdk(client: Any, other_client: Any) -> None:
    await client.store.put_item(["docs", "owls"], "k1", {"title": "barn owl", "n": 1})
    await client.store.put_item(["docs", "owls"], "k2", {"title": "snowy owl", "n": 2})
    await client.store.put_item(["docs", "bats"], "k3", {"title": "fruit bat", "n": 1})
    item = await client.store.get_item(["docs", "owls"], "k1")
    assert {k: item[k] for k in ("namespace", "key", "value")} == {
        "namespace": ["docs", "owls"], "key": "k1", "value": {"title": "barn owl", "n": 1}}
    found = await client.store.search_items(["docs"], filter={"n": 1})
    assert sorted((i["namespace"][1], i["key"]) for i in found["items"]) == [("bats", "k3"), ("owls", "k1")]
    found = await client.store.search_items(["docs", "owls"], limit=1, offset=1)
    assert len(found["items"]) == 1
    spaces = await client.store.list_namespaces(prefix=["docs"])
    assert sorted(map(tuple, spaces["namespaces"])) == [("docs", "bats"), ("docs", "owls")]
    # another user sees none of it
    assert (await other_client.store.search_items(["docs"]))["items"] == []
    assert (await other_client.store.list_namespaces(prefix=["docs"]))["namespaces"] == []
    assert await other_client.store.get_item(["docs", "owls"], "k1") is None  # 200 null, as the reference
    await client.store.delete_item(["docs", "owls"], "k2")
    assert await client.store.get_item(["docs", "owls"], "k2") is None


async def test_graph_sees_the_api_store_of_its_user(client: Any, other_client: Any, server: Any,
                                                    keys: dict[str, str]) -> None:
    await client.store.put_item(["notes"], "from-api", {"text": "hello"})
    out = await client.runs.wait(None, "p_memory", input={"write": "from-graph"})
    assert out["found"] == [[["notes"], "from-api", {"text": "hello"}]]  # no user prefix visible to the graph
    item = await client.store.get_item(["notes"], "from-graph")
    assert item["value"] == {"from": "graph"} and item["namespace"] == ["notes"]
    # bob's graph sees bob's store only
    out = await other_client.runs.wait(None, "p_memory", input={"write": "bobs"})
    assert out["found"] == []
    assert [i["key"] for i in (await other_client.store.search_items(["notes"]))["items"]] == ["bobs"]
    assert sorted(i["key"] for i in (await client.store.search_items(["notes"]))["items"]) == [
        "from-api", "from-graph"]
    async with http(server, keys["alice"]) as h:
        r = await h.get("/store/items", params={"namespace": "notes", "key": "from-graph"})
        assert r.status_code == 200 and r.json()["value"] == {"from": "graph"}
