"""KnowledgeBase service: ingestion of each file type, search finding the right chunk, user isolation,
deletion with chunks, refused files storing nothing, background ingestion and hybrid (dense) search."""

from __future__ import annotations

from pathlib import Path

import pytest
from langchain_core.embeddings import DeterministicFakeEmbedding

from persistence.db import Database
from retrieval.extract import CorruptFileError, EmptyDocumentError
from retrieval.knowledge import KnowledgeBase
from retrieval.knowledge.errors import DocumentNotFoundError, FileTooLargeError, ServiceUnavailableError
from retrieval.knowledge.filetypes import UnsupportedFileTypeError
from tests.support.knowledge import filler, make_docx, make_kb, make_pdf, wait_background


async def _row_count(db: Database, user_id: str) -> int:
    row = await db.fetchone("SELECT count(*) AS n FROM documents WHERE user_id = %s", (user_id,))
    assert row is not None
    return int(row["n"])


def _files() -> dict[str, tuple[bytes, str, str]]:
    """filename -> (content, query, a phrase the best hit must contain)."""
    txt = (
        filler(20, 1)
        + "\n\nThe Andromeda galaxy is a barred spiral galaxy about 2.5 million light-years away.\n\n"
        + filler(20, 2)
    )
    md = (
        "# Baking notes\n\n"
        + filler(15, 3)
        + "\n\n## Starter\n\nA sourdough starter ferments flour with wild yeast and lactobacilli.\n\n"
        + filler(15, 4)
    )
    html = (
        "<html><head><title>Volcano field guide</title></head><body><nav>Home | About</nav>"
        f"<article><h1>Volcano field guide</h1><p>{filler(12, 5)}</p>"
        "<p>Basalt lava from shield volcanoes flows far because it is poor in silica.</p>"
        f"<p>{filler(12, 6)}</p></article><footer>Copyright</footer></body></html>"
    )
    pdf = make_pdf(
        [
            filler(25, 7),
            filler(6, 8) + " Photosynthesis in chloroplasts turns sunlight into sugar. " + filler(6, 9),
            filler(25, 10),
        ]
    )
    docx = make_docx(
        "Glaciology primer",
        [filler(10, 11), "A terminal moraine marks the furthest advance of a glacier.", filler(10, 12)],
        table=[["Feature", "Meaning"], ["Cirque", "bowl carved at a glacier head"]],
    )
    return {
        "notes.txt": (txt.encode(), "Andromeda spiral galaxy", "Andromeda galaxy"),
        "baking.md": (md.encode(), "sourdough starter wild yeast", "sourdough starter"),
        "volcano.html": (html.encode(), "basalt lava silica", "Basalt lava"),
        "biology.pdf": (pdf, "photosynthesis chloroplasts sunlight", "Photosynthesis"),
        "glaciers.docx": (docx, "terminal moraine glacier", "terminal moraine"),
    }


async def test_ingest_each_type_and_search_finds_the_right_chunk(kb: KnowledgeBase) -> None:
    user = "alice-types"
    for name, (data, _, _) in _files().items():
        doc = await kb.ingest_file(user, name, data)
        assert doc.status == "ready", (name, doc.error)
        assert doc.chunk_count >= 1
        assert doc.filename == name
    docs = await kb.list_documents(user)
    assert sorted(d.filename for d in docs) == sorted(_files())
    assert {d.content_type for d in docs} >= {"application/pdf", "text/html", "text/markdown"}

    for name, (_, query, phrase) in _files().items():
        hits = await kb.search(user, query, k=3)
        assert hits, name
        assert hits[0].source == name, (name, [h.source for h in hits])
        assert phrase in hits[0].text
        assert hits[0].score == pytest.approx(1.0)
        assert hits[0].document_id == str(next(d.document_id for d in docs if d.filename == name))

    pdf_hit = (await kb.search(user, "photosynthesis chloroplasts", k=1))[0]
    assert 2 in pdf_hit.metadata["pages"]  # chunks know every page they cover
    docx_table = await kb.search(user, "cirque bowl", k=1)
    assert docx_table and "Cirque" in docx_table[0].text
    html_doc = next(d for d in docs if d.filename == "volcano.html")
    assert html_doc.title == "Volcano field guide"
    assert next(d for d in docs if d.filename == "glaciers.docx").title == "Glaciology primer"


