"""Resume with the body the JS SDK sends: ``useStream`` (and so agent-chat-ui) posts ``"input": {}`` together
with ``"command": {"resume": …}``; the command wins and the input is ignored, as the reference server does."""

from __future__ import annotations

import json
from typing import Any

from tests.support.core import http, sse_events


async def test_js_sdk_resume_body(client: Any, server: Any, keys: dict[str, str]) -> None:
    tid = (await client.threads.create())["thread_id"]
    first = await client.runs.wait(tid, "approval", input={"topic": "owls"})
    assert first["__interrupt__"][0]["value"] == {"question": "approve?", "plan": "plan for owls"}
    assert (await client.threads.get(tid))["status"] == "interrupted"
    # the exact body @langchain/langgraph-sdk's useStream().submit({}, {command: {resume}}) sends
    body = {
        "input": {},
        "command": {"resume": "yes"},
        "stream_mode": ["values", "messages-tuple", "updates", "custom"],
        "stream_subgraphs": True,
        "stream_resumable": True,
        "assistant_id": "approval",
        "on_disconnect": "continue",
    }
    async with http(server, keys["alice"]) as h, h.stream("POST", f"/threads/{tid}/runs/stream", json=body) as r:
        assert r.status_code == 200, await r.aread()
        events = await sse_events(r)
    names = [e for _, e, _ in events]
    assert names == ["metadata", "values", "updates", "values", "updates", "values", "end"], names
    datas = [json.loads(d) for _, _, d in events]
    assert datas[2] == {"ask": {"decision": "yes", "log": ["ask"]}}
    assert datas[4] == {"finish": {"log": ["finish"]}}
    assert datas[5] == {"topic": "owls", "plan": "plan for owls", "decision": "yes", "log": ["plan", "ask", "finish"]}
    thread = await client.threads.get(tid)
    assert thread["status"] == "idle" and thread["values"]["decision"] == "yes"


async def test_command_wins_over_a_nonempty_input(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    await client.runs.wait(tid, "approval", input={"topic": "owls"})
    out = await client.runs.wait(tid, "approval", input={"topic": "ignored"}, command={"resume": "no"})
    assert out == {"topic": "owls", "plan": "plan for owls", "decision": "no", "log": ["plan", "ask", "finish"]}
