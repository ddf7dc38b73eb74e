"""Todo filing survives a worker crash without duplicates: SIGKILL the server after the node filed its todos
(while it still sleeps inside the node), start another server on the same database, and check that the
retried run re-ran the node yet the thread has exactly the todos it had, announced once, and still resumes
from the gate when they are completed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.core import eventually
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

pytestmark = pytest.mark.slow

ENV = {"CLEW_LEASE_SECONDS": "2"}


@pytest.fixture
def fresh_db() -> Iterator[str]:
    url = create_database("clew_hitl_crash")
    yield url
    drop_database(url)


async def todo_events(
    http: httpx.AsyncClient, tid: str, run_id: str, until: int | None = None
) -> list[dict[str, Any]]:
    """The run's persisted ``todo`` events (reading stops after ``until`` of them, or at ``end``)."""
    import json

    out: list[dict[str, Any]] = []
    event = ""
    async with http.stream(
        "GET", f"/threads/{tid}/runs/{run_id}/stream", headers={"Last-Event-ID": "-1"}
    ) as resp:
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
            elif line.startswith("data: ") and event == "todo":
                out.append(json.loads(line[6:]))
                if until is not None and len(out) >= until:
                    break
    return out


async def test_todo_filing_idempotent_across_worker_crash(fresh_db: str, tmp_path: Path) -> None:
    first = ClewProcess(fresh_db, tmp_path, env=ENV).start()
    second: ClewProcess | None = None
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            r = await http.post(
                f"/threads/{tid}/runs", json={"assistant_id": "hitl_todos", "input": {"n": 2, "delay": 3}}
            )
            run_id = r.json()["run_id"]

            async def filed() -> list[dict[str, Any]]:
                rows = (await http.get(f"/threads/{tid}/todos")).json()
                return rows if len(rows) == 2 else []

            before = await eventually(filed, what="two filed todos")
            assert len(await todo_events(http, tid, run_id, until=2)) == 2  # announced and persisted
        first.kill()  # SIGKILL mid-node: the node is sleeping after filing

        second = ClewProcess(fresh_db, tmp_path, env=ENV).start()
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:

            async def parked() -> bool:
                return (await http.get(f"/threads/{tid}")).json()["status"] == "interrupted"

            await eventually(parked, what="the retried run to stop at the gate")
            run = (await http.get(f"/threads/{tid}/runs/{run_id}")).json()
            assert run["status"] == "interrupted" and run["attempt"] == 2  # the node really ran again
            after = (await http.get(f"/threads/{tid}/todos")).json()
            assert [t["todo_id"] for t in after] == [t["todo_id"] for t in before]
            assert all(t["status"] == "pending" for t in after)
            created = await todo_events(http, tid, run_id)
            assert [e["action"] for e in created] == ["created", "created"]

            results = [{"decision": "approve"}, {"text": "fine"}]
            resumed = []
            for todo, res in zip(after, results, strict=True):
                r = await http.post(f"/todos/{todo['todo_id']}/complete", json={"result": res})
                assert r.status_code == 200
                resumed.append(r.json()["resumed_run_id"])
            assert resumed[0] is None and resumed[1]
            r = await http.get(f"/threads/{tid}/runs/{resumed[1]}/join")
            assert r.status_code == 200
            state = (await http.get(f"/threads/{tid}/state")).json()
            assert state["values"]["log"] == ["prepare", "file", "work", "gate"]
            assert len(state["values"]["filed"]) == 2
            assert len((await http.get(f"/threads/{tid}/todos")).json()) == 2
    finally:
        first.kill()
        if second is not None:
            second.stop()


async def test_gate_stranded_by_a_crash_is_resumed_at_start_up(fresh_db: str, tmp_path: Path) -> None:
    """The last todo was completed but the process died before it could resume the thread: the next
    process to start finds the thread parked on a gate with nothing pending and resumes it."""
    import psycopg

    first = ClewProcess(fresh_db, tmp_path, env=ENV).start()
    second: ClewProcess | None = None
    try:
        async with httpx.AsyncClient(base_url=first.url, timeout=30) as http:
            tid = (await http.post("/threads", json={})).json()["thread_id"]
            r = await http.post(
                f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl_todos", "input": {"n": 1}}
            )
            assert r.json()["__interrupt__"][0]["value"]["kind"] == "todos"
        first.kill()
        # what a completion commits before it resumes the thread
        async with await psycopg.AsyncConnection.connect(fresh_db, autocommit=True) as conn:
            await conn.execute(
                "UPDATE todos SET status = 'completed', result = '{\"decision\": \"approve\"}', "
                "completed_at = now() WHERE thread_id = %s",
                (tid,),
            )
        second = ClewProcess(fresh_db, tmp_path, env=ENV).start()
        async with httpx.AsyncClient(base_url=second.url, timeout=30) as http:

            async def idle() -> bool:
                return (await http.get(f"/threads/{tid}")).json()["status"] == "idle"

            await eventually(idle, what="the stranded gate to be resumed")
            runs = (await http.get(f"/threads/{tid}/runs")).json()
            assert len(runs) == 2 and runs[0]["metadata"]["resumed_by"] == "todos"
            state = (await http.get(f"/threads/{tid}/state")).json()
            assert state["values"]["results"]["todo 0"]["result"] == {"decision": "approve"}
    finally:
        first.kill()
        if second is not None:
            second.stop()
