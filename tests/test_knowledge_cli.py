"""``clew ingest``: through a running server (real uvicorn on 127.0.0.1) and directly when none answers."""

from __future__ import annotations

import asyncio
import io
import socket
import types
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI
from rich.console import Console

from api import errors
from api.auth import User
from api.deps import current_user
from api.routers import knowledge as knowledge_router
from cli.ingest import ingest_paths
from config_schema.settings import RuntimeSettings
from persistence.db import Database
from retrieval.knowledge import KnowledgeBase
from tests.support.knowledge import make_kb, make_pdf


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
async def server(knowledge_db: Database, tmp_path: Path) -> AsyncIterator[tuple[str, KnowledgeBase]]:
    kb = await make_kb(knowledge_db, tmp_path / "server")
    kb.background_bytes = 5_000
    app = FastAPI()
    app.state.runtime = types.SimpleNamespace(
        db=knowledge_db, settings=RuntimeSettings(auth="none"), knowledge=kb
    )
    app.include_router(knowledge_router.router)
    errors.install(app)
    app.dependency_overrides[current_user] = lambda: User(user_id="cli-server-user")

    @app.get("/ok")
    async def ok() -> dict[str, bool]:
        return {"ok": True}

    # A listening socket bound before the server starts: connections wait in its backlog, no polling.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(64)
    port = sock.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off"))
    task = asyncio.create_task(srv.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}", kb
    finally:
        srv.should_exit = True
        await task
        sock.close()
        await kb.close()


def _tree(root: Path) -> Path:
    docs = root / "docs"
    (docs / "sub").mkdir(parents=True)
    (docs / "a.txt").write_text("Hedgehogs hibernate through the winter months.")
    (docs / "sub" / "b.md").write_text("# Owls\n\nBarn owls hunt voles at dusk.")
    (docs / "sub" / "c.pdf").write_bytes(make_pdf(["Lichens are a partnership of fungus and alga. " * 60]))
    (docs / "ignored.bin").write_bytes(b"\x00\x01")
    return docs


async def test_ingest_through_running_server(server: tuple[str, KnowledgeBase], tmp_path: Path) -> None:
    url, kb = server
    docs = _tree(tmp_path)
    (tmp_path / "bad.pdf").write_bytes(b"%PDF-1.4 broken")
    buf = io.StringIO()
    out = await ingest_paths(
        [docs, tmp_path / "bad.pdf", tmp_path / "missing.txt"], url, console=Console(file=buf, width=120)
    )
    text = buf.getvalue()
    assert out.mode == "server"
    assert f"through the clew server at {url}" in text
    assert sorted(Path(p).name for p in out.ok) == ["a.txt", "b.md", "c.pdf"]  # c.pdf went to the background
    assert set(out.failed) == {str(tmp_path / "bad.pdf"), str(tmp_path / "missing.txt")}
    assert out.exit_code == 1
    assert {d.filename for d in await kb.list_documents("cli-server-user")} == {"a.txt", "b.md", "c.pdf"}
    assert (await kb.search("cli-server-user", "barn owls voles"))[0].source == "b.md"


async def test_ingest_directly_when_no_server(knowledge_db: Database, tmp_path: Path) -> None:
    docs = _tree(tmp_path)
    settings = RuntimeSettings(data_dir=tmp_path / "data", database_url=knowledge_db.url, pool_min_size=1)
    buf = io.StringIO()
    url = f"http://127.0.0.1:{_free_port()}"
    out = await ingest_paths(
        [docs],
        url,
        local_fallback=True,
        settings=settings,
        user_id="cli-user",
        console=Console(file=buf, width=120),
    )
    text = buf.getvalue()
    assert out.mode == "local" and out.exit_code == 0, text
    assert "writing directly to the embedded Qdrant in" in text
    assert len(out.ok) == 3

    # The same directory opened afterwards holds the documents.
    kb = await make_kb(knowledge_db, tmp_path / "data")
    try:
        assert (await kb.search("cli-user", "hedgehogs hibernate"))[0].source == "a.txt"
    finally:
        await kb.close()

    # An explicit server that does not answer is an error, not a silent local write.
    out = await ingest_paths([docs / "a.txt"], url, settings=settings, console=Console(file=io.StringIO()))
    assert out.mode == "local" and out.exit_code == 1 and not out.ok


async def test_ingest_directly_refuses_a_directory_in_use(knowledge_db: Database, tmp_path: Path) -> None:
    from qdrant_client import QdrantClient

    settings = RuntimeSettings(data_dir=tmp_path / "data", database_url=knowledge_db.url, pool_min_size=1)
    settings.qdrant_dir.mkdir(parents=True)
    holder = QdrantClient(path=str(settings.qdrant_dir))  # another "process" owns the directory
    try:
        (tmp_path / "x.txt").write_text("some text")
        buf = io.StringIO()
        out = await ingest_paths(
            [tmp_path / "x.txt"],
            f"http://127.0.0.1:{_free_port()}",
            local_fallback=True,
            settings=settings,
            console=Console(file=buf, width=200),
        )
        assert out.exit_code == 1
        assert "cannot open the knowledge base" in buf.getvalue()
    finally:
        holder.close()
