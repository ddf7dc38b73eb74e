"""Strong interrupts through the SDK and raw HTTP: typed payloads in the stream and the state, each kind
resumed and routed, invalid answers refused (422, still interrupted), resumes of a thread that is not
interrupted refused (409), and of two concurrent resumes exactly one applied."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest


async def collect(stream: Any) -> list[tuple[str, Any]]:
    return [(part.event, part.data) async for part in stream]


@pytest.fixture
async def http(server: Any, keys: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["alice"]}, timeout=60) as c:
        yield c


async def interrupted(
    client: Any, kind: str, modes: list[str] | None = None
) -> tuple[str, list[tuple[str, Any]]]:
    thread = await client.threads.create()
    events = await collect(
        client.runs.stream(
            thread["thread_id"],
            "hitl_kinds",
            input={"kind": kind},
            stream_mode=modes or ["values", "updates", "custom"],
        )
    )
    return thread["thread_id"], events


async def test_typed_interrupt_in_stream_and_state(client: Any) -> None:
    tid, events = await interrupted(client, "approval")
    names = [e for e, _ in events]
    assert names[0] == "metadata" and names[-1] == "end"
    named = [d for e, d in events if e == "interrupt"]
    assert len(named) == 1
    value = named[0]["value"]
    assert (
        value["type"] == "clew.interrupt" and value["kind"] == "approval" and value["message"] == "ship it?"
    )
    assert value["options"] == ["approve", "edit", "reject"]
    assert value["schema"]["required"] == ["decision"] and value["data"] == {"draft": "v1"}
    custom = [d for e, d in events if e == "custom"]
    assert custom == [{"event": "interrupt", "data": named[0]}]
    upd = [d["__interrupt__"] for e, d in events if e == "updates" and "__interrupt__" in d]
    vals = [d["__interrupt__"] for e, d in events if e == "values" and "__interrupt__" in d]
    assert upd and vals and upd[0][0]["value"] == value and upd[0][0]["id"] == named[0]["id"]
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert [i["value"]["kind"] for items in thread["interrupts"].values() for i in items] == ["approval"]
    state = await client.threads.get_state(tid)
    assert state["next"] == ["ask"] and state["interrupts"][0]["value"] == value


async def test_interrupt_event_without_custom_mode(client: Any) -> None:
    _, events = await interrupted(client, "input", ["values"])
    names = [e for e, _ in events]
    assert "interrupt" in names and "custom" not in names
    assert [d for e, d in events if e == "interrupt"][0]["value"]["kind"] == "input"


@pytest.mark.parametrize(
    ("answer", "leaf"),
    [
        ({"decision": "approve"}, "approved"),
        ({"decision": "edit", "edited": "v2", "comment": "tighter"}, "edited"),
        ({"decision": "reject", "comment": "no"}, "rejected"),
    ],
)
async def test_approval_routes(client: Any, answer: dict[str, Any], leaf: str) -> None:
    tid, _ = await interrupted(client, "approval")
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": answer})
    assert result["log"] == ["ask", leaf]
    assert result["answer"]["decision"] == answer["decision"]
    if leaf == "edited":
        assert result["answer"]["edited"] == "v2"
    assert (await client.threads.get(tid))["status"] == "idle"


async def test_input_answer_routes(client: Any) -> None:
    tid, _ = await interrupted(client, "input")
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": {"text": "Ada"}})
    assert result["log"] == ["ask", "answered"] and result["answer"] == "Ada"


@pytest.mark.parametrize("colour", ["red", "blue"])
async def test_selection_routes(client: Any, colour: str) -> None:
    tid, events = await interrupted(client, "selection")
    value = [d for e, d in events if e == "interrupt"][0]["value"]
    assert value["options"] == [{"value": "red", "label": "Red"}, "blue"]
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": {"selected": colour}})
    assert result["log"] == ["ask", colour]


async def test_custom_schema_answer(client: Any, http: httpx.AsyncClient) -> None:
    tid, _ = await interrupted(client, "number")
    r = await http.post(
        f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl_kinds", "command": {"resume": 11}}
    )
    assert r.status_code == 422 and r.json()["error"] == "invalid_resume"
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": 7})
    assert result["answer"] == 7 and result["log"] == ["ask", "numbered"]


@pytest.mark.parametrize(
    "bad",
    [
        {"decision": "maybe"},
        {"decision": "edit"},  # editing needs the edited value
        {"decision": "approve", "extra": 1},
        "approve",
    ],
)
async def test_invalid_answer_422_keeps_thread_interrupted(
    client: Any, http: httpx.AsyncClient, bad: Any
) -> None:
    tid, _ = await interrupted(client, "approval")
    runs_before = await client.runs.list(tid)
    r = await http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "hitl_kinds", "command": {"resume": bad}}
    )
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["error"] == "invalid_resume" and body["detail"] and body["errors"] and body["interrupt_id"]
    thread = await client.threads.get(tid)
    assert thread["status"] == "interrupted"
    assert len(await client.runs.list(tid)) == len(runs_before)
    # and a good answer still applies
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": {"decision": "approve"}})
    assert result["log"] == ["ask", "approved"]


async def test_resume_map_by_interrupt_id(client: Any, http: httpx.AsyncClient) -> None:
    tid, events = await interrupted(client, "input")
    ident = [d for e, d in events if e == "interrupt"][0]["id"]
    r = await http.post(
        f"/threads/{tid}/runs",
        json={"assistant_id": "hitl_kinds", "command": {"resume": {"0" * 32: {"text": "x"}}}},
    )
    assert r.status_code == 422 and "no pending interrupt" in r.json()["detail"]
    r = await http.post(
        f"/threads/{tid}/runs",
        json={"assistant_id": "hitl_kinds", "command": {"resume": {ident: {"text": ""}}}},
    )
    assert r.status_code == 422
    result = await client.runs.wait(tid, "hitl_kinds", command={"resume": {ident: {"text": "Grace"}}})
    assert result["answer"] == "Grace"


async def test_resume_not_interrupted_409(client: Any, http: httpx.AsyncClient) -> None:
    thread = await client.threads.create()
    tid = thread["thread_id"]
    r = await http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "hitl_kinds", "command": {"resume": {"text": "a"}}}
    )
    assert r.status_code == 409 and r.json()["detail"]
    tid, _ = await interrupted(client, "input")
    await client.runs.wait(tid, "hitl_kinds", command={"resume": {"text": "a"}})
    r = await http.post(
        f"/threads/{tid}/runs", json={"assistant_id": "hitl_kinds", "command": {"resume": {"text": "b"}}}
    )
    assert r.status_code == 409
    assert r.json()["error"] == "conflict" and r.json()["thread_status"] == "idle"


async def test_two_concurrent_resumes_exactly_one_applied(client: Any, http: httpx.AsyncClient) -> None:
    for _ in range(3):
        tid, _ = await interrupted(client, "approval")
        before = len(await client.runs.list(tid))
        body_a = {"assistant_id": "hitl_kinds", "command": {"resume": {"decision": "approve"}}}
        body_b = {"assistant_id": "hitl_kinds", "command": {"resume": {"decision": "reject"}}}
        ra, rb = await asyncio.gather(
            http.post(f"/threads/{tid}/runs", json=body_a), http.post(f"/threads/{tid}/runs", json=body_b)
        )
        assert sorted([ra.status_code, rb.status_code]) == [200, 409], (ra.text, rb.text)
        winner = ra if ra.status_code == 200 else rb
        await client.runs.join(tid, winner.json()["run_id"])
        state = await client.threads.get_state(tid)
        assert state["values"]["log"] in (["ask", "approved"], ["ask", "rejected"])
        assert len(await client.runs.list(tid)) == before + 1
        assert (await client.threads.get(tid))["status"] == "idle"


async def test_session_state_and_restore(client: Any, http: httpx.AsyncClient) -> None:
    tid, events = await interrupted(client, "selection")
    r = await http.get(f"/agent/sessions/{tid}/state")
    assert r.status_code == 200
    s = r.json()
    assert s["session_id"] == tid and s["status"] == "interrupted" and s["agent"] == "hitl_kinds"
    assert s["interrupt"]["value"]["kind"] == "selection" and s["current_node"] == "ask"
    assert s["todos"] == [] and s["progress"]["todos_total"] == 0
    r = await http.post(f"/agent/sessions/{tid}/restore", json={"resume_data": {"selected": "green"}})
    assert r.status_code == 422
    r = await http.post(f"/agent/sessions/{tid}/restore", json={})
    assert r.status_code == 422
    r = await http.post(f"/agent/sessions/{tid}/restore", json={"resume_data": {"selected": "blue"}})
    assert r.status_code == 200, r.text
    await client.runs.join(tid, r.json()["run_id"])
    s = (await http.get(f"/agent/sessions/{tid}/state")).json()
    assert s["status"] == "idle" and s["interrupt"] is None and s["values"]["log"] == ["ask", "blue"]
    r = await http.post(f"/agent/sessions/{tid}/restore", json={"resume_data": {"selected": "red"}})
    assert r.status_code == 409


async def test_sessions_of_another_user_are_invisible(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid, _ = await interrupted(client, "input")
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["bob"]}) as bob:
        assert (await bob.get(f"/agent/sessions/{tid}/state")).status_code == 404
        r = await bob.post(f"/agent/sessions/{tid}/restore", json={"resume_data": {"text": "x"}})
        assert r.status_code == 404
        r = await bob.post(
            f"/threads/{tid}/runs", json={"assistant_id": "hitl_kinds", "command": {"resume": {"text": "x"}}}
        )
        assert r.status_code == 404
    assert (await client.threads.get(tid))["status"] == "interrupted"


# --- the schema helpers, without a server ---------------------------------------------------------------
def test_answer_schemas() -> None:
    from engine.interrupts import (
        answer_errors,
        approval_schema,
        check_schema,
        is_resume_map,
        selection_schema,
    )

    appr = approval_schema(edit_schema={"type": "string"})
    assert answer_errors(appr, {"decision": "approve"}) == []
    assert answer_errors(appr, {"decision": "edit", "edited": "x"}) == []
    assert answer_errors(appr, {"decision": "edit"})[0]["message"] == "'edited' is a required property"
    assert answer_errors(appr, {"decision": "edit", "edited": 3})[0]["path"] == "$.edited"
    with pytest.raises(ValueError):
        approval_schema(["approve", "shrug"])
    sel = selection_schema([{"value": 1, "label": "one"}, 2], multiple=True)
    assert answer_errors(sel, {"selected": [1, 2]}) == []
    assert answer_errors(sel, {"selected": []}) and answer_errors(sel, {"selected": [3]})
    with pytest.raises(ValueError, match="invalid answer schema"):
        check_schema({"type": "no-such-type"})
    assert is_resume_map({"0123456789abcdef0123456789abcdef": 1})
    assert not is_resume_map({"decision": "approve"}) and not is_resume_map({}) and not is_resume_map("x")


def test_resume_acceptable_without_a_statement() -> None:
    """What run creation's one-statement path accepts for a resume, from the thread as read: an answer that
    checks out against the pending interrupts; anything check_resume would refuse, and a todo gate (which needs a
    count of the pending todos), go to the general path instead."""
    from engine.interrupts import INTERRUPT_TYPE, approval_schema, resume_acceptable

    approval = {"type": INTERRUPT_TYPE, "kind": "approval", "message": "ok?", "schema": approval_schema()}
    one = {"interrupts": {"t": [{"id": "a" * 32, "value": approval}]}}
    assert resume_acceptable(one, {"decision": "approve"})
    assert not resume_acceptable(one, {"decision": "shrug"})
    assert resume_acceptable(one, {"a" * 32: {"decision": "reject"}})
    assert not resume_acceptable(one, {"b" * 32: {"decision": "reject"}})
    two = {"interrupts": {"t": [{"id": "a" * 32, "value": "plain"}, {"id": "b" * 32, "value": "other"}]}}
    assert not resume_acceptable(two, "x")  # several pending: a map is needed
    assert resume_acceptable(two, {"a" * 32: 1, "b" * 32: 2})
    assert resume_acceptable({"interrupts": {}}, "anything")
    gate = {"interrupts": {"t": [{"id": "c" * 32, "value": {"type": INTERRUPT_TYPE, "kind": "todos", "message": "m", "data": {}}}]}}
    assert not resume_acceptable(gate, None)
