"""Per-user daily budgets enforced by the run engine: a new run is refused, a running one stops at its next node."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import httpx
import psycopg
from langgraph_sdk import get_client

from tests.support.keys import make_key


async def test_budget_refuses_new_runs_and_stops_running_ones(
    server: Any, keys: dict[str, str], db_url: str, data_dir: Path
) -> None:
    carol = make_key(db_url, "carol")
    client = get_client(url=server.url, api_key=carol)
    admin = httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["alice"]})
    try:
        r = await admin.put("/api/v1/users/settings/budget.daily_usd", params={"user_id": "carol"},
                            json={"value": 0.5})
        assert r.status_code == 200, r.text
        thread = await client.threads.create()
        tid = thread["thread_id"]
        # a run in flight: the first node finishes, then the user's spending crosses the limit
        run = await client.runs.create(tid, "steps3", input={"count": 0, "delay": 0.8})
        await asyncio.sleep(1.0)
        with psycopg.connect(db_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO usage_records (user_id, model, input_tokens, output_tokens, cost_usd) "
                "VALUES ('carol', 'gpt-test', 1000, 1000, 0.75)"
            )
        await client.runs.join(tid, run["run_id"])
        final = await client.runs.get(tid, run["run_id"])
        assert final["status"] == "error"
        assert final["error"]["error"] == "budget_exceeded"
        assert "budget" in final["error"]["message"]
        state = await client.threads.get_state(tid)
        assert state["values"]["count"] < 3  # stopped before the last node
        # a new run is refused with a clear 429 and nothing is queued
        async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": carol}) as http:
            r = await http.post(f"/threads/{tid}/runs", json={"assistant_id": "steps3", "input": {}})
            assert r.status_code == 429
            body = r.json()
            assert body["error"] == "budget_exceeded" and body["limit_usd"] == 0.5
        assert len(await client.runs.list(tid)) == 1
    finally:
        await admin.delete("/api/v1/users/settings/budget.daily_usd", params={"user_id": "carol"})
        await admin.aclose()
        await client.http.client.aclose()
