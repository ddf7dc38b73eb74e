"""Stream modes as the reference server sends them: ``messages`` (``messages/metadata``, ``messages/partial``
with the message so far, ``messages/complete`` for a message that arrives whole) next to ``messages-tuple``,
and ``debug`` checkpoints carrying ``checkpoint`` and ``tasks``."""

from __future__ import annotations

from typing import Any

HI = {"messages": [{"role": "user", "content": "hi", "id": "h1"}]}


async def test_messages_mode(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    events = [(p.event, p.data) async for p in client.runs.stream(tid, "p_talk", input=HI, stream_mode=["messages"])]
    names = [e for e, _ in events]
    assert names == ["metadata", "messages/metadata", *["messages/partial"] * 5, "messages/metadata",
                     "messages/complete", "end"], names
    streamed_id = next(iter(events[1][1]))
    assert events[1][1][streamed_id]["metadata"]["langgraph_node"] == "reply"
    partials = [d[0] for e, d in events if e == "messages/partial"]
    assert [m["content"] for m in partials] == ["hello", "hello ", "hello big", "hello big ", "hello big world"]
    assert {m["id"] for m in partials} == {streamed_id} and {m["type"] for m in partials} == {"ai"}
    assert list(events[7][1]) == ["ai-2"] and events[7][1]["ai-2"]["metadata"]["langgraph_node"] == "sign_off"
    [complete] = events[8][1]
    assert complete["content"] == "bye" and complete["id"] == "ai-2" and complete["type"] == "ai"


async def test_messages_and_messages_tuple_together(client: Any) -> None:
    events = [(p.event, p.data) async for p in client.runs.stream(
        None, "p_talk", input=HI, stream_mode=["messages", "messages-tuple"])]
    tuples = [d for e, d in events if e == "messages"]
    assert [m["content"] for m, _ in tuples] == ["hello", " ", "big", " ", "world", "bye"]
    assert len([e for e, _ in events if e == "messages/partial"]) == 5


async def test_debug_mode_carries_checkpoints_and_tasks(client: Any) -> None:
    tid = (await client.threads.create())["thread_id"]
    events = [(p.event, p.data) async for p in client.runs.stream(tid, "steps3", input={"count": 0},
                                                                    stream_mode=["debug"])]
    debug = [d for e, d in events if e == "debug"]
    assert [d["type"] for d in debug] == ["checkpoint", "checkpoint", "task", "task_result", "checkpoint", "task",
                                          "task_result", "checkpoint", "task", "task_result", "checkpoint"]
    for d in (d for d in debug if d["type"] == "checkpoint"):
        payload = d["payload"]
        conf = payload["config"]["configurable"]
        assert payload["checkpoint"] == {"checkpoint_id": conf["checkpoint_id"], "thread_id": tid, "checkpoint_ns": ""}
        assert "tasks" in payload and "next" in payload and "clew_fencing_token" not in conf
    first_step = [d for d in debug if d["type"] == "checkpoint"][1]["payload"]
    assert first_step["next"] == ["n1"] and [t["name"] for t in first_step["tasks"]] == ["n1"]
    assert first_step["parent_checkpoint"]["checkpoint_id"] == debug[0]["payload"]["checkpoint"]["checkpoint_id"]
    history = await client.threads.get_history(tid, limit=10)
    assert debug[-1]["payload"]["checkpoint"]["checkpoint_id"] == history[0]["checkpoint"]["checkpoint_id"]
