"""Hot reload across processes, the ``config_updated`` SSE event, and run snapshots.

Two real ``clew serve`` processes (A and B) share one database: a change made through A must be seen by the
next run started through B, with no restart; an open stream of the changed user's thread (on B) gets a
``config_updated`` event; a run resumed after an interrupt keeps the configuration it started with.
"""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.support.config import Cluster


async def test_change_through_one_process_is_seen_by_a_run_in_another(cluster: Cluster) -> None:
    sdk_b = cluster.sdk("dave", cluster.b)
    async with cluster.http("dave", cluster.a) as carol_a, cluster.http("dave", cluster.b) as carol_b:
        await carol_a.put("/api/v1/users/settings/research.depth", json={"value": 2})
        thread = await sdk_b.threads.create()
        tid = thread["thread_id"]
        # warm B's cache with the current value
        first = await sdk_b.runs.wait(tid, "config_echo", input={"keys": ["research.depth"]})
        assert first["seen"][-1] == {"research.depth": 2}
        assert (await carol_b.get("/api/v1/users/settings")).json()["values"]["research.depth"] == 2
        for value in (5, 1, 3):
            r = await carol_a.put("/api/v1/users/settings/research.depth", json={"value": value})
            assert r.status_code == 200
            # the very next run created through B (its own resolution and snapshot) sees the change
            run = await sdk_b.runs.create(tid, "config_echo", input={"keys": ["research.depth"]})
            await sdk_b.runs.join(tid, run["run_id"])
            state = await sdk_b.threads.get_state(tid)
            assert state["values"]["seen"][-1] == {"research.depth": value}
            assert (await carol_b.get("/api/v1/users/settings")).json()["values"]["research.depth"] == value
        # a system change (administrator on A) reaches B too
        async with cluster.http("alice", cluster.a) as alice_a:
            await alice_a.put("/api/v1/system/config/research.tone", json={"value": "informal"})
            try:
                result = await sdk_b.runs.wait(tid, "config_echo", input={"keys": ["research.tone"]})
                assert result["seen"][-1] == {"research.tone": "informal"}
            finally:
                await alice_a.delete("/api/v1/system/config/research.tone")
    await sdk_b.http.client.aclose()


async def _collect(stream: Any, out: list[tuple[str, Any]], started: asyncio.Event) -> None:
    async for part in stream:
        out.append((part.event, part.data))
        if part.event == "metadata":
            started.set()


async def test_streams_of_the_users_threads_get_config_updated(cluster: Cluster) -> None:
    """dave streams one thread through A (where the change is made) and one through B; bob streams too."""
    dave_a, dave_b, bob_b = (
        cluster.sdk("dave", cluster.a),
        cluster.sdk("dave", cluster.b),
        cluster.sdk("bob", cluster.b),
    )
    streams = {"dave@A": dave_a, "dave@B": dave_b, "bob@B": bob_b}
    events: dict[str, list[tuple[str, Any]]] = {name: [] for name in streams}
    started = {name: asyncio.Event() for name in streams}
    threads = {name: (await c.threads.create())["thread_id"] for name, c in streams.items()}
    # runs that sleep in their middle node, so the streams are open while the configuration changes
    tasks = [
        asyncio.create_task(
            _collect(
                c.runs.stream(
                    threads[name], "config_echo", input={"keys": [], "delay": 4.0}, stream_mode="updates"
                ),
                events[name],
                started[name],
            )
        )
        for name, c in streams.items()
    ]
    await asyncio.wait_for(asyncio.gather(*(e.wait() for e in started.values())), 30)
    async with cluster.http("dave", cluster.a) as http:
        r = await http.put("/api/v1/users/settings/batch", json={"ui.theme": "dark", "ui.font_size": 20})
        assert r.status_code == 200
        r = await http.put(f"/threads/{threads['dave@A']}/config", json={"research.depth": 3})
        assert r.status_code == 200
    await asyncio.wait_for(asyncio.gather(*tasks), 60)
    for name in ("dave@A", "dave@B"):
        assert events[name][-1][0] == "end"
        updates = [d for e, d in events[name] if e == "config_updated"]
        # each change exactly once (in A the local hand-off and the NOTIFY echo are recognised as one)
        assert len(updates) == 2, (name, updates)
        user_change = next(u for u in updates if u["layer"] == "user")
        assert sorted(user_change["keys"]) == ["ui.font_size", "ui.theme"]
        assert user_change["values"] == {"ui.theme": "dark", "ui.font_size": 20}
        assert user_change["sources"] == {"ui.theme": "user", "ui.font_size": "user"}
        session_change = next(u for u in updates if u["layer"] == "session")
        assert session_change["thread_id"] == threads["dave@A"]
        assert session_change["values"] == {"research.depth": 3}
    assert events["bob@B"][-1][0] == "end"
    assert not [e for e, _ in events["bob@B"] if e == "config_updated"]  # another user's stream hears nothing
    for c in streams.values():
        await c.http.client.aclose()


async def test_resumed_run_keeps_its_snapshot(cluster: Cluster) -> None:
    sdk_a = cluster.sdk("dave", cluster.a)
    sdk_b = cluster.sdk("dave", cluster.b)
    keys = ["research.max_iterations", "research.tone", "research.report_word_budget"]
    async with cluster.http("dave", cluster.a) as carol:
        await carol.put(
            "/api/v1/users/settings/batch", json={"research.max_iterations": 2, "research.tone": "formal"}
        )
        tid = (await sdk_a.threads.create())["thread_id"]
        result = await sdk_a.runs.wait(
            tid,
            "config_echo",
            input={"keys": keys, "pause": True},
            context={"research.report_word_budget": 800},
        )
        assert result["__interrupt__"]
        started_with = {
            "research.max_iterations": 2,
            "research.tone": "formal",
            "research.report_word_budget": 800,
        }
        assert result["seen"] == [started_with]
        # the configuration changes while the research waits for its human
        await carol.put(
            "/api/v1/users/settings/batch", json={"research.max_iterations": 9, "research.tone": "simple"}
        )
        resumed = await sdk_b.runs.wait(tid, "config_echo", command={"resume": "go on"})
        assert resumed["seen"] == [started_with, started_with]
        # a new research on the thread starts with the new values
        fresh = await sdk_b.runs.wait(tid, "config_echo", input={"keys": keys, "pause": False})
        assert fresh["seen"][-1] == {
            "research.max_iterations": 9,
            "research.tone": "simple",
            "research.report_word_budget": 1500,
        }
    for c in (sdk_a, sdk_b):
        await c.http.client.aclose()
