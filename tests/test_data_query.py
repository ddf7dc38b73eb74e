"""Data questions end to end against a real ``clew serve``: real PostgreSQL, MariaDB and SQLite targets, a
scripted OpenAI-compatible model (tests/support/openai_stub.py), the design's routes (``/api/v1/connections``,
``/api/v1/chat/*``, ``/api/v1/conversations``) and the Agent Server routes underneath.

Shown here: question → SQL → approval → rows → chart spec → answer; a follow-up that sees the earlier turn;
a repair after a database error; an approval with an edited SQL; offline use (the human writes the SQL, a
question that is SQL is taken as such); a hostile question refused before execution; a stop mid-run; owner
scoping; CSV export; and a password that appears in no table, run event, checkpoint or log.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from tests.support.core import user_clients
from tests.support.data import Target, checksum, mysql_target, postgres_target, sqlite_target
from tests.support.keys import make_key
from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.server import ROOT, ClewProcess, clew_server

pytestmark = pytest.mark.slow

MODEL = "sql-model"
PASSWORD = f"pw-{uuid.uuid4().hex}-Zq"
PAID_BY_CITY = (
    "SELECT c.city, SUM(o.amount) AS total FROM orders o JOIN customers c ON c.id = o.customer_id "
    "WHERE o.status = 'paid' GROUP BY c.city ORDER BY c.city"
)


def sql_reply(sql: str, explanation: str = "scripted") -> Reply:
    return Reply(content=json.dumps({"sql": sql, "explanation": explanation}))


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub(default_content="(no script)") as s:
        yield s


@pytest.fixture(scope="module")
def targets(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Target]]:
    with postgres_target() as pg, mysql_target() as my, sqlite_target(tmp_path_factory.mktemp("dq-sqlite")) as lite:
        yield {"postgresql": pg, "mysql": my, "sqlite": lite}


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, stub: OpenAIStub) -> Iterator[ClewProcess]:
    env = {"CLEW_AUTH": "api_key", **stub.env(default_model=MODEL)}
    with clew_server(tmp_path_factory.mktemp("dq-data"), "clew_dq_api", config=ROOT / "langgraph.json", env=env) as proc:
        yield proc


@pytest.fixture(scope="module")
def data(server: ClewProcess) -> Path:
    return server.data_dir


@pytest.fixture(scope="module")
def dq_db(server: ClewProcess) -> str:
    return server.db_url


@pytest.fixture(scope="module")
def keys(server: ClewProcess) -> dict[str, str]:
    return {u: make_key(server.db_url, u) for u in ("alice", "bob", "carol")}


@pytest.fixture
async def http(server: ClewProcess, keys: dict[str, str]) -> AsyncIterator[dict[str, httpx.AsyncClient]]:
    async with user_clients(server, keys) as clients:
        yield clients


@pytest.fixture(scope="module")
async def conns(server: ClewProcess, keys: dict[str, str], targets: dict[str, Target]) -> dict[str, str]:
    """alice's three connections (the PostgreSQL one with a password; trust auth ignores it) and carol's
    SQLite one; carol has no model (offline)."""
    out: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=server.url, timeout=60) as c:
        for driver, target in targets.items():
            body = {**target.fields, "allowed_tables": ["customers", "orders"]}
            if driver == "postgresql":
                body["password"] = PASSWORD
                body["is_default"] = True
            r = await c.post("/api/v1/connections", json=body, headers={"x-api-key": keys["alice"]})
            assert r.status_code == 201, r.text
            out[driver] = r.json()["connection_id"]
        r = await c.post("/api/v1/connections", json=targets["sqlite"].fields, headers={"x-api-key": keys["carol"]})
        assert r.status_code == 201, r.text
        out["carol"] = r.json()["connection_id"]
        r = await c.put("/api/v1/users/settings/llm.default_model", json={"value": ""},
                        headers={"x-api-key": keys["carol"]})
        assert r.status_code == 200, r.text
    return out


async def sse(client: httpx.AsyncClient, path: str, body: dict[str, Any]) -> tuple[list[tuple[str, Any]], httpx.Headers]:
    """POST ``body`` and read the whole SSE answer as ``[(event, data)]``."""
    events: list[tuple[str, Any]] = []
    async with client.stream("POST", path, json=body) as r:
        assert r.status_code == 200, (await r.aread()).decode()
        name, data = "message", []
        async for line in r.aiter_lines():
            if line == "":
                if data:
                    events.append((name, json.loads("\n".join(data))))
                name, data = "message", []
            elif line.startswith("event:"):
                name = line[6:].strip()
            elif line.startswith("data:"):
                data.append(line[5:].strip())
        return events, r.headers


def names(events: list[tuple[str, Any]]) -> list[str]:
    return [e for e, _ in events]


def first(events: list[tuple[str, Any]], name: str) -> Any:
    return next(d for e, d in events if e == name)


async def test_connection_routes(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                 targets: dict[str, Target], data: Path) -> None:
    alice, bob = http["alice"], http["bob"]
    r = await alice.get("/api/v1/connections")
    listed = {c["connection_id"]: c for c in r.json()}
    assert set(listed) == {conns["postgresql"], conns["mysql"], conns["sqlite"]}
    pg = listed[conns["postgresql"]]
    assert pg["has_password"] is True and pg["is_default"] is True and "password" not in pg
    assert PASSWORD not in r.text
    for driver in ("postgresql", "mysql", "sqlite"):
        r = await alice.post(f"/api/v1/connections/{conns[driver]}/test")
        body = r.json()
        assert r.status_code == 200 and body["reachable"] is True and body["error"] is None, body
        assert body["server_version"]
    assert "MariaDB" in (await alice.post(f"/api/v1/connections/{conns['mysql']}/test")).json()["server_version"]
    # an unreachable database is an answer, not an error
    r = await alice.post("/api/v1/connections", json={"name": "nowhere", "driver": "postgresql", "host": "127.0.0.1",
                                                      "port": 1, "database": "x", "username": "u", "password": "p"})
    nowhere = r.json()["connection_id"]
    r = await alice.post(f"/api/v1/connections/{nowhere}/test")
    assert r.json()["reachable"] is False and r.json()["error"]
    # update keeps the password unless told; a new default replaces the old one
    r = await alice.patch(f"/api/v1/connections/{nowhere}", json={"name": "renamed", "is_default": True})
    assert r.status_code == 200 and r.json()["name"] == "renamed" and r.json()["has_password"] is True
    assert (await alice.get(f"/api/v1/connections/{conns['postgresql']}")).json()["is_default"] is False
    r = await alice.patch(f"/api/v1/connections/{nowhere}", json={"password": None})
    assert r.json()["has_password"] is False
    await alice.patch(f"/api/v1/connections/{conns['postgresql']}", json={"is_default": True})
    assert (await alice.delete(f"/api/v1/connections/{nowhere}")).status_code == 204
    assert (await alice.get(f"/api/v1/connections/{nowhere}")).status_code == 404
    # bad input: 422 with a body naming the problem, nothing written
    bad = [
        {"name": "x", "driver": "oracle", "database": "x"},
        {"name": "x", "driver": "sqlite", "database": "relative.db"},
        {"name": "x", "driver": "postgresql", "database": "x", "options": {"options": "-c default_transaction_read_only=off"}},
        {"name": "x", "driver": "postgresql", "database": "x", "port": 70000},
        {"name": "x", "driver": "postgresql", "database": "x", "surprise": 1},
        {"name": "x", "driver": "postgresql", "database": "x", "allowed_tables": ["orders; drop"]},
        # clew's own data directory (key file, the embedded Qdrant's SQLite files) is off limits
        {"name": "x", "driver": "sqlite", "database": str(data / "qdrant" / "collection" / "storage.sqlite")},
        {"name": "x", "driver": "sqlite", "database": str(data / "sub" / ".." / "secret.key")},
    ]
    for body in bad:
        r = await alice.post("/api/v1/connections", json=body)
        assert r.status_code == 422 and r.json()["detail"], (body, r.text)
    assert len((await alice.get("/api/v1/connections")).json()) == 3
    # schema: cached introspection of the allow-listed tables, with keys, samples and row estimates
    r = await alice.get(f"/api/v1/connections/{conns['postgresql']}/schema", params={"refresh": "true"})
    schema = r.json()
    assert r.status_code == 200 and sorted(t["name"] for t in schema["tables"]) == ["customers", "orders"]
    orders = next(t for t in schema["tables"] if t["name"] == "orders")
    assert orders["foreign_keys"][0]["references_table"] == "customers"
    assert next(c for c in orders["columns"] if c["name"] == "id")["primary_key"] is True
    assert next(c for c in orders["columns"] if c["name"] == "status")["samples"]
    # another user's connection does not exist for them
    for method, path in [("GET", ""), ("PATCH", ""), ("DELETE", ""), ("POST", "/test"), ("GET", "/schema")]:
        r = await bob.request(method, f"/api/v1/connections/{conns['postgresql']}{path}",
                              json={"name": "x"} if method == "PATCH" else None)
        assert r.status_code == 404, (method, path, r.text)
    assert (await bob.get("/api/v1/connections")).json() == []


async def test_question_sql_rows_chart_and_follow_up(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                                     stub: OpenAIStub, targets: dict[str, Target]) -> None:
    alice = http["alice"]
    before = checksum(targets["postgresql"])
    stub.script(MODEL, sql_reply(PAID_BY_CITY, "paid totals per city"), Reply(content="Paris has the most paid orders."))
    events, headers = await sse(alice, "/api/v1/chat/stream",
                                {"query": "What is the total of paid orders per city?", "connection_id": conns["postgresql"]})
    conversation = headers["X-Conversation-Id"]
    assert names(events)[0] == "metadata"
    assert "analyzing" in names(events) and "generating_sql" in names(events)
    assert names(events)[-2:] == ["interrupt", "end"] and "executing" not in names(events)
    question = first(events, "interrupt")["value"]
    assert question["kind"] == "approval" and question["data"]["sql"].startswith("SELECT c.city")
    assert "LIMIT 501" in question["data"]["sql"]

    events, _ = await sse(alice, "/api/v1/chat/approve", {"conversation_id": conversation, "decision": "approve"})
    order = [e for e in names(events) if e in ("executing", "result", "visualization", "done")]
    assert order == ["executing", "result", "visualization", "done"]
    result = first(events, "result")
    assert [c["name"] for c in result["columns"]] == ["city", "total"]
    assert result["data"] == [["Nice", 15.75], ["Paris", 600.49]]  # Lyon's only order was refunded
    assert result["truncated"] is False and result["elapsed_ms"] >= 0
    chart = first(events, "visualization")["chart"]
    assert chart["type"] == "bar" and chart["spec"]["mark"]["type"] == "bar"
    assert chart["spec"]["encoding"]["x"]["field"] == "city" and chart["spec"]["encoding"]["y"]["field"] == "total"
    assert chart["spec"]["$schema"].startswith("https://vega.github.io/schema/vega-lite/v5")
    done = first(events, "done")
    assert done["status"] == "done" and done["conversation_id"] == conversation
    assert done["answer"] == "Paris has the most paid orders."

    # the follow-up sees the earlier question and SQL; approval off for this turn
    follow_sql = "SELECT SUM(o.amount) AS total FROM orders o JOIN customers c ON c.id = o.customer_id WHERE c.city = 'Paris' AND o.status = 'paid'"
    stub.script(MODEL, sql_reply(follow_sql), Reply(content="600.49 in Paris."))
    seen = len(stub.requests)
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "And only for Paris?", "conversation_id": conversation,
                                                          "settings": {"data.approval": "never"}})
    assert "interrupt" not in names(events)
    assert first(events, "result")["data"] == [[600.49]]
    assert first(events, "visualization")["chart"]["type"] == "table"
    prompt = json.dumps(stub.requests[seen]["messages"])
    assert "What is the total of paid orders per city?" in prompt and "SELECT c.city" in prompt
    assert "TABLE public.orders" in prompt  # the relevant schema went to the model

    r = await alice.get(f"/api/v1/conversations/{conversation}")
    conv = r.json()
    assert conv["title"] == "What is the total of paid orders per city?" and conv["is_favorite"] is False
    assert [t["status"] for t in conv["turns"]] == ["done", "done"] and conv["result"]["rows"] == [[600.49]]
    r = await alice.get(f"/api/v1/conversations/{conversation}/result.csv")
    assert r.status_code == 200 and r.text == "total\r\n600.49\r\n" and r.headers["content-type"].startswith("text/csv")
    assert (await alice.patch(f"/api/v1/conversations/{conversation}", json={"is_favorite": True})).json()["is_favorite"]
    favs = (await alice.get("/api/v1/conversations", params={"favorite": "true"})).json()
    assert [c["conversation_id"] for c in favs] == [conversation]
    assert checksum(targets["postgresql"]) == before

    bob = http["bob"]
    assert (await bob.get(f"/api/v1/conversations/{conversation}")).status_code == 404
    assert (await bob.delete(f"/api/v1/conversations/{conversation}")).status_code == 404
    assert (await bob.post("/api/v1/chat/stop", json={"conversation_id": conversation})).status_code == 404
    r = await bob.post("/api/v1/chat/stream", json={"query": "x", "conversation_id": conversation})
    assert r.status_code == 404
    r = await bob.post("/api/v1/chat/stream", json={"query": "x", "connection_id": conns["postgresql"]})
    assert r.status_code == 404
    assert (await bob.get("/api/v1/conversations")).json() == []


async def test_repair_after_a_database_error(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                             stub: OpenAIStub) -> None:
    alice = http["alice"]
    stub.script(MODEL, sql_reply("SELECT status, COUNT(*) AS n FROM orders GROUP BY statuz"),
                sql_reply("SELECT status, COUNT(*) AS n FROM orders GROUP BY status ORDER BY status"),
                Reply(content="Five paid, one refunded."))
    seen = len(stub.requests)
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "How many orders per status?",
                                                          "connection_id": conns["mysql"],
                                                          "settings": {"data.approval": "never"}})
    repairing = [d for e, d in events if e == "generating_sql" and d.get("message") == "repairing the SQL"]
    assert len(repairing) == 1 and "statuz" in repairing[0]["error"]
    assert "statuz" in json.dumps(stub.requests[seen + 1]["messages"])  # the error went back to the model
    assert first(events, "result")["data"] == [["paid", 5], ["refunded", 1]]
    chart = first(events, "visualization")["chart"]
    assert chart["type"] == "bar"
    assert first(events, "done")["status"] == "done"

    # repairs are bounded by data.max_repairs: then an error event, in words
    stub.script(MODEL, sql_reply("SELECT nope FROM orders"), sql_reply("SELECT still_nope FROM orders"))
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "Broken", "connection_id": conns["mysql"],
                                                          "settings": {"data.approval": "never", "data.max_repairs": 1}})
    err = first(events, "error")
    assert "still_nope" in err["reason"] and "Traceback" not in err["reason"]
    assert first(events, "done")["status"] == "error" and "result" not in names(events)


async def test_approval_edit_and_reject(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                        stub: OpenAIStub) -> None:
    alice = http["alice"]
    stub.script(MODEL, sql_reply("SELECT name FROM customers ORDER BY name"), Reply(content="Two cities."))
    events, headers = await sse(alice, "/api/v1/chat/stream", {"query": "Who are the customers?",
                                                                "connection_id": conns["sqlite"]})
    conversation = headers["X-Conversation-Id"]
    assert first(events, "interrupt")["value"]["data"]["sql"].startswith("SELECT name FROM customers")
    edited = "SELECT city, COUNT(*) AS customers FROM customers GROUP BY city ORDER BY city"
    events, _ = await sse(alice, "/api/v1/chat/approve", {"conversation_id": conversation, "decision": "edit", "sql": edited})
    result = first(events, "result")
    assert result["sql"].startswith("SELECT city, COUNT(*) AS customers FROM customers GROUP BY city")
    assert result["data"] == [["Lyon", 1], ["Nice", 1], ["Paris", 2]]
    # edited SQL is validated like any other: a hostile edit is refused, nothing runs
    stub.script(MODEL, sql_reply("SELECT * FROM orders"))
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "All orders", "conversation_id": conversation})
    events, _ = await sse(alice, "/api/v1/chat/approve", {"conversation_id": conversation, "decision": "edit",
                                                          "sql": "DELETE FROM orders"})
    assert "refused" in first(events, "error")["reason"] and "executing" not in names(events)
    # reject ends the turn
    stub.script(MODEL, sql_reply("SELECT * FROM orders"))
    await sse(alice, "/api/v1/chat/stream", {"query": "All orders again", "conversation_id": conversation})
    events, _ = await sse(alice, "/api/v1/chat/approve", {"conversation_id": conversation, "decision": "reject",
                                                          "comment": "not now"})
    assert first(events, "done")["status"] == "rejected" and "executing" not in names(events)
    r = await alice.post("/api/v1/chat/approve", json={"conversation_id": conversation, "decision": "approve"})
    assert r.status_code == 409


async def test_offline_human_writes_the_sql(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                            stub: OpenAIStub) -> None:
    carol = http["carol"]
    calls = len(stub.requests)
    events, headers = await sse(carol, "/api/v1/chat/stream", {"query": "What is the biggest order?",
                                                                "connection_id": conns["carol"]})
    assert "interrupt" in names(events), events
    ask = first(events, "interrupt")["value"]
    assert ask["options"] == ["edit", "reject"] and ask["data"]["sql"] == ""
    events, _ = await sse(carol, "/api/v1/chat/approve", {"conversation_id": headers["X-Conversation-Id"],
                                                          "decision": "edit",
                                                          "sql": "SELECT max(amount) AS biggest FROM orders"})
    assert first(events, "result")["data"] == [[300]]
    assert "One row" in first(events, "done")["answer"]
    # a question that already is SQL is taken as such (and still approved: data.approval = always)
    events, headers = await sse(carol, "/api/v1/chat/stream", {
        "query": "SELECT ordered_at, amount FROM orders ORDER BY ordered_at", "connection_id": conns["carol"]})
    assert first(events, "interrupt")["value"]["data"]["sql"].startswith("SELECT ordered_at, amount FROM orders")
    events, _ = await sse(carol, "/api/v1/chat/approve", {"conversation_id": headers["X-Conversation-Id"],
                                                          "decision": "approve"})
    chart = first(events, "visualization")["chart"]
    assert chart["type"] == "line" and chart["spec"]["encoding"]["x"]["type"] == "temporal"
    assert len(stub.requests) == calls  # no model was asked


async def test_hostile_question_refused_before_execution(http: dict[str, httpx.AsyncClient], conns: dict[str, str],
                                                         targets: dict[str, Target]) -> None:
    alice = http["alice"]
    for driver, sql in [("postgresql", "DELETE FROM orders"), ("mysql", "SELECT SLEEP(5)"),
                        ("sqlite", "SELECT 1; DROP TABLE orders"), ("postgresql", "SELECT * FROM audit_log")]:
        before = checksum(targets[driver])
        events, _ = await sse(alice, "/api/v1/chat/stream", {"query": sql, "connection_id": conns[driver],
                                                              "settings": {"data.approval": "never"}})
        err = first(events, "error")
        assert err["reason"].startswith("refused:") and "Traceback" not in json.dumps(events)
        assert "executing" not in names(events) and first(events, "done")["status"] == "refused"
        assert checksum(targets[driver]) == before


async def test_stop_mid_run(http: dict[str, httpx.AsyncClient], conns: dict[str, str], stub: OpenAIStub,
                            server: ClewProcess, keys: dict[str, str]) -> None:
    alice = http["alice"]
    stub.script(MODEL, Reply(content=json.dumps({"sql": "SELECT 1"}), delay=30))
    seen: list[str] = []
    conversation = ""
    async with alice.stream("POST", "/api/v1/chat/stream", json={"query": "Slow question",
                                                                 "connection_id": conns["postgresql"]}) as r:
        conversation = r.headers["X-Conversation-Id"]
        async for line in r.aiter_lines():
            if line.startswith("event:"):
                seen.append(line[6:].strip())
                if seen[-1] == "generating_sql":
                    stop = await alice.post("/api/v1/chat/stop", json={"conversation_id": conversation})
                    assert stop.status_code == 202, stop.text
    assert seen[-1] == "end" and "result" not in seen
    conv = (await alice.get(f"/api/v1/conversations/{conversation}")).json()
    assert conv["status"] in ("idle", "interrupted") and conv["result"] is None
    r = await alice.post("/api/v1/chat/stop", json={"conversation_id": conversation})
    assert r.status_code == 409
    # the conversation goes on after a stop
    stub.script(MODEL, sql_reply("SELECT COUNT(*) AS n FROM customers"), Reply(content="Four."))
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "How many customers?", "conversation_id": conversation,
                                                          "settings": {"data.approval": "never"}})
    assert first(events, "result")["data"] == [[4]] and first(events, "done")["status"] == "done"
    assert (await alice.delete(f"/api/v1/conversations/{conversation}")).status_code == 204
    assert (await alice.get(f"/api/v1/conversations/{conversation}")).status_code == 404


async def test_agent_server_protocol(server: ClewProcess, keys: dict[str, str], conns: dict[str, str],
                                     stub: OpenAIStub) -> None:
    """The same mode through the official SDK: a thread, runs.wait, the approval interrupt, a resume."""
    from langgraph_sdk import get_client

    sdk = get_client(url=server.url, api_key=keys["alice"])
    try:
        thread = await sdk.threads.create()
        stub.script(MODEL, sql_reply("SELECT city FROM customers ORDER BY city"), Reply(content="Four cities."))
        out = await sdk.runs.wait(thread["thread_id"], "data_query",
                                  input={"question": "Which cities?", "connection_id": conns["sqlite"]})
        interrupt = out["__interrupt__"][0]["value"]  # type: ignore[index]
        assert interrupt["kind"] == "approval" and interrupt["data"]["sql"].startswith("SELECT city FROM customers")
        out = await sdk.runs.wait(thread["thread_id"], "data_query", command={"resume": {"decision": "approve"}})
        assert out["status"] == "done" and out["result"]["rows"] == [["Lyon"], ["Nice"], ["Paris"], ["Paris"]]  # type: ignore[index]
        assert out["chart"]["type"] == "table" and out["answer"] == "Four cities."  # type: ignore[index]
        assert "password" not in json.dumps(out)
        listed = [c["conversation_id"] for c in (await sdk.http.get("/api/v1/conversations"))]  # type: ignore[union-attr]
        assert thread["thread_id"] in listed
    finally:
        await sdk.http.client.aclose()
    # another user naming alice's connection in their own run gets an error event, never her data
    bob = get_client(url=server.url, api_key=keys["bob"])
    try:
        thread = await bob.threads.create()
        out = await bob.runs.wait(thread["thread_id"], "data_query",
                                  input={"question": "SELECT * FROM customers", "connection_id": conns["sqlite"]})
        assert out["status"] == "error" and "not found" in out["error"]["reason"]  # type: ignore[index]
        assert out.get("result") is None  # type: ignore[union-attr]
    finally:
        await bob.http.client.aclose()


async def test_password_is_nowhere(http: dict[str, httpx.AsyncClient], conns: dict[str, str], dq_db: str,
                                   server: ClewProcess, data: Path) -> None:
    """After connection routes and turns on the PostgreSQL connection (which has the password): no table of
    clew's database -- connections, threads, runs, run events, checkpoints and their blobs -- holds it, and
    neither does the server log."""
    needle = PASSWORD.encode()
    found: list[str] = []
    with psycopg.connect(dq_db, autocommit=True) as conn:
        columns = conn.execute(
            "SELECT table_name, column_name, data_type FROM information_schema.columns "
            "WHERE table_schema = 'public' ORDER BY 1, 2").fetchall()
        for table, column, dtype in columns:
            if dtype == "bytea":
                n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE position(%s::bytea IN "{column}") > 0',
                                 (needle,)).fetchone()
            else:
                n = conn.execute(f'SELECT count(*) FROM "{table}" WHERE "{column}"::text LIKE %s',
                                 (f"%{PASSWORD}%",)).fetchone()
            if n and n[0]:
                found.append(f"{table}.{column}")
        events = conn.execute("SELECT count(*) FROM run_events").fetchone()[0]
        checkpoints = conn.execute("SELECT count(*) FROM checkpoints").fetchone()[0]
        enc = conn.execute("SELECT password_enc FROM data_connections WHERE connection_id = %s",
                           (conns["postgresql"],)).fetchone()[0]
    assert found == []
    assert events > 0 and checkpoints > 0  # there was something to search
    assert enc and PASSWORD not in enc
    assert PASSWORD not in server.log_path.read_text(errors="replace")
    key = data / "secret.key"
    assert key.exists() and (key.stat().st_mode & 0o777) == 0o600


async def test_approval_on_risk(http: dict[str, httpx.AsyncClient], conns: dict[str, str], stub: OpenAIStub) -> None:
    alice = http["alice"]
    settings = {"data.approval": "on_risk"}
    stub.script(MODEL, sql_reply("SELECT COUNT(*) AS n FROM orders WHERE status = 'paid'"), Reply(content="Five."))
    events, _ = await sse(alice, "/api/v1/chat/stream", {"query": "How many paid orders?",
                                                          "connection_id": conns["sqlite"], "settings": settings})
    assert "interrupt" not in names(events) and first(events, "result")["data"] == [[5]]
    stub.script(MODEL, sql_reply("SELECT c.name, o.id FROM customers c CROSS JOIN orders o"))
    events, headers = await sse(alice, "/api/v1/chat/stream", {"query": "Every customer with every order",
                                                                "connection_id": conns["sqlite"], "settings": settings})
    ask = first(events, "interrupt")["value"]
    assert ask["data"]["risks"] and "join without a join condition" in ask["data"]["risks"][0]
    events, _ = await sse(alice, "/api/v1/chat/approve", {"conversation_id": headers["X-Conversation-Id"],
                                                          "decision": "reject"})
    assert first(events, "done")["status"] == "rejected"
