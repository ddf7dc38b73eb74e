"""Verification of issue 14 (data questions) against its text, where the first tests left a point implicit.

One real ``clew serve`` and a scratch PostgreSQL target with no table allow-list, so every table of the
database is a candidate. Shown here:

- schema knowledge is *cached* per connection and refreshed *on demand*: a table created after the first
  introspection is absent until ``?refresh=true``;
- for a question, only the relevant tables go to the model (ranked by name/column match, bounded by
  ``data.max_tables``), the irrelevant ones stay out of the prompt;
- results from a real database are JSON-safe (decimals as numbers, dates as ISO strings, bytes) with typed
  columns, and the chart follows the shape: time + number → line, category + share → arc, two numbers →
  point, anything else → table;
- the deny-list lives in one module with a reason on every entry.
"""

from __future__ import annotations

import base64
import json
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from tests.support.core import http
from tests.support.data import Target, postgres_target
from tests.support.keys import make_key
from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.server import ROOT, ClewProcess, clew_server
from tests.test_data_query import first, names, sql_reply, sse

pytestmark = pytest.mark.slow

MODEL = "verify-sql-model"
NEVER = {"data.approval": "never"}

EXTRA_DDL = [
    "CREATE TABLE readings (id serial PRIMARY KEY, taken_on date NOT NULL, value numeric(8,2) NOT NULL, "
    "payload bytea, label text)",
    "INSERT INTO readings (taken_on, value, payload, label) VALUES "
    "('2024-01-01', 1.50, '\\x00ff'::bytea, 'a'), ('2024-01-02', 2.25, '\\x0102'::bytea, 'b')",
    "CREATE TABLE market (segment text NOT NULL, share numeric(4,2) NOT NULL)",
    "INSERT INTO market VALUES ('north', 0.25), ('south', 0.75)",
    "CREATE TABLE points (x integer NOT NULL, y double precision NOT NULL)",
    "INSERT INTO points VALUES (1, 2.5), (2, 3.5), (3, 1.0)",
    "CREATE TABLE shipments (id serial PRIMARY KEY, carrier text NOT NULL, parcels integer NOT NULL)",
    "INSERT INTO shipments (carrier, parcels) VALUES ('Kestrel Freight', 12), ('Otter Post', 30)",
    "ANALYZE readings",  # PostgreSQL estimates rows only for analyzed tables (reltuples is -1 before)
]


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub(default_content="(no script)") as s:
        yield s


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with postgres_target() as pg:
        with pg.admin() as conn:
            for stmt in EXTRA_DDL:
                conn.execute(stmt)
        yield pg


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub) -> Iterator[ClewProcess]:
    env = {"CLEW_AUTH": "api_key", **stub.env(default_model=MODEL)}
    with clew_server(tmp_path_factory.mktemp("verify-data"), "clew_verify_data", config=ROOT / "langgraph.json",
                     env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
async def alice(server: ClewProcess) -> AsyncIterator[httpx.AsyncClient]:
    async with http(server, make_key(server.db_url, "alice")) as c:
        yield c


@pytest.fixture(scope="module")
async def conn_id(alice: httpx.AsyncClient, target: Target) -> str:
    r = await alice.post("/api/v1/connections", json=target.fields)  # no allow-list: every table
    assert r.status_code == 201, r.text
    return str(r.json()["connection_id"])


async def test_schema_is_cached_and_refreshed_on_demand(alice: httpx.AsyncClient, conn_id: str,
                                                        target: Target) -> None:
    r = await alice.get(f"/api/v1/connections/{conn_id}/schema")
    assert r.status_code == 200, r.text
    tables = {t["name"] for t in r.json()["tables"]}
    assert {"customers", "orders", "audit_log", "readings", "market", "points", "shipments"} <= tables
    readings = next(t for t in r.json()["tables"] if t["name"] == "readings")
    assert {c["name"]: c["type"].lower() for c in readings["columns"]}["taken_on"] == "date"
    assert readings["row_estimate"] == 2
    with target.admin() as conn:
        conn.execute("CREATE TABLE late_arrivals (id integer)")
    r = await alice.get(f"/api/v1/connections/{conn_id}/schema")
    assert "late_arrivals" not in {t["name"] for t in r.json()["tables"]}  # served from the cache
    r = await alice.get(f"/api/v1/connections/{conn_id}/schema", params={"refresh": "true"})
    assert "late_arrivals" in {t["name"] for t in r.json()["tables"]}  # refreshed on demand
    r = await alice.get(f"/api/v1/connections/{conn_id}/schema")
    assert "late_arrivals" in {t["name"] for t in r.json()["tables"]}  # and the refresh is what is cached


async def test_only_relevant_tables_go_to_the_model(alice: httpx.AsyncClient, conn_id: str,
                                                    stub: OpenAIStub) -> None:
    stub.script(MODEL, sql_reply("SELECT carrier, parcels FROM shipments ORDER BY parcels DESC"),
                Reply(content="Otter Post carried the most parcels."))
    seen = len(stub.requests)
    events, _ = await sse(alice, "/api/v1/chat/stream", {
        "query": "Which carrier shipped the most parcels?", "connection_id": conn_id,
        "settings": {**NEVER, "data.max_tables": 1}})
    assert first(events, "done")["status"] == "done", events
    prompt = json.dumps(stub.requests[seen]["messages"])
    assert "TABLE public.shipments" in prompt
    for other in ("customers", "orders", "audit_log", "readings", "market", "points"):
        assert f"TABLE public.{other}" not in prompt, other
    chosen = [d for e, d in events if e == "analyzing" and d.get("tables")]
    assert chosen and chosen[-1]["tables"] == ["shipments"]


async def test_results_are_json_safe_and_charts_follow_the_shape(alice: httpx.AsyncClient, conn_id: str) -> None:
    async def ask(sql: str) -> tuple[dict, dict]:  # type: ignore[type-arg]
        events, _ = await sse(alice, "/api/v1/chat/stream", {"query": sql, "connection_id": conn_id,
                                                              "settings": NEVER})
        assert "error" not in names(events), events
        return first(events, "result"), first(events, "visualization")["chart"]

    result, chart = await ask("SELECT taken_on, value FROM readings ORDER BY taken_on")
    assert result["data"] == [["2024-01-01", 1.5], ["2024-01-02", 2.25]]  # ISO dates, decimals as numbers
    assert [c["name"] for c in result["columns"]] == ["taken_on", "value"]
    assert all(c.get("type") for c in result["columns"])  # columns carry their types
    assert result["truncated"] is False and isinstance(result["elapsed_ms"], int | float)
    assert chart["type"] == "line" and chart["spec"]["encoding"]["x"]["type"] == "temporal"

    result, chart = await ask("SELECT segment, share FROM market ORDER BY segment")
    assert result["data"] == [["north", 0.25], ["south", 0.75]]
    assert chart["type"] == "arc" and chart["spec"]["mark"]["type"] == "arc"  # share of a whole

    result, chart = await ask("SELECT x, y FROM points ORDER BY x")
    assert chart["type"] == "point" and chart["spec"]["encoding"]["y"]["field"] == "y"  # two numbers

    result, chart = await ask("SELECT label, payload FROM readings ORDER BY id")
    payloads = [row[1] for row in result["data"]]
    assert [base64.b64decode(p) for p in payloads] == [b"\x00\xff", b"\x01\x02"]  # bytes, JSON-safe
    assert chart["type"] == "table" and chart["spec"] is None  # no shape to draw


def test_deny_list_is_one_module_with_a_reason_per_entry() -> None:
    from nodes.data import denylist

    assert len(denylist.DENIED_FUNCTIONS) >= 20
    for name, reason in denylist.DENIED_FUNCTIONS.items():
        assert name == name.lower() and reason.strip(), name
    for needed in ("sleep", "benchmark", "pg_sleep", "load_file", "pg_read_file", "set_config",
                   "pg_terminate_backend", "load_extension", "dblink_exec", "lo_import"):
        assert needed in denylist.DENIED_FUNCTIONS or any(
            needed.startswith(p) for p in getattr(denylist, "DENIED_PREFIXES", ())), needed


async def test_without_an_allow_list_system_catalogs_stay_refused(alice: httpx.AsyncClient, conn_id: str,
                                                                  target: Target) -> None:
    """No allow-list means "the introspected tables", never the database's catalogs (docs/data-questions.md)."""
    from tests.support.data import checksum

    before = checksum(target)
    for sql in ("SELECT * FROM pg_catalog.pg_authid", "SELECT table_name FROM information_schema.tables",
                "SELECT usename FROM pg_user", "SELECT * FROM shipments; DELETE FROM shipments"):
        events, _ = await sse(alice, "/api/v1/chat/stream", {"query": sql, "connection_id": conn_id,
                                                              "settings": NEVER})
        assert first(events, "error")["reason"].startswith("refused:"), (sql, events)
        assert "executing" not in names(events) and first(events, "done")["status"] == "refused"
    assert checksum(target) == before
