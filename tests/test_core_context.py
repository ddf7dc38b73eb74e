"""The run context: secrets never stored in a run's snapshot, context fitted to class-based schemas."""

from __future__ import annotations

import dataclasses
from typing import Any

import httpx
import psycopg
from pydantic import BaseModel

from engine.context import fit_to_graph, without_secrets


class _Graph:
    def __init__(self, schema: Any) -> None:
        self.context_schema = schema


def test_fit_to_graph_filters_to_schema_fields() -> None:
    @dataclasses.dataclass
    class Ctx:
        user_name: str = ""

    class PCtx(BaseModel):
        user_name: str = ""

    values = {"user_name": "ann", "llm.fast_model": "x"}
    assert fit_to_graph(_Graph(Ctx), values) == {"user_name": "ann"}
    assert fit_to_graph(_Graph(PCtx), values) == {"user_name": "ann"}
    assert fit_to_graph(_Graph(None), values) == values


def test_without_secrets() -> None:
    assert "llm.api_key" not in without_secrets({"llm.api_key": "sk-1", "llm.temperature": 0.1})


async def test_secret_not_in_run_snapshot(client: Any, server: Any, keys: dict[str, str], db_url: str) -> None:
    async with httpx.AsyncClient(base_url=server.url, headers={"x-api-key": keys["alice"]}) as http:
        r = await http.put("/api/v1/system/config/llm.api_key", json={"value": "sk-never-stored"})
        assert r.status_code == 200, r.text
        try:
            thread = await client.threads.create()
            await client.runs.wait(thread["thread_id"], "steps3", input={"count": 0})
            runs = await client.runs.list(thread["thread_id"])
            with psycopg.connect(db_url) as conn:
                row = conn.execute("SELECT config_snapshot::text FROM runs WHERE run_id = %s",
                                   (runs[0]["run_id"],)).fetchone()
            assert row is not None and "sk-never-stored" not in row[0]
        finally:
            await http.delete("/api/v1/system/config/llm.api_key")