async def test_user_isolation_in_search_list_and_delete(kb: KnowledgeBase) -> None:
    secret = "The vault combination of Bob is kept in the zeppelin hangar."
    bob_doc = await kb.ingest_file("bob", "bob.txt", secret.encode())
    carol_doc = await kb.ingest_file(
        "carol", "carol.txt", b"Carol writes about zeppelin airships and hangars."
    )

    assert [h.document_id for h in await kb.search("bob", "zeppelin hangar")] == [str(bob_doc.document_id)]
    carol_hits = await kb.search("carol", "zeppelin hangar vault combination")
    assert [h.document_id for h in carol_hits] == [str(carol_doc.document_id)]
    assert await kb.search("mallory", "zeppelin vault combination") == []
    assert [d.filename for d in await kb.list_documents("carol")] == ["carol.txt"]

    with pytest.raises(DocumentNotFoundError):
        await kb.delete_document("carol", bob_doc.document_id)
    with pytest.raises(DocumentNotFoundError):
        await kb.get_document("carol", bob_doc.document_id)
    assert await kb.search("bob", "zeppelin vault")  # untouched by carol's attempt
    assert await kb.store.count("bob") == 1

    deleted = await kb.delete_document("bob", str(bob_doc.document_id))
    assert deleted.document_id == bob_doc.document_id
    assert await kb.search("bob", "zeppelin vault") == []
    assert await kb.store.count("bob") == 0
    assert await kb.list_documents("bob") == []
    assert await kb.store.count("carol") == 1
    with pytest.raises(DocumentNotFoundError):
        await kb.delete_document("bob", bob_doc.document_id)
    with pytest.raises(DocumentNotFoundError):
        await kb.delete_document("bob", "not-a-uuid")


@pytest.mark.parametrize(
    ("name", "data", "error"),
    [
        ("broken.pdf", b"%PDF-1.7\n" + b"\x00garbage" * 200, CorruptFileError),
        ("truncated.pdf", make_pdf(["a page of text"])[:200], CorruptFileError),
        ("image.pdf", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, UnsupportedFileTypeError),
        ("archive.docx", b"PK\x03\x04" + b"\x00" * 100, CorruptFileError),
        ("notes.exe", b"MZ\x90\x00", UnsupportedFileTypeError),
        ("noext", b"hello", UnsupportedFileTypeError),
        ("photo.txt", b"\x89PNG\r\n\x1a\n" + b"\x00" * 100, UnsupportedFileTypeError),
        ("renamed.md", make_pdf(["x"]), UnsupportedFileTypeError),
        ("empty.txt", b"", EmptyDocumentError),
        ("blank.md", b"   \n\n  ", EmptyDocumentError),
        ("blank.pdf", make_pdf([""]), EmptyDocumentError),
    ],
)
async def test_refused_files_store_nothing(kb: KnowledgeBase, name: str, data: bytes, error: type) -> None:
    user = f"refused-{name}"
    with pytest.raises(error):
        await kb.ingest_file(user, name, data)
    assert await _row_count(kb.db, user) == 0
    assert await kb.store.count(user) == 0


async def test_too_large_is_refused(knowledge_db: Database, tmp_path: Path) -> None:
    small = await make_kb(knowledge_db, tmp_path, max_upload_bytes=1000)
    try:
        with pytest.raises(FileTooLargeError):
            await small.ingest_file("big", "big.txt", b"word " * 300)
        assert await _row_count(knowledge_db, "big") == 0
        assert await small.store.count("big") == 0
    finally:
        await small.close()


async def test_background_ingestion_reports_status(kb: KnowledgeBase) -> None:
    data = (
        filler(400, 20) + " The quokka is a small wallaby living on Rottnest Island. " + filler(50, 21)
    ).encode()
    doc = await kb.ingest_file("dave", "big.txt", data, background=True)
    assert doc.status == "pending"
    assert doc.chunk_count == 0
    await wait_background(kb)
    done = await kb.get_document("dave", doc.document_id)
    assert done.status == "ready"
    assert done.chunk_count > 10
    hits = await kb.search("dave", "quokka wallaby Rottnest")
    assert hits and "quokka" in hits[0].text
    assert not list((kb.spool_dir or Path("/nonexistent")).iterdir())

    # A damaged file is refused at upload even when it would go to the background.
    with pytest.raises(CorruptFileError):
        await kb.ingest_file("dave", "bad.pdf", b"%PDF-1.4 nothing else", background=True)
    assert [d.filename for d in await kb.list_documents("dave")] == ["big.txt"]

    # A problem found only during background processing ends in status error, with no chunks kept.
    blank = await kb.ingest_file("dave", "scan.pdf", make_pdf(["", "", ""]), background=True)
    await wait_background(kb)
    failed = await kb.get_document("dave", blank.document_id)
    assert failed.status == "error" and "no extractable text" in (failed.error or "")
    assert failed.chunk_count == 0
    assert await kb.store.count("dave") == done.chunk_count


