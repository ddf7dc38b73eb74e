"""Identity and ownership: another user's thread, run, assistant and store item do not exist for you.

Alice owns the resources; Bob tries every route on them. Each attempt must answer exactly as it would for an id
that exists nowhere (404, never 403: a 403 would leak that the id exists), list nothing, and change nothing.
Requests without credentials, or with wrong ones, get 401 with a JSON body on every route.
"""

from __future__ import annotations

import re
import uuid
from typing import Any

import httpx
import pytest

from tests.support.core import http, status_of

PUBLIC = {"/ok", "/info", "/docs", "/openapi.json", "/redoc", "/docs/oauth2-redirect", "/ready",
          # signing in needs no credentials (api/routers/accounts.py)
          "/api/v1/auth/register", "/api/v1/auth/login", "/api/v1/auth/refresh", "/api/v1/auth/logout"}


async def drain_status(stream: Any) -> int:
    try:
        async for _ in stream:
            pass
    except httpx.HTTPStatusError as exc:
        return exc.response.status_code
    return 200


@pytest.fixture(scope="module")
async def alice_world(server: Any, keys: dict[str, str]) -> dict[str, Any]:
    """Alice's thread (with a finished run), her own assistant (two versions) and a store item."""
    from langgraph_sdk import get_client

    c = get_client(url=server.url, api_key=keys["alice"])
    try:
        thread = await c.threads.create(metadata={"owner": "alice-secret"})
        tid = thread["thread_id"]
        run = await c.runs.create(tid, "steps3", input={"count": 0})
        await c.runs.join(tid, run["run_id"])
        assistant = await c.assistants.create("steps3", name="alice-preset", metadata={"owner": "alice-secret"})
        await c.assistants.update(assistant["assistant_id"], metadata={"v": 2})
        await c.store.put_item(["alice-notes"], key="k1", value={"secret": 1})
        state = await c.threads.get_state(tid)
        return {
            "thread_id": tid,
            "run_id": run["run_id"],
            "assistant_id": assistant["assistant_id"],
            "checkpoint_id": state["checkpoint"]["checkpoint_id"],
            "state": state,
        }
    finally:
        await c.http.client.aclose()


async def test_threads_invisible(client: Any, other_client: Any, alice_world: dict[str, Any]) -> None:
    tid, cp = alice_world["thread_id"], alice_world["checkpoint_id"]
    bob = other_client
    calls = {
        "get": bob.threads.get(tid),
        "update": bob.threads.update(tid, metadata={"x": 1}),
        "delete": bob.threads.delete(tid),
        "state": bob.threads.get_state(tid),
        "state_at": bob.threads.get_state(tid, checkpoint_id=cp),
        "state_checkpoint": bob.threads.get_state(tid, checkpoint={"checkpoint_id": cp}),
        "update_state": bob.threads.update_state(tid, {"count": 99}),
        "history": bob.threads.get_history(tid),
        "copy": bob.threads.copy(tid),
    }
    for name, call in calls.items():
        assert await status_of(call) == 404, name
    assert tid not in [t["thread_id"] for t in await bob.threads.search(limit=1000)]
    assert await bob.threads.search(metadata={"owner": "alice-secret"}) == []
    assert await bob.threads.search(ids=[tid]) == []
    assert await bob.threads.count(metadata={"owner": "alice-secret"}) == 0
    # Alice's thread is untouched
    t = await client.threads.get(tid)
    assert t["metadata"]["owner"] == "alice-secret" and "x" not in t["metadata"]
    assert await client.threads.get_state(tid) == alice_world["state"]


async def test_runs_invisible(client: Any, other_client: Any, alice_world: dict[str, Any]) -> None:
    tid, rid = alice_world["thread_id"], alice_world["run_id"]
    bob = other_client
    own = (await bob.threads.create())["thread_id"]
    calls = {
        "create": bob.runs.create(tid, "steps3", input={}),
        "create_if_not_exists": bob.runs.create(tid, "steps3", input={}, if_not_exists="create"),
        "wait": bob.runs.wait(tid, "steps3", input={}),
        "list": bob.runs.list(tid),
        "get": bob.runs.get(tid, rid),
        "get_via_own_thread": bob.runs.get(own, rid),
        "join": bob.runs.join(tid, rid),
        "join_via_own_thread": bob.runs.join(own, rid),
        "cancel": bob.runs.cancel(tid, rid),
        "cancel_via_own_thread": bob.runs.cancel(own, rid, action="rollback"),
        "cancel_many": bob.runs.cancel_many(thread_id=tid, run_ids=[rid]),
        "delete": bob.runs.delete(tid, rid),
        "delete_via_own_thread": bob.runs.delete(own, rid),
    }
    for name, call in calls.items():
        assert await status_of(call) == 404, name
    assert await drain_status(bob.runs.stream(tid, "steps3", input={})) == 404
    assert await drain_status(bob.runs.join_stream(tid, rid)) == 404
    assert await drain_status(bob.runs.join_stream(own, rid, last_event_id="-1")) == 404
    # nothing of Alice's changed hands
    assert (await client.threads.get(tid))["metadata"]["owner"] == "alice-secret"
    runs = await client.runs.list(tid)
    assert [r["run_id"] for r in runs] == [rid] and runs[0]["status"] == "success"


