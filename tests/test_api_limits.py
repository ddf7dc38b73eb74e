"""Hostile input never reaches a 500 and never leaves a row behind (api/limits.py, the store's checks).

Each case is sent raw (httpx), so the exact status and error body are asserted, and the table counts before
and after prove that nothing was written.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.support.core import http, table_counts

BIG = 18446744073709551616  # 2**64: stored by jsonb, but no longer writable as JSON by orjson


@pytest.mark.parametrize(("method", "path", "body"), [
    ("POST", "/threads", {"metadata": {"n": BIG}}),
    ("POST", "/threads", {"metadata": {"deep": {"n": -(2**63) - 1}}}),
    ("POST", "/assistants", {"graph_id": "steps3", "metadata": {"n": BIG}}),
    ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {"n": BIG}}),
    ("PUT", "/store/items", {"namespace": ["a"], "key": "k", "value": {"s": "nul\u0000inside"}}),
    ("POST", "/threads", {"metadata": {"s": "\ud800"}}),
    ("POST", "/threads/search", {"metadata": {"x": "a\u0000b"}}),
])
async def test_unstorable_json_is_refused_before_anything_is_written(
    server: Any, keys: dict[str, str], db_url: str, method: str, path: str, body: dict[str, Any]
) -> None:
    async with http(server, keys["alice"], **{"content-type": "application/json"}) as api:
        before = await table_counts(db_url)
        resp = await api.request(method, path, content=json.dumps(body).encode("utf-8", "surrogatepass"))
        assert resp.status_code == 422, resp.text
        assert resp.json()["error"] == "invalid"
        assert await table_counts(db_url) == before
        assert (await api.post("/threads/search", json={})).status_code == 200


async def test_run_metadata_and_input_with_unstorable_numbers(server: Any, keys: dict[str, str], db_url: str) -> None:
    async with http(server, keys["alice"], **{"content-type": "application/json"}) as api:
        tid = (await api.post("/threads", json={})).json()["thread_id"]
        before = await table_counts(db_url)
        for body in ({"assistant_id": "steps3", "metadata": {"n": BIG}},
                     {"assistant_id": "steps3", "input": {"count": BIG}}):
            resp = await api.post(f"/threads/{tid}/runs", content=json.dumps(body))
            assert resp.status_code == 422, resp.text
        for raw in (b'{"assistant_id": "steps3", "input": {"count": NaN}}',
                    b'{"assistant_id": "steps3", "input": {"count": Infinity}}',
                    b'{"assistant_id": "steps3", "input": {"count": 1e999}}'):
            resp = await api.post(f"/threads/{tid}/runs", content=raw)
            assert resp.status_code == 422, resp.text
        assert await table_counts(db_url) == before


async def test_body_size_limit_is_413_with_a_json_body(server: Any, keys: dict[str, str], db_url: str) -> None:
    async with http(server, keys["alice"], **{"content-type": "application/json"}) as api:
        before = await table_counts(db_url)
        big = json.dumps({"metadata": {"blob": "x" * (9 * 1024 * 1024)}})
        resp = await api.post("/threads", content=big)
        assert resp.status_code == 413, resp.text
        assert resp.json()["error"] == "too_large" and "CLEW_MAX_BODY_BYTES" in resp.json()["detail"]

        async def chunks() -> Any:  # no Content-Length: counted while read
            for _ in range(10):
                yield b"x" * (1024 * 1024)

        resp = await api.post("/threads", content=chunks())
        assert resp.status_code == 413, resp.text
        assert await table_counts(db_url) == before


async def test_per_field_limits(server: Any, keys: dict[str, str], db_url: str) -> None:
    async with http(server, keys["alice"]) as api:
        before = await table_counts(db_url)
        many = {f"k{i}": i for i in range(100_000)}
        resp = await api.post("/threads", json={"metadata": many})
        assert resp.status_code == 422 and "at most 512 keys" in resp.text, resp.text
        resp = await api.post("/threads", json={"metadata": {"text": "y" * 100_000}})
        assert resp.status_code == 422 and "bytes" in resp.text, resp.text
        resp = await api.put("/store/items", json={"namespace": ["n" * 300], "key": "k", "value": {}})
        assert resp.status_code == 422, resp.text
        resp = await api.put("/store/items", json={"namespace": ["a"], "key": "k" * 2000, "value": {}})
        assert resp.status_code == 422, resp.text
        assert await table_counts(db_url) == before


async def test_types_are_taken_strictly_and_store_input_is_checked(server: Any, keys: dict[str, str]) -> None:
    async with http(server, keys["alice"]) as api:
        for path in ("/threads/search", "/assistants/search", "/store/items/search"):
            resp = await api.post(path, json={"offset": False})
            assert resp.status_code == 422, (path, resp.text)
            resp = await api.post(path, json={"limit": True})
            assert resp.status_code == 422, (path, resp.text)
        resp = await api.post("/store/items/search", json={"namespace_prefix": [], "filter": {"a": {"$bogus": 1}}})
        assert resp.status_code == 422 and "$bogus" in resp.text, resp.text
        resp = await api.post("/store/items/search", json={"filter": {"a": {"$gte": 1}}})
        assert resp.status_code == 200, resp.text
        resp = await api.put("/store/items", json={"namespace": ["a"], "key": "k", "value": {}, "ttl": -1})
        assert resp.status_code == 422, resp.text
        for path in ("/store/items?namespace=a%00b&key=k", "/store/items?namespace%5B%5D=a%00b&key=k"):
            resp = await api.get(path)
            assert resp.status_code == 422, (path, resp.text)
        resp = await api.request("DELETE", "/store/items", json={"namespace": ["a\u0000b"], "key": "k"})
        assert resp.status_code == 422, resp.text
        resp = await api.post("/store/namespaces", json={"prefix": ["a\u0000"]})
        assert resp.status_code == 422, resp.text
