"""Knowledge-base HTTP routes: upload (201 / 202), errors (413, 415, 422, 400) that store nothing, list,
get, delete (404 for another user's document) and search, on a small app around the real router."""

from __future__ import annotations

import types
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Request

from api import errors
from api.auth import User
from api.deps import current_user
from api.routers import knowledge as knowledge_router
from config_schema.settings import RuntimeSettings
from persistence.db import Database
from retrieval.knowledge import KnowledgeBase
from tests.support.knowledge import filler, make_docx, make_kb, make_pdf, wait_background


class _DefaultConfig:
    """The configuration service as the router uses it: every user has the declared defaults."""

    async def user_resolved(self, user_id: str, *, verify: bool = True) -> types.SimpleNamespace:
        return types.SimpleNamespace(values={})


def _app(db: Database, kb: KnowledgeBase | None) -> FastAPI:
    app = FastAPI()
    app.state.runtime = types.SimpleNamespace(
        db=db, settings=RuntimeSettings(auth="none"), knowledge=kb, config=_DefaultConfig()
    )
    app.include_router(knowledge_router.router)
    errors.install(app)

    async def test_user(request: Request) -> User:
        # Tests act as several users; the header stands in for credentials.
        return User(user_id=request.headers.get("x-test-user", "local"))

    app.dependency_overrides[current_user] = test_user
    return app


@pytest.fixture
async def api(
    knowledge_db: Database, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, KnowledgeBase]]:
    kb = await make_kb(knowledge_db, tmp_path)
    transport = httpx.ASGITransport(app=_app(knowledge_db, kb))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client, kb
    await kb.close()


async def _stored(kb: KnowledgeBase, user: str) -> tuple[int, int]:
    row = await kb.db.fetchone("SELECT count(*) AS n FROM documents WHERE user_id = %s", (user,))
    assert row is not None
    return int(row["n"]), await kb.store.count(user)


def _upload(client: httpx.AsyncClient, user: str, name: str, data: bytes) -> object:
    return client.post(
        "/api/v1/knowledge/upload", files={"file": (name, data)}, headers={"x-test-user": user}
    )


async def test_upload_list_search_delete(api: tuple[httpx.AsyncClient, KnowledgeBase]) -> None:
    client, _ = api
    pdf = make_pdf([filler(20, 1), "The okapi is a forest giraffe of the Congo basin. " + filler(5, 2)])
    r = await _upload(client, "ann", "animals.pdf", pdf)
    assert r.status_code == 201, r.text
    doc = r.json()
    assert doc["status"] == "ready" and doc["chunk_count"] >= 1 and doc["content_type"] == "application/pdf"

    r = await _upload(client, "ann", "notes.docx", make_docx("Notes", ["Tapirs browse leaves at night."]))
    assert r.status_code == 201, r.text

    r = await client.get("/api/v1/knowledge/documents", headers={"x-test-user": "ann"})
    assert r.status_code == 200
    assert r.json()["total"] == 2
    assert {d["filename"] for d in r.json()["documents"]} == {"animals.pdf", "notes.docx"}

    r = await client.post(
        "/api/v1/knowledge/search",
        json={"query": "okapi forest giraffe", "k": 3},
        headers={"x-test-user": "ann"},
    )
    assert r.status_code == 200
    results = r.json()["results"]
    assert results[0]["source"] == "animals.pdf" and "okapi" in results[0]["text"]
    assert results[0]["metadata"]["page"] == 2

    # Another user sees nothing of ann's, and cannot read or delete her document.
    r = await client.post(
        "/api/v1/knowledge/search", json={"query": "okapi giraffe"}, headers={"x-test-user": "ben"}
    )
    assert r.json()["results"] == []
    assert (await client.get("/api/v1/knowledge/documents", headers={"x-test-user": "ben"})).json()[
        "total"
    ] == 0
    for method in ("GET", "DELETE"):
        r = await client.request(
            method, f"/api/v1/knowledge/documents/{doc['document_id']}", headers={"x-test-user": "ben"}
        )
        assert r.status_code == 404 and r.json()["error"] == "not_found"

    r = await client.get(f"/api/v1/knowledge/documents/{doc['document_id']}", headers={"x-test-user": "ann"})
    assert r.status_code == 200 and r.json()["filename"] == "animals.pdf"
    r = await client.delete(
        f"/api/v1/knowledge/documents/{doc['document_id']}", headers={"x-test-user": "ann"}
    )
    assert r.status_code == 200 and r.json() == {"document_id": doc["document_id"], "deleted": True}
    r = await client.post(
        "/api/v1/knowledge/search", json={"query": "okapi giraffe"}, headers={"x-test-user": "ann"}
    )
    assert r.json()["results"] == []
    r = await client.delete(
        f"/api/v1/knowledge/documents/{doc['document_id']}", headers={"x-test-user": "ann"}
    )
    assert r.status_code == 404
    r = await client.delete("/api/v1/knowledge/documents/not-a-uuid", headers={"x-test-user": "ann"})
    assert r.status_code == 404


