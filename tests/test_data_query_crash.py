"""A data question survives the death of the worker running it: SIGKILL while the model writes the SQL,
another worker (with another data directory: the key comes from ``CLEW_SECRET_KEY``) takes the run over
after the lease and finishes the turn from the last checkpoint; nodes that finished before are not run again.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import psycopg
import pytest
from langgraph_sdk import get_client

from tests.support.core import eventually
from tests.support.data import Target, postgres_target
from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT, ClewProcess

pytestmark = pytest.mark.slow

MODEL = "sql-crash-model"


@pytest.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub(default_content="(no script)") as s:
        yield s


@pytest.fixture(scope="module")
def db() -> Iterator[str]:
    url = create_database("clew_dq_crash")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def target() -> Iterator[Target]:
    with postgres_target() as t:
        yield t


def _env(stub: OpenAIStub) -> dict[str, str]:
    return {
        "CLEW_LEASE_SECONDS": "10",  # generous: the shared test machine can be very slow
        "CLEW_MAX_ATTEMPTS": "6",
        "CLEW_SECRET_KEY": "crash-test pass phrase",
        **stub.env(default_model=MODEL),
        "CLEW_SETTING__LLM__TIMEOUT_SECONDS": "120",
    }


@pytest.fixture(scope="module")
def api(db: str, stub: OpenAIStub, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(db, tmp_path_factory.mktemp("dq-crash-api"), workers=0, config=ROOT / "langgraph.json",
                       env=_env(stub)).start()
    yield proc
    proc.stop()


def _mkdir(path: Path) -> Path:
    path.mkdir(parents=True, exist_ok=True)
    return path


async def test_sigkill_while_writing_sql(api: ClewProcess, db: str, stub: OpenAIStub, target: Target,
                                         tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=60) as http:
        r = await http.post("/api/v1/connections", json={**target.fields, "password": "crash-secret-pw"})
        assert r.status_code == 201, r.text
        connection_id = r.json()["connection_id"]
    workers: list[ClewProcess] = []
    sdk = get_client(url=api.url)
    try:
        w1 = ClewProcess(db, _mkdir(tmp_path / "w1"), kind="worker", config=ROOT / "langgraph.json", env=_env(stub)).start()
        workers.append(w1)
        stub.script(MODEL, Reply(content=json.dumps({"sql": "SELECT 1"}), delay=60))
        thread = await sdk.threads.create()
        tid = thread["thread_id"]
        run = await sdk.runs.create(tid, "data_query", context={"data.approval": "never"}, stream_mode=["custom"],
                                    input={"question": "How many customers live in Paris?", "connection_id": connection_id})
        calls = len(stub.requests)
        await eventually(lambda: len(stub.requests) > calls)  # w1 is waiting for the model inside generate_sql
        w1.kill()
        stub.script(MODEL, Reply(content=json.dumps({"sql": "SELECT COUNT(*) AS n FROM customers WHERE city = 'Paris'"})),
                    Reply(content="Two customers live in Paris."))
        w2 = ClewProcess(db, _mkdir(tmp_path / "w2"), kind="worker", config=ROOT / "langgraph.json", env=_env(stub)).start()
        workers.append(w2)
        await sdk.runs.join(tid, run["run_id"])
        final = await sdk.runs.get(tid, run["run_id"])
        assert final["status"] == "success", final
        values = (await sdk.threads.get_state(tid))["values"]
        assert values["status"] == "done" and values["result"]["rows"] == [[2]]
        assert values["answer"] == "Two customers live in Paris."
        with psycopg.connect(db, autocommit=True) as conn:
            rows = conn.execute("SELECT data FROM run_events WHERE run_id = %s AND event = 'custom' ORDER BY seq",
                                (run["run_id"],)).fetchall()
            attempt = conn.execute("SELECT attempt FROM runs WHERE run_id = %s", (run["run_id"],)).fetchone()[0]
        stages = [json.loads(r[0])["type"] for r in rows]
        assert attempt >= 2  # a loaded machine may make the new worker lose a lease too: more takeovers
        # analyze (2 events) and select_tables (1) ran once, before the crash; generate_sql started twice
        assert stages.count("analyzing") == 3
        assert stages.count("generating_sql") >= 2 and stages[-1] == "done"
    finally:
        await sdk.http.client.aclose()
        for w in workers:
            w.kill()
