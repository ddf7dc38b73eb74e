"""Bad input gets a 4xx JSON answer whose ``detail`` names the problem, never a 500, and changes nothing.

Every case is sent raw (httpx), so the server sees exactly the malformed bytes; the database's row counts are
compared before and after the whole batch.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from tests.support.core import http, no_active_runs, table_counts

NUL = "bad\u0000value"


@dataclass
class Case:
    name: str
    method: str
    path: str
    json: Any = None
    content: bytes | None = None
    params: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    status: tuple[int, ...] = (422,)
    says: tuple[str, ...] = ()  # words the detail must contain (case-insensitive), any of them


@pytest.fixture(scope="module")
async def world(server: Any, keys: dict[str, str]) -> dict[str, str]:
    from langgraph_sdk import get_client

    c = get_client(url=server.url, api_key=keys["alice"])
    try:
        tid = (await c.threads.create())["thread_id"]
        run = await c.runs.create(tid, "steps3", input={"count": 0})
        await c.runs.join(tid, run["run_id"])
        assistant = await c.assistants.create("steps3", name="errs")
        bare = (await c.threads.create())["thread_id"]  # no run yet: no graph
        return {"tid": tid, "rid": run["run_id"], "aid": assistant["assistant_id"], "bare": bare}
    finally:
        await c.http.client.aclose()


def cases(w: dict[str, str]) -> list[Case]:
    t, r, a, bare = w["tid"], w["rid"], w["aid"], w["bare"]
    unknown = str(uuid.uuid4())
    run = {"assistant_id": "steps3", "input": {"count": 0}}
    return [
        # unreadable or mistyped bodies
        Case("invalid json", "POST", "/threads", content=b'{"metadata": ', says=("json",)),
        Case("invalid json run", "POST", f"/threads/{t}/runs", content=b"{nope}", says=("json",)),
        Case("body is a list", "POST", "/threads", json=[1, 2], says=("body", "dict", "object")),
        Case("text body", "POST", "/threads/search", content=b"hello", headers={"content-type": "text/plain"},
             says=("json", "body", "object", "dict")),
        Case("metadata wrong type", "POST", "/threads", json={"metadata": "x"}, says=("metadata",)),
        Case("if_exists unknown", "POST", "/threads", json={"if_exists": "maybe"}, says=("if_exists",)),
        Case("thread_id not a uuid", "POST", "/threads", json={"thread_id": "abc"}, status=(404, 422),
             says=("thread", "uuid")),
        Case("patch metadata wrong type", "PATCH", f"/threads/{t}", json={"metadata": [1]}, says=("metadata",)),
        Case("metadata with NUL", "POST", "/threads", json={"metadata": {"k": NUL}}, says=("\\u0000", "nul", "null")),
        # runs
        Case("no assistant_id", "POST", f"/threads/{t}/runs", json={"input": {}}, says=("assistant_id",)),
        Case("unknown stream mode", "POST", f"/threads/{t}/runs/stream", json={**run, "stream_mode": "bogus"},
             says=("stream mode", "stream_mode")),
        Case("unknown stream mode in list", "POST", f"/threads/{t}/runs",
             json={**run, "stream_mode": ["values", "nope"]}, says=("stream mode", "stream_mode")),
        Case("stream mode wrong type", "POST", f"/threads/{t}/runs", json={**run, "stream_mode": 3},
             says=("stream_mode",)),
        Case("unknown strategy", "POST", f"/threads/{t}/runs/wait", json={**run, "multitask_strategy": "race"},
             says=("multitask_strategy",)),
        Case("config wrong type", "POST", f"/threads/{t}/runs", json={**run, "config": "x"}, says=("config",)),
        Case("input with a resume of a thread that is not interrupted", "POST", f"/threads/{t}/runs",
             json={**run, "command": {"resume": 1}}, status=(409,), says=("interrupt",)),
        Case("negative after_seconds", "POST", f"/threads/{t}/runs", json={**run, "after_seconds": -1},
             says=("after_seconds",)),
        Case("unknown on_disconnect", "POST", f"/threads/{t}/runs/stream", json={**run, "on_disconnect": "x"},
             says=("on_disconnect",)),
        Case("unknown graph name", "POST", f"/threads/{t}/runs", json={"assistant_id": "nope", "input": {}},
             status=(422,), says=("assistant",)),
        Case("unknown assistant uuid", "POST", f"/threads/{t}/runs/wait",
             json={"assistant_id": unknown, "input": {}}, status=(404,), says=("assistant",)),
        Case("unknown assistant stateless", "POST", "/runs/wait", json={"assistant_id": "nope", "input": {}},
             status=(422,), says=("assistant",)),
        Case("run on unknown thread", "POST", f"/threads/{unknown}/runs", json=run, status=(404,),
             says=("thread",)),
        Case("run on non-uuid thread", "POST", "/threads/xyz/runs/stream", json=run, status=(404, 422),
             says=("thread",)),
        Case("resume a thread that is not interrupted", "POST", f"/threads/{t}/runs",
             json={"assistant_id": "steps3", "command": {"resume": "yes"}}, status=(409,), says=("interrupt",)),
        Case("input with NUL", "POST", f"/threads/{t}/runs", json={**run, "input": {"count": 0, "x": NUL}},
             says=("\\u0000", "nul", "null")),
        Case("interrupt_before unknown node", "POST", f"/threads/{t}/runs",
             json={**run, "interrupt_before": ["nope"]}, says=("nope", "interrupt_before")),
        Case("checkpoint_id unknown", "POST", f"/threads/{t}/runs",
             json={**run, "checkpoint_id": "1ef00000-0000-6000-8000-000000000000"}, status=(404, 422),
             says=("checkpoint",)),
        Case("unknown run", "GET", f"/threads/{t}/runs/{unknown}", status=(404,), says=("run",)),
        Case("non-uuid run", "GET", f"/threads/{t}/runs/nope", status=(404, 422), says=("run",)),
        Case("join unknown run", "GET", f"/threads/{t}/runs/{unknown}/join", status=(404,), says=("run",)),
        Case("stream unknown run", "GET", f"/threads/{t}/runs/{unknown}/stream", status=(404,), says=("run",)),
        Case("cancel unknown run", "POST", f"/threads/{t}/runs/{unknown}/cancel", status=(404,), says=("run",)),
        Case("cancel finished run", "POST", f"/threads/{t}/runs/{r}/cancel", status=(409,), says=("not active",)),
        Case("cancel bad action", "POST", f"/threads/{t}/runs/{r}/cancel", params={"action": "explode"},
             says=("action",)),
        Case("cancel many invalid json", "POST", "/runs/cancel", content=b"{", says=("json",)),
        Case("cancel many wrong shape", "POST", "/runs/cancel", json=[1], says=("body", "dict", "object")),
        Case("cancel many bad ids", "POST", "/runs/cancel", json={"thread_id": t, "run_ids": "x"},
             says=("run_ids",)),
        Case("list runs limit 0", "GET", f"/threads/{t}/runs", params={"limit": 0}, says=("limit",)),
        Case("list runs limit text", "GET", f"/threads/{t}/runs", params={"limit": "many"}, says=("limit",)),
        # threads
        Case("unknown thread", "GET", f"/threads/{unknown}", status=(404,), says=("thread",)),
        Case("non-uuid thread", "GET", "/threads/42", status=(404, 422), says=("thread",)),
        Case("search limit 0", "POST", "/threads/search", json={"limit": 0}, says=("limit",)),
        Case("search limit huge", "POST", "/threads/search", json={"limit": 100000}, says=("limit",)),
        Case("search offset negative", "POST", "/threads/search", json={"offset": -1}, says=("offset",)),
        Case("search offset overflow", "POST", "/threads/search", json={"offset": 10**30}, says=("offset",)),
        Case("search status unknown", "POST", "/threads/search", json={"status": "sleepy"}, says=("status",)),
        Case("search sort unknown", "POST", "/threads/search", json={"sort_by": "user_id"}, says=("sort_by",)),
        Case("search ids not uuids", "POST", "/threads/search", json={"ids": ["x"]}, says=("ids", "uuid")),
        Case("count status unknown", "POST", "/threads/count", json={"status": 1}, says=("status",)),
        Case("history limit 0", "POST", f"/threads/{t}/history", json={"limit": 0}, says=("limit",)),
        Case("history GET limit negative", "GET", f"/threads/{t}/history", params={"limit": -1}, says=("limit",)),
        Case("history GET limit huge", "GET", f"/threads/{t}/history", params={"limit": 10**9}, says=("limit",)),
        Case("state of unknown checkpoint", "GET", f"/threads/{t}/state/1ef00000-0000-6000-8000-000000000000",
             status=(404,), says=("checkpoint",)),
        Case("state update on unknown thread", "POST", f"/threads/{unknown}/state", json={"values": {"count": 1}},
             status=(404,), says=("thread",)),
        Case("state update unknown node", "POST", f"/threads/{t}/state",
             json={"values": {"count": 1}, "as_node": "nope"}, status=(400,), says=("nope", "node")),
        Case("state update unknown key", "POST", f"/threads/{t}/state",
             json={"values": {"no_such_channel": 1}}, status=(422,), says=("no_such_channel",)),
        Case("state update on thread without graph", "POST", f"/threads/{bare}/state",
             json={"values": {"count": 1}}, status=(409,), says=("graph",)),
        Case("copy unknown thread", "POST", f"/threads/{unknown}/copy", status=(404,), says=("thread",)),
        Case("delete unknown thread", "DELETE", f"/threads/{unknown}", status=(404,), says=("thread",)),
        # assistants
        Case("assistant unknown graph", "POST", "/assistants", json={"graph_id": "nope"}, says=("graph",)),
        Case("assistant bad id", "POST", "/assistants", json={"graph_id": "steps3", "assistant_id": "x"},
             says=("assistant_id",)),
        Case("assistant config wrong type", "POST", "/assistants", json={"graph_id": "steps3", "config": 1},
             says=("config",)),
        Case("assistant unknown", "GET", f"/assistants/{unknown}", status=(404,), says=("assistant",)),
        Case("assistant patch unknown graph", "PATCH", f"/assistants/{a}", json={"graph_id": "nope"},
             says=("graph",)),
        Case("assistant latest 0", "POST", f"/assistants/{a}/latest", json={"version": 0}, says=("version",)),
        Case("assistant latest missing", "POST", f"/assistants/{a}/latest", json={"version": 99}, status=(404,),
             says=("version",)),
        Case("assistant search sort unknown", "POST", "/assistants/search", json={"sort_by": "x; drop"},
             says=("sort_by",)),
        Case("assistant versions limit", "POST", f"/assistants/{a}/versions", json={"limit": 0}, says=("limit",)),
        Case("system assistant patch", "PATCH", "/assistants/steps3", json={"name": "x"}, status=(403, 409),
             says=("system",)),
        # store
        Case("store put empty namespace", "PUT", "/store/items", json={"namespace": [], "key": "k", "value": {}},
             says=("namespace",)),
        Case("store put dotted label", "PUT", "/store/items", json={"namespace": ["a.b"], "key": "k", "value": {}},
             says=("namespace",)),
        Case("store put value not object", "PUT", "/store/items",
             json={"namespace": ["a"], "key": "k", "value": [1]}, says=("value",)),
        Case("store put NUL", "PUT", "/store/items", json={"namespace": ["a"], "key": "k", "value": {"v": NUL}},
             says=("\\u0000", "nul", "null")),
        Case("store get missing key param", "GET", "/store/items", params={"namespace": "a"}, says=("key",)),
        Case("store get bad namespace json", "GET", "/store/items", params={"namespace": "[bad", "key": "k"},
             says=("namespace",)),
        Case("store search limit", "POST", "/store/items/search", json={"limit": 0}, says=("limit",)),
        Case("store namespaces depth", "POST", "/store/namespaces", json={"max_depth": 0}, says=("max_depth",)),
    ]


async def test_bad_input_is_4xx_json_and_writes_nothing(server: Any, keys: dict[str, str], db_url: str,
                                                        world: dict[str, str]) -> None:
    await no_active_runs(db_url)
    before = await table_counts(db_url)
    problems: list[str] = []
    async with http(server, keys["alice"]) as h:
        for case in cases(world):
            kwargs: dict[str, Any] = {"params": case.params, "headers": case.headers}
            if case.content is not None:
                kwargs["content"] = case.content
                kwargs["headers"] = {"content-type": "application/json", **case.headers}
            elif case.json is not None:
                kwargs["json"] = case.json
            try:
                r = await h.request(case.method, case.path, **kwargs)
            except httpx.HTTPError as exc:
                problems.append(f"{case.name}: {case.method} {case.path} -> {exc!r}")
                continue
            where = f"{case.name}: {case.method} {case.path} -> {r.status_code} {r.text[:300]}"
            if r.status_code not in case.status:
                problems.append(where)
                continue
            if not r.headers.get("content-type", "").startswith("application/json"):
                problems.append(where + " (not JSON)")
                continue
            detail = str(r.json().get("detail", "")).lower()
            if case.says and not any(w.lower() in detail for w in case.says):
                problems.append(where + f" (detail should name one of {case.says})")
    await no_active_runs(db_url)
    after = await table_counts(db_url)
    assert not problems, "\n".join(problems)
    assert after == before, "a rejected request wrote something"


async def test_delete_active_run_conflicts(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    run = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 0.5})
    async with http(server, keys["alice"]) as h:
        r = await h.delete(f"/threads/{tid}/runs/{run['run_id']}")
        assert r.status_code == 409 and "active" in r.json()["detail"]
        r = await h.delete(f"/threads/{tid}")
        assert r.status_code == 409 and "active" in r.json()["detail"]
    await client.runs.join(tid, run["run_id"])
    await client.runs.delete(tid, run["run_id"])
    assert await client.runs.list(tid) == []