@pytest.mark.parametrize(
    ("name", "data", "status", "error"),
    [
        ("corrupt.pdf", b"%PDF-1.5\n1 0 obj << /Type /Catalog >> broken", 422, "corrupt_file"),
        ("truncated.pdf", make_pdf(["some text on a page"])[:300], 422, "corrupt_file"),
        ("corrupt.docx", b"PK\x03\x04\x14\x00garbage-not-a-zip", 422, "corrupt_file"),
        ("empty.txt", b"", 422, "empty_document"),
        ("picture.png", b"\x89PNG\r\n\x1a\n\x00\x00", 415, "unsupported_type"),
        ("fake.pdf", b"just some text pretending", 415, "unsupported_type"),
        ("binary.txt", b"\x00\x01\x02\x03" * 50, 415, "unsupported_type"),
        ("zip.docx", b"PK\x03\x04" + b"\x00" * 26, 422, "corrupt_file"),
    ],
)
async def test_bad_uploads_are_refused_and_store_nothing(
    api: tuple[httpx.AsyncClient, KnowledgeBase], name: str, data: bytes, status: int, error: str
) -> None:
    client, kb = api
    user = f"bad-{name}"
    r = await _upload(client, user, name, data)
    assert r.status_code == status, r.text
    body = r.json()
    assert body["error"] == error and body["detail"]
    assert await _stored(kb, user) == (0, 0)


async def test_too_large_uploads_get_413(api: tuple[httpx.AsyncClient, KnowledgeBase]) -> None:
    client, kb = api
    # The default limit (50 MB), refused from the declared length before the body is read.
    big = b"a" * (50 * 1024 * 1024 + 1)
    r = await _upload(client, "huge", "big.txt", big)
    assert r.status_code == 413 and r.json()["error"] == "too_large"
    del big

    # A lowered limit, with a chunked body (no Content-Length): refused while it is being read.
    kb.max_upload_bytes = 100_000
    boundary = "clewtestboundary"
    head = (
        f'--{boundary}\r\nContent-Disposition: form-data; name="file"; filename="big.txt"\r\n'
        "Content-Type: text/plain\r\n\r\n"
    ).encode()

    async def body() -> AsyncIterator[bytes]:
        yield head
        for _ in range(40):
            yield b"word " * 2000
        yield f"\r\n--{boundary}--\r\n".encode()

    r = await client.post(
        "/api/v1/knowledge/upload",
        content=body(),
        headers={"content-type": f"multipart/form-data; boundary={boundary}", "x-test-user": "huge"},
    )
    assert r.status_code == 413 and r.json()["error"] == "too_large"

    # Just over the limit with framing that fits the slack: caught by the exact file-size check.
    r = await _upload(client, "huge", "edge.txt", b"b" * 100_001)
    assert r.status_code == 413
    assert await _stored(kb, "huge") == (0, 0)


async def test_malformed_requests(api: tuple[httpx.AsyncClient, KnowledgeBase]) -> None:
    client, _ = api
    r = await client.post("/api/v1/knowledge/upload", json={"file": "x"})
    assert r.status_code == 415 and r.json()["error"] == "unsupported_media_type"
    r = await client.post("/api/v1/knowledge/upload", files={"other": ("a.txt", b"hello")})
    assert r.status_code == 422 and "file" in r.json()["detail"]
    r = await client.post(
        "/api/v1/knowledge/upload",
        content=b"--x\r\nbroken",
        headers={"content-type": "multipart/form-data; boundary=x"},
    )
    assert r.status_code in (400, 422), r.text
    assert "error" in r.json()
    r = await client.post("/api/v1/knowledge/search", json={"query": ""})
    assert r.status_code == 422
    r = await client.post("/api/v1/knowledge/search", json={"query": "x", "k": 1000})
    assert r.status_code == 422
    r = await client.post("/api/v1/knowledge/search", json={"query": "   "})
    assert r.status_code == 422


async def test_large_file_goes_to_background(api: tuple[httpx.AsyncClient, KnowledgeBase]) -> None:
    client, kb = api
    kb.background_bytes = 10_000
    data = (filler(200, 3) + " Axolotls regrow their limbs. " + filler(20, 4)).encode()
    r = await _upload(client, "cat", "long.md", data)
    assert r.status_code == 202, r.text
    doc = r.json()
    assert doc["status"] == "pending"
    await wait_background(kb)
    r = await client.get(f"/api/v1/knowledge/documents/{doc['document_id']}", headers={"x-test-user": "cat"})
    assert r.json()["status"] == "ready" and r.json()["chunk_count"] > 1
    r = await client.post(
        "/api/v1/knowledge/search", json={"query": "axolotl limbs"}, headers={"x-test-user": "cat"}
    )
    assert "Axolotls" in r.json()["results"][0]["text"]


async def test_no_knowledge_base_is_503(knowledge_db: Database) -> None:
    transport = httpx.ASGITransport(app=_app(knowledge_db, None))
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        r = await client.get("/api/v1/knowledge/documents")
        assert r.status_code == 503 and r.json()["error"] == "unavailable"
