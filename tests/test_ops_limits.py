"""Per-user limits: rate limits by route class with 429 + Retry-After, counters shared by every process
(Postgres, or Redis when configured), the per-user cap on queued runs, the upload class.

Two API processes without workers share one database, so runs stay queued and a user's hits on either
process count against the same window.
"""

from __future__ import annotations

import asyncio
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from langgraph_sdk import get_client
from langgraph_sdk.errors import RateLimitError

from api.rate_limits import classify
from tests.support.core import db_rows
from tests.support.keys import make_key
from tests.support.pg import create_database, drop_database
from tests.support.server import ClewProcess

LIMITS = {
    "CLEW_AUTH": "api_key",
    "CLEW_RATE_LIMITS_ENABLED": "true",
    "CLEW_RATE_LIMIT_RUNS": "4/hour",
    "CLEW_RATE_LIMIT_OTHER": "40/hour",
    "CLEW_RATE_LIMIT_UPLOADS": "1/hour",
    "CLEW_MAX_QUEUED_RUNS": "3",
}


@pytest.fixture(scope="module")
def limits_db() -> Iterator[str]:
    url = create_database("clew_limits")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def pair(limits_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClewProcess, ClewProcess]]:
    data = tmp_path_factory.mktemp("limits")
    a = ClewProcess(limits_db, data, workers=0, env=LIMITS).start()
    b = ClewProcess(limits_db, tmp_path_factory.mktemp("limits-b"), workers=0, env=LIMITS).start()
    yield a, b
    b.stop()
    a.stop()


@pytest.fixture(scope="module")
def user_keys(limits_db: str, pair: Any) -> dict[str, str]:
    return {u: make_key(limits_db, u) for u in ("ann", "ben", "cat", "dan")}


def _c(server: ClewProcess, key: str) -> httpx.AsyncClient:
    return httpx.AsyncClient(base_url=server.url, headers={"x-api-key": key}, timeout=30.0)


def _assert_429(r: httpx.Response, route_class: str) -> None:
    assert r.status_code == 429, r.text
    assert int(r.headers["retry-after"]) >= 1
    body = r.json()
    assert body["error"] == "rate_limited" and body["route_class"] == route_class and body["retry_after"] >= 1


async def test_other_routes_limit_is_per_user_and_shared_by_processes(pair: Any, user_keys: dict[str, str]) -> None:
    a, b = pair
    async with _c(a, user_keys["ann"]) as on_a, _c(b, user_keys["ann"]) as on_b:
        answers = []
        for i in range(40):  # alternate processes: one shared window of 40
            r = await (on_a if i % 2 else on_b).post("/threads/search", json={})
            answers.append(r.status_code)
        assert answers == [200] * 40
        _assert_429(await on_a.post("/threads/search", json={}), "other")
        assert (await on_b.get("/info")).status_code == 200  # public routes are not counted
        _assert_429(await on_b.post("/threads", json={}), "other")
    async with _c(a, user_keys["ben"]) as ben:
        assert (await ben.post("/threads/search", json={})).status_code == 200  # another user: own window


async def test_queued_runs_cap_and_run_creation_limit(pair: Any, user_keys: dict[str, str], limits_db: str) -> None:
    a, b = pair
    async with _c(a, user_keys["cat"]) as cat, _c(b, user_keys["cat"]) as cat_b:
        tid = (await cat.post("/threads", json={})).json()["thread_id"]
        for client in (cat, cat_b, cat):
            r = await client.post(f"/threads/{tid}/runs", json={"assistant_id": "steps3", "input": {}})
            assert r.status_code == 200, r.text
        # 3 queued (no workers): the fourth is refused by the cap and changes nothing
        r = await cat_b.post(f"/threads/{tid}/runs", json={"assistant_id": "steps3", "input": {}})
        _assert_429(r, "queued_runs")
        rows = await db_rows(limits_db, "SELECT count(*) AS n FROM runs WHERE thread_id = %s", (tid,))
        assert rows[0]["n"] == 3
        # the 4/hour window of run creation is spent now (4 attempts); the stream route counts too
        r = await cat.post(f"/threads/{tid}/runs/stream", json={"assistant_id": "steps3", "input": {}})
        _assert_429(r, "runs")
        # reads are another class
        assert (await cat.get(f"/threads/{tid}/runs")).status_code == 200


BURST = {**LIMITS, "CLEW_RATE_LIMIT_RUNS": "500/hour", "CLEW_RATE_LIMIT_OTHER": "500/hour", "CLEW_MAX_QUEUED_RUNS": "5"}