async def test_background_ingestion_resumes_after_restart(knowledge_db: Database, tmp_path: Path) -> None:
    first = await make_kb(knowledge_db, tmp_path)
    data = (filler(100, 30) + " Narwhals grow a long spiral tusk. " + filler(10, 31)).encode()
    # Hold the background slots so the document stays pending, then stop the process.
    for _ in range(2):
        await first._background.acquire()
    doc = await first.ingest_file("erin", "whales.txt", data, background=True)
    await first.close()
    assert (await first.get_document("erin", doc.document_id)).status == "pending"
    assert (tmp_path / "uploads" / str(doc.document_id)).exists()

    second = await make_kb(knowledge_db, tmp_path)
    try:
        await wait_background(second)
        assert (await second.get_document("erin", doc.document_id)).status == "ready"
        assert (await second.search("erin", "narwhal tusk"))[0].source == "whales.txt"
    finally:
        await second.close()


async def test_hybrid_search_with_dense_embeddings(knowledge_db: Database, tmp_path: Path) -> None:
    # Ingest sparse-only first, then reopen with an embedding model: the chunks are carried over.
    sparse_only = await make_kb(knowledge_db, tmp_path)
    await sparse_only.ingest_file("frank", "cats.txt", b"Cats purr when they are content and relaxed.")
    await sparse_only.close()

    embeddings = DeterministicFakeEmbedding(size=32)
    hybrid = await make_kb(knowledge_db, tmp_path, embeddings=embeddings)
    try:
        assert hybrid.store.dense_dim == 32
        assert hybrid.store.collection != "clew_knowledge"
        await hybrid.ingest_file("frank", "dogs.txt", b"Dogs wag their tails when they greet people.")
        assert await hybrid.store.count("frank") == 2
        hits = await hybrid.search("frank", "cats purr", k=2)
        assert hits[0].source == "cats.txt"
        assert 0 < hits[0].score <= 1
        assert hits[0].metadata["sparse_score"] == pytest.approx(1.0)
        # The fake embedding of an identical text is identical: a dense-only search finds it exactly.
        dense_only = {"search_enhancement.sparse_weight": 0.0, "search_enhancement.dense_weight": 1.0}
        exact = await hybrid.search(
            "frank", "Dogs wag their tails when they greet people.", k=1, values=dense_only
        )
        assert exact[0].source == "dogs.txt"
        assert exact[0].score == pytest.approx(1.0, abs=1e-4)
        strict = {"search_enhancement.relevance_threshold": 1.0, "search_enhancement.dense_weight": 0.5}
        assert await hybrid.search("frank", "cats purr", values=strict) == []
    finally:
        await hybrid.close()


class FlakyEmbeddings(DeterministicFakeEmbedding):
    """A fake embedding model that can be switched to failing, like a provider outage."""

    failing: bool = False

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        if self.failing:
            raise ConnectionError("embedding server down")
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        if self.failing:
            raise ConnectionError("embedding server down")
        return super().embed_query(text)


async def test_embedding_outage(knowledge_db: Database, tmp_path: Path) -> None:
    embeddings = FlakyEmbeddings(size=16)
    kb = await make_kb(knowledge_db, tmp_path, embeddings=embeddings)
    try:
        await kb.ingest_file("gina", "moths.txt", b"Moths navigate by the moon and artificial lights.")
        embeddings.failing = True
        with pytest.raises(ServiceUnavailableError):
            await kb.ingest_file("gina", "bees.txt", b"Bees dance to show where the flowers are.")
        assert [d.filename for d in await kb.list_documents("gina")] == ["moths.txt"]
        assert await kb.store.count("gina") == 1
        hits = await kb.search("gina", "moths moon")  # sparse only while the model is down
        assert hits[0].source == "moths.txt" and hits[0].metadata["dense_score"] == 0
    finally:
        await kb.close()


async def test_unreachable_qdrant_server(knowledge_db: Database) -> None:
    from qdrant_client import AsyncQdrantClient

    kb = KnowledgeBase(
        knowledge_db, AsyncQdrantClient(url="http://127.0.0.1:9", timeout=2, check_compatibility=False)
    )
    with pytest.raises(ServiceUnavailableError):
        await kb.start()
    await kb.close()


async def test_runtime_hooks_open_once_per_directory(knowledge_db: Database, tmp_path: Path) -> None:
    from config_schema.settings import RuntimeSettings
    from retrieval.knowledge import close_knowledge_base
    from retrieval.knowledge.process import open_process_knowledge

    settings = RuntimeSettings(data_dir=tmp_path)
    first = await open_process_knowledge(settings, knowledge_db, None)
    try:
        assert isinstance(first, KnowledgeBase)
        assert first.store.collection == "clew_knowledge"  # no embedding model configured
        second = await open_process_knowledge(settings, knowledge_db, None)  # embedded mode: the directory is taken
        assert second is None
    finally:
        if first is not None:
            await close_knowledge_base(first)
    second = await open_process_knowledge(settings, knowledge_db, None)  # free again
    assert second is not None
    await close_knowledge_base(second)