async def test_assistants_invisible(client: Any, other_client: Any, alice_world: dict[str, Any]) -> None:
    aid = alice_world["assistant_id"]
    bob = other_client
    calls = {
        "get": bob.assistants.get(aid),
        "update": bob.assistants.update(aid, metadata={"x": 1}),
        "delete": bob.assistants.delete(aid),
        "graph": bob.assistants.get_graph(aid),
        "schemas": bob.assistants.get_schemas(aid),
        "subgraphs": bob.assistants.get_subgraphs(aid),
        "versions": bob.assistants.get_versions(aid),
        "latest": bob.assistants.set_latest(aid, 1),
    }
    for name, call in calls.items():
        assert await status_of(call) == 404, name
    own = (await bob.threads.create())["thread_id"]
    assert await status_of(bob.runs.create(own, aid, input={})) == 404
    assert await status_of(bob.runs.wait(None, aid, input={})) == 404
    assert aid not in [a["assistant_id"] for a in await bob.assistants.search(limit=1000)]
    assert await bob.assistants.search(metadata={"owner": "alice-secret"}) == []
    assert await bob.assistants.count(metadata={"owner": "alice-secret"}) == 0
    mine = await client.assistants.get(aid)
    assert mine["version"] == 2 and "x" not in mine["metadata"]
    # system assistants stay visible to everyone
    assert (await bob.assistants.get("steps3"))["graph_id"] == "steps3"


async def test_store_invisible(client: Any, other_client: Any, alice_world: dict[str, Any]) -> None:
    bob = other_client
    assert await bob.store.get_item(["alice-notes"], key="k1") is None  # not found for bob (200 null)
    assert (await bob.store.search_items(["alice-notes"]))["items"] == []
    assert (await bob.store.search_items([]))["items"] == [] or all(
        i["namespace"] != ["alice-notes"] for i in (await bob.store.search_items([]))["items"])
    assert ["alice-notes"] not in (await bob.store.list_namespaces())["namespaces"]
    await bob.store.delete_item(["alice-notes"], key="k1")  # deletes nothing of Alice's
    await bob.store.put_item(["alice-notes"], key="k1", value={"bob": True})  # Bob's own, separate item
    assert (await client.store.get_item(["alice-notes"], key="k1"))["value"] == {"secret": 1}
    assert (await bob.store.get_item(["alice-notes"], key="k1"))["value"] == {"bob": True}
    await bob.store.delete_item(["alice-notes"], key="k1")
    assert (await client.store.get_item(["alice-notes"], key="k1"))["value"] == {"secret": 1}


def _fill(path: str, ids: dict[str, str], default: str = "\x00") -> str | None:
    def sub(m: re.Match[str]) -> str:
        return ids.get(m.group(1), default)

    out = re.sub(r"\{(\w+)\}", sub, path)
    return None if "\x00" in out else out


BODY = {"assistant_id": "steps3", "input": {}, "values": {"count": 1}, "metadata": {"x": 1}, "version": 1,
        "limit": 10}


async def test_every_route_answers_like_an_unknown_id(server: Any, keys: dict[str, str],
                                                      alice_world: dict[str, Any]) -> None:
    """A sweep over the OpenAPI document: Bob on Alice's ids gets what anyone gets on ids that exist nowhere."""
    async with http(server, keys["bob"]) as bob:
        spec = (await bob.get("/openapi.json")).json()
        alice_ids = {k: str(alice_world[k]) for k in ("thread_id", "run_id", "assistant_id", "checkpoint_id")}
        alice_ids["namespace"] = "child"
        nowhere = {k: str(uuid.uuid4()) for k in ("thread_id", "run_id", "assistant_id")}
        nowhere["checkpoint_id"] = alice_ids["checkpoint_id"]
        nowhere["namespace"] = "child"
        checked = 0
        for path, ops in spec["paths"].items():
            if not any(f"{{{k}}}" in path for k in ("thread_id", "run_id", "assistant_id")):
                continue
            target, control = _fill(path, alice_ids), _fill(path, nowhere)
            if target is None or control is None:
                continue  # ids of resources this file does not create (todos, documents)
            for method in ops:
                answers = []
                for url in (target, control):
                    async with bob.stream(method.upper(), url, json=BODY if method != "get" else None) as r:
                        await r.aread()
                        body = r.json() if r.headers.get("content-type", "").startswith("application/json") else None
                        answers.append((r.status_code, (body or {}).get("error")))
                (status, code), control_answer = answers
                assert status not in (200, 201, 202, 204, 403) and status < 500, (method, path, answers)
                assert (status, code) == control_answer, (method, path, answers)
                checked += 1
        assert checked >= 25


async def test_missing_or_wrong_credentials_are_401_json(server: Any, alice_world: dict[str, Any]) -> None:
    tid = alice_world["thread_id"]
    async with http(server, None) as anon:
        spec = (await anon.get("/openapi.json")).json()
        assert (await anon.get("/ok")).status_code == 200
        assert (await anon.get("/info")).status_code == 200
        ids = {"thread_id": tid, "run_id": alice_world["run_id"], "assistant_id": alice_world["assistant_id"],
               "checkpoint_id": alice_world["checkpoint_id"], "namespace": "x", "todo_id": str(uuid.uuid4()),
               "document_id": str(uuid.uuid4())}
        variants = [{}, {"x-api-key": "clew_not-a-real-key"}, {"Authorization": "Bearer clew_nope"},
                    {"Authorization": "Bearer not-a-jwt"}, {"Authorization": "Basic YWxpY2U6eA=="}]
        checked = 0
        for path, ops in spec["paths"].items():
            if path in PUBLIC:
                continue
            url = _fill(path, ids, default="x")
            assert url is not None, path
            for method in ops:
                for headers in variants:
                    r = await anon.request(method.upper(), url, headers=headers,
                                           json=BODY if method != "get" else None)
                    assert r.status_code == 401, (method, path, headers, r.status_code, r.text[:200])
                    assert r.headers["content-type"].startswith("application/json")
                    assert r.json()["detail"], (method, path)
                    checked += 1
        assert checked > 100