@pytest.fixture(scope="module")
def burst_pair(limits_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClewProcess, ClewProcess]]:
    """Two more API processes (no workers) with a cap of 5 queued runs and room in the rate windows."""
    a = ClewProcess(limits_db, tmp_path_factory.mktemp("burst-a"), workers=0, env=BURST).start()
    b = ClewProcess(limits_db, tmp_path_factory.mktemp("burst-b"), workers=0, env=BURST).start()
    yield a, b
    b.stop()
    a.stop()


async def test_queued_runs_cap_is_exact_under_a_burst(burst_pair: Any, limits_db: str) -> None:
    """N concurrent run creations by one user, spread over two processes and over N threads (no thread lock
    serializes them), with the cap at K: exactly K runs are queued, the other N - K are 429 with Retry-After."""
    n, cap = 24, 5
    a, b = burst_pair
    key = make_key(limits_db, "eve")
    clients = [get_client(url=a.url, api_key=key), get_client(url=b.url, api_key=key)]
    threads = [(await clients[i % 2].threads.create())["thread_id"] for i in range(n)]

    async def create(i: int) -> str | int:
        try:
            run = await clients[i % 2].runs.create(threads[i], "steps3", input={})
        except RateLimitError as exc:
            assert int(exc.response.headers["retry-after"]) >= 1
            body = exc.response.json()
            assert body["route_class"] == "queued_runs" and body["retry_after"] >= 1, body
            return 429
        return str(run["run_id"])

    answers = await asyncio.gather(*(create(i) for i in range(n)))
    created = [x for x in answers if isinstance(x, str)]
    assert len(created) == cap and answers.count(429) == n - cap, answers
    rows = await db_rows(limits_db, "SELECT run_id::text AS run_id FROM runs WHERE user_id = %s AND status = 'pending'",
                         ("eve",))
    assert sorted(r["run_id"] for r in rows) == sorted(created)


async def test_upload_class(pair: Any, user_keys: dict[str, str]) -> None:
    a, _ = pair
    async with _c(a, user_keys["dan"]) as dan:
        first = await dan.post("/api/v1/knowledge/upload", files={"file": ("a.md", b"# A\n\nSome text.", "text/markdown")})
        assert first.status_code in (201, 202, 503), first.text  # counted whatever the knowledge base says
        second = await dan.post("/api/v1/knowledge/upload", files={"file": ("b.md", b"# B\n\nMore.", "text/markdown")})
        _assert_429(second, "uploads")


def test_classify() -> None:
    assert classify("POST", "/threads/x/runs") == ["runs"]
    assert classify("POST", "/threads/x/runs/stream") == ["runs"]
    assert classify("POST", "/runs/wait") == ["runs"]
    assert classify("POST", "/api/v1/research/start") == ["research", "runs"]
    assert classify("POST", "/threads/x/runs/y/cancel") == ["other"]
    assert classify("POST", "/api/v1/knowledge/upload", "multipart/form-data; boundary=x") == ["uploads"]
    assert classify("GET", "/threads/x/runs") == ["other"]


def _redis_up() -> bool:
    try:
        with socket.create_connection(("127.0.0.1", 6379), timeout=1):
            return True
    except OSError:
        return False


async def test_redis_storage(limits_db: str, tmp_path: Path) -> None:
    """With CLEW_RATE_LIMIT_STORAGE=redis://… the counters live in Redis (the `limits` library's storage)."""
    if not _redis_up():
        pytest.fail("Redis is expected on 127.0.0.1:6379 (CI and these machines run one)")
    from api.rate_limits import Limiter, RateLimited
    from config_schema.settings import RuntimeSettings

    class _Rt:
        settings = RuntimeSettings(rate_limit_storage="redis://127.0.0.1:6379/0", rate_limit_other="3/minute")
        db: Any = None
        services: dict[str, Any] = {}

    first, second = Limiter(_Rt()), Limiter(_Rt())  # two processes' limiters, one Redis
    who = f"test-{uuid.uuid4()}"
    await first.check_request(who, "GET", "/threads/x", "")
    await second.check_request(who, "GET", "/threads/x", "")
    await first.check_request(who, "GET", "/threads/x", "")
    with pytest.raises(RateLimited) as exc:
        await second.check_request(who, "GET", "/threads/x", "")
    assert exc.value.status == 429 and 1 <= int(exc.value.headers["Retry-After"]) <= 60
    await first.strategy.clear(first.items["other"], "other", who)
