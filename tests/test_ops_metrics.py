"""Observability: Prometheus metrics of ``clew serve`` and of ``clew worker``'s metrics port, readiness,
and logs in one JSON format with the request's and the run's ids.

``clew serve`` runs without workers and one ``clew worker --metrics-port`` executes the runs, so the test
sees the run counters move on the worker and the database-wide run gauges on both.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from prometheus_client.parser import text_string_to_metric_families

from tests.support.core import eventually
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess, free_port

ENV = {"CLEW_AUTH": "none", "CLEW_RETENTION_INTERVAL_SECONDS": "0"}


# the test harness's stack dumps of a server slow to start (faulthandler, asyncio tasks): not log records
_DIAGNOSTICS = ("Thread 0x", "Current thread 0x", "Stack (most recent call first)", "  File ", "--- task ",
                "Traceback", "    ")


def _records(path: Path) -> list[dict[str, Any]]:
    """Every log line as a JSON object (failing on any line that is neither JSON nor a harness stack dump)."""
    out = []
    for line in path.read_text(errors="replace").splitlines():
        if not line.strip() or line.startswith(_DIAGNOSTICS):
            continue
        out.append(json.loads(line))
    return out


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    out: dict[tuple[str, tuple[tuple[str, str], ...]], float] = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def _value(samples: dict[Any, float], name: str, **labels: str) -> float:
    return samples.get((name, tuple(sorted(labels.items()))), 0.0)


async def _scrape(url: str) -> dict[Any, float]:
    async with httpx.AsyncClient(timeout=30) as c:
        r = await c.get(url + "/metrics")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/plain")
    return _samples(r.text)


@pytest.fixture(scope="module")
def metrics_db() -> Iterator[str]:
    url = create_database("clew_metrics")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def api(metrics_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(metrics_db, tmp_path_factory.mktemp("metrics-api"), workers=0, env=ENV).start()
    yield proc
    proc.stop()


async def test_ready_needs_a_worker_and_the_run_counters_move(api: ClewProcess, metrics_db: str,
                                                              tmp_path: Path) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as c:
        r = await c.get("/ready")
        assert r.status_code == 503
        checks = r.json()["checks"]
        assert checks["workers"]["ok"] is False and "clew worker" in checks["workers"]["detail"]
        assert checks["database"]["ok"] and checks["migrations"]["ok"] and checks["listener"]["ok"]
        assert checks["vector_store"]["ok"]

    port = free_port()
    worker = ClewProcess(metrics_db, tmp_path, kind="worker", workers=2,
                         env={**ENV, "CLEW_METRICS_PORT": str(port)}).start()
    worker_url = f"http://127.0.0.1:{port}"
    try:
        async def ready() -> bool:
            async with httpx.AsyncClient(base_url=api.url, timeout=30) as c:
                return (await c.get("/ready")).status_code == 200
        await eventually(ready, timeout=60, what="/ready once the worker sent a heartbeat")

        async def worker_up() -> bool:
            try:
                async with httpx.AsyncClient(timeout=5) as c:
                    return (await c.get(worker_url + "/ok")).status_code == 200
            except httpx.HTTPError:
                return False
        await eventually(worker_up, timeout=60, what="the worker's metrics port")

        before_worker, before_api = await _scrape(worker_url), await _scrape(api.url)
        sdk = get_client(url=api.url)
        try:
            for _ in range(2):
                thread = await sdk.threads.create()
                out = await sdk.runs.wait(thread["thread_id"], "steps3", input={})
                assert out["count"] == 3
            # one stream held open while scraping: the open-streams gauge of the API process
            thread = await sdk.threads.create()
            stream = sdk.runs.stream(thread["thread_id"], "steps10", input={"delay": 0.3}, stream_mode="values")
            first = await stream.__anext__()
            assert first.event == "metadata"
            during = await _scrape(api.url)
            assert _value(during, "clew_sse_streams_open") == 1
            async for _ in stream:
                pass
        finally:
            await sdk.http.client.aclose()

        after_worker, after_api = await _scrape(worker_url), await _scrape(api.url)
        finished = "clew_runs_finished_total"
        assert _value(after_worker, finished, graph_id="steps3", status="success") - \
            _value(before_worker, finished, graph_id="steps3", status="success") == 2
        assert _value(after_worker, finished, graph_id="steps10", status="success") == 1
        assert _value(after_worker, "clew_runs_started_total", graph_id="steps3") >= 2
        assert _value(after_worker, "clew_run_duration_seconds_count", graph_id="steps3") >= 2
        assert _value(after_worker, "clew_run_attempts_count", graph_id="steps3") >= 2
        assert _value(after_worker, "clew_run_claim_latency_seconds_count") >= 3
        assert _value(after_worker, "clew_event_batch_size_count") > 0
        assert _value(after_worker, "clew_event_batch_seconds_count") > 0
        assert _value(after_worker, "clew_workers_alive") == 1
        assert _value(after_worker, "clew_db_pool", stat="pool_max") > 0
        # database-wide gauges agree on both processes
        assert _value(after_api, "clew_runs", status="success") == 3 == _value(after_worker, "clew_runs", status="success")
        assert _value(after_api, "clew_sse_streams_open") == 0
        assert _value(after_api, "clew_http_requests_total", method="POST", status="2xx") > \
            _value(before_api, "clew_http_requests_total", method="POST", status="2xx")
        # the fenced-writes and takeover counters exist (they move in the crash tests' situations)
        async with httpx.AsyncClient(timeout=10) as c:
            text = (await c.get(worker_url + "/metrics")).text
            assert "clew_lease_takeovers_total" in text and "clew_fenced_writes_total" in text
            assert (await c.get(worker_url + "/ready")).json()["checks"]["workers"]["ok"] is True
    finally:
        worker.stop()

    # logs: every line is JSON; run lines carry run and thread ids
    for proc in (worker,):
        records = _records(proc.log_path)
        finished_lines = [r for r in records if r.get("event") == "run finished"]
        assert len(finished_lines) == 3
        assert all(r["run_id"] and r["thread_id"] and r["user_id"] == "local" for r in finished_lines)


async def test_request_logs_carry_request_and_user_ids(api: ClewProcess) -> None:
    async with httpx.AsyncClient(base_url=api.url, timeout=30) as c:
        r = await c.get("/threads/00000000-0000-0000-0000-00000000abcd", headers={"X-Request-Id": "req-log-1"})
        assert r.status_code == 404
    # the access line is written once the response went out (after the error handler's "request rejected"
    # line of the same request): wait for it
    async def logged() -> list[dict[str, Any]]:
        return [r for r in _records(api.log_path) if r.get("request_id") == "req-log-1" and r.get("event") == "request"]

    mine = await eventually(logged, timeout=30, what="the request's log line")
    records = _records(api.log_path)  # every line, uvicorn's and psycopg's too, is one JSON object
    assert mine[-1]["event"] == "request" and mine[-1]["status"] == 404
    assert mine[-1]["user_id"] == "local" and mine[-1]["path"].startswith("/threads/")
    assert all("timestamp" in r and "level" in r for r in records)


async def test_research_counters(metrics_db: str) -> None:
    """The seed's research counters (seed 000 §11.2) through the run hooks."""
    from prometheus_client import REGISTRY

    from config_schema.settings import RuntimeSettings
    from engine import metrics
    from persistence.db import Database

    db = await Database.open(RuntimeSettings(), url=metrics_db)

    class _Rt:
        pass

    rt: Any = _Rt()
    rt.db = db
    try:
        import uuid
        from datetime import UTC, datetime, timedelta

        run = {"run_id": str(uuid.uuid4()), "graph_id": "deep_research", "attempt": 1, "error": None,
               "created_at": datetime.now(UTC) - timedelta(seconds=2), "started_at": datetime.now(UTC) - timedelta(seconds=1)}

        def get(name: str, **labels: str) -> float:
            return REGISTRY.get_sample_value(name, labels) or 0.0

        started = get("research_total", status="started", report_type="deep_research")
        done = get("research_total", status="success", report_type="deep_research")
        await metrics.before_run(rt, run)
        await metrics.after_run(rt, run, "success")
        assert get("research_total", status="started", report_type="deep_research") == started + 1
        assert get("research_total", status="success", report_type="deep_research") == done + 1
        assert get("research_duration_seconds_count", report_type="deep_research") >= 1
        assert get("research_cost_dollars_count", report_type="deep_research") >= 1
        # tokens and cost by model (fed by providers.usage.UsageTracker for every model call)
        calls = get("clew_model_calls_total", model="m-test")
        metrics.model_call("m-test", 120, 30, 0.002)
        assert get("clew_model_calls_total", model="m-test") == calls + 1
        assert get("clew_model_tokens_total", model="m-test", direction="input") >= 120
        assert get("clew_model_tokens_total", model="m-test", direction="output") >= 30
        assert get("clew_model_cost_usd_total", model="m-test") >= 0.002
    finally:
        await db.close()


async def test_metrics_need_an_admin_when_auth_is_on(server: Any, keys: dict[str, str]) -> None:
    """The shared server (api_key auth, alice admin): bob may not scrape, alice may, nobody anonymous."""
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as c:
        assert (await c.get("/metrics")).status_code == 401
        assert (await c.get("/metrics", headers={"x-api-key": keys["bob"]})).status_code == 403
        r = await c.get("/metrics", headers={"x-api-key": keys["alice"]})
        assert r.status_code == 200 and "clew_runs" in r.text
