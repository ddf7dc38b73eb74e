"""The knowledge base service: ingest, list, delete and search a user's documents.

Ingestion: check the type (extension and content), extract structured text in a thread, turn it into chunks
with vectors (:mod:`retrieval.knowledge.indexing`), store the chunks in Qdrant
(:mod:`retrieval.knowledge.store`) and the document's row in Postgres. A small file is ingested before the
call returns (any failure leaves nothing behind); a large one is checked, spooled to the data directory and
ingested by a background task while its row says pending -> processing -> ready | error. A process
restarted mid-ingestion picks up the spooled files it finds at start-up.

Search: :mod:`retrieval.knowledge.search` (sparse and dense candidates fused, ready documents only).
"""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import Mapping
from pathlib import Path, PurePath
from typing import Any
from uuid import UUID

import structlog
from langchain_core.embeddings import Embeddings
from qdrant_client import models

from config_schema.settings import RuntimeSettings
from persistence import documents
from persistence.db import Database
from retrieval import sparse
from retrieval.extract import EmptyDocumentError, ExtractedText, probe
from retrieval.knowledge.errors import DocumentNotFoundError, FileTooLargeError, ServiceUnavailableError
from retrieval.knowledge.filetypes import (
    CONTENT_TYPES,
    EXTRACTORS,
    KIND_BY_CONTENT_TYPE,
    FileKind,
    detect_kind,
)
from retrieval.knowledge.indexing import PreparedDocument, embedding_model_id, prepare_document, vector_of
from retrieval.knowledge.search import search_chunks
from retrieval.knowledge.store import AnyQdrant, ChunkStore, open_qdrant
from retrieval.types import Document, SearchHit

log = structlog.get_logger("clew.knowledge")

DEFAULT_MAX_UPLOAD_BYTES = 50 * 1024 * 1024
DEFAULT_BACKGROUND_BYTES = 2 * 1024 * 1024
BACKGROUND_CONCURRENCY = 2
# An unfinished document nobody has touched for this long, with no spooled file here, has lost its ingester.
STALE_SECONDS = 1800.0


def _clean_filename(filename: str) -> str:
    """The base name, at most 255 characters: a longer one is cut before its extension, which is kept."""
    name = PurePath(filename.replace("\\", "/")).name.strip()
    if len(name) <= 255:
        return name
    suffix = PurePath(name).suffix
    suffix = suffix if len(suffix) <= 16 else ""
    return name[: 255 - len(suffix)] + suffix


def _doc(row: dict[str, Any] | None) -> Document | None:
    """A ``documents`` row as the model the knowledge base hands out."""
    return Document.model_validate(row) if row is not None else None


class KnowledgeBase:
    """Per-user document store over Postgres (metadata) and Qdrant (chunks and vectors)."""

    def __init__(
        self,
        db: Database,
        qdrant: AnyQdrant,
        embeddings: Embeddings | None = None,
        *,
        spool_dir: Path | None = None,
        max_upload_bytes: int = DEFAULT_MAX_UPLOAD_BYTES,
        background_bytes: int = DEFAULT_BACKGROUND_BYTES,
    ) -> None:
        self.db = db
        self.embeddings = embeddings
        self.spool_dir = spool_dir
        self.max_upload_bytes = max_upload_bytes
        self.background_bytes = background_bytes
        self.store = ChunkStore(qdrant)
        self._tasks: dict[UUID, asyncio.Task[None]] = {}
        self._background = asyncio.Semaphore(BACKGROUND_CONCURRENCY)
        self._started = False

    # -- lifecycle ----------------------------------------------------------------------------------

    async def start(self) -> None:
        """Create (or adopt) the collection and resume background ingestions left by a previous process."""
        if self._started:
            return
        dim: int | None = None
        model_id: str | None = None
        if self.embeddings is not None:
            try:
                dim = len(await self.embeddings.aembed_query("dimension probe"))
            except Exception as exc:  # any provider error
                raise ServiceUnavailableError(
                    f"the embedding model failed ({type(exc).__name__}: {exc})"
                ) from exc
            model_id = embedding_model_id(self.embeddings)
        self.store.use_dense(dim, model_id)
        created = await self.store.ensure_collection()
        await self.store.tune_local_storage()
        await self.store.load_sparse_index()
        if created:
            await self._adopt_previous_collection()
        if self.spool_dir is not None:
            self.spool_dir.mkdir(parents=True, exist_ok=True)
        await self._resume_unfinished()
        self._started = True

    async def close(self) -> None:
        """Stop background ingestions (their spooled files stay for the next start) and close Qdrant."""
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        await self.store.close()

    # -- ingestion ----------------------------------------------------------------------------------

    async def ingest_file(
        self, user_id: str, filename: str, data: bytes, *, background: bool | None = None
    ) -> Document:
        """Ingest one file for ``user_id``; returns its row (status ready, or pending when in background).

        Raises FileTooLargeError, UnsupportedFileTypeError, CorruptFileError or EmptyDocumentError, and
        then stores nothing.
        """
        if len(data) > self.max_upload_bytes:
            raise FileTooLargeError(len(data), self.max_upload_bytes)
        name = _clean_filename(filename)
        kind = await asyncio.to_thread(detect_kind, name, data)
        if not data:
            raise EmptyDocumentError(f"{name} is empty")
        run_in_background = len(data) >= self.background_bytes if background is None else background
        document_id = uuid.uuid4()
        if run_in_background:
            return await self._ingest_background(document_id, user_id, name, kind, data)
        extracted = await asyncio.to_thread(self._extract, kind, data, name)
        prepared = await self._prepare(document_id, user_id, name, extracted)
        await self._insert_row(document_id, user_id, name, kind, len(data), "processing")
        try:
            await self.store.upsert(prepared.points)
            doc = _doc(await documents.mark_ready(self.db, document_id, len(prepared.points), prepared.title))
        except BaseException:
            await self._discard(user_id, document_id)
            raise
        if doc is None:  # deleted while it was being stored
            await self.store.delete_document(user_id, str(document_id))
            raise DocumentNotFoundError(document_id)
        log.info("document ingested", document_id=str(document_id), chunks=doc.chunk_count, kind=kind)
        return doc

    async def _insert_row(
        self, document_id: UUID, user_id: str, name: str, kind: FileKind, size: int, status: str
    ) -> Document:
        row = await documents.insert(
            self.db,
            document_id=document_id,
            user_id=user_id,
            filename=name,
            content_type=CONTENT_TYPES[kind],
            size_bytes=size,
            status=status,
        )
        return Document.model_validate(row)

    async def _discard(self, user_id: str, document_id: UUID) -> None:
        with contextlib.suppress(Exception):
            await self.store.delete_document(user_id, str(document_id))
        with contextlib.suppress(Exception):
            await documents.delete(self.db, user_id, document_id)

    @staticmethod
    def _extract(kind: FileKind, data: bytes, name: str) -> ExtractedText:
        extracted = EXTRACTORS[kind](data)
        if not extracted.text.strip():
            hint = " (a scanned PDF? OCR is not supported)" if kind == "pdf" else ""
            raise EmptyDocumentError(f"{name} contains no extractable text{hint}")
        return extracted

    async def _prepare(
        self, document_id: UUID, user_id: str, name: str, extracted: ExtractedText
    ) -> PreparedDocument:
        embeddings = self.embeddings if self.store.dense_dim is not None else None
        return await prepare_document(document_id, user_id, name, extracted, embeddings)

    def _spool_path(self, document_id: UUID) -> Path | None:
        return self.spool_dir / str(document_id) if self.spool_dir is not None else None

    async def _ingest_background(
        self, document_id: UUID, user_id: str, name: str, kind: FileKind, data: bytes
    ) -> Document:
        # A quick parse now, so a damaged file is refused at upload rather than discovered later.
        await asyncio.to_thread(probe, kind, data)
        spool = self._spool_path(document_id)
        if spool is not None:
            await asyncio.to_thread(spool.write_bytes, data)
        try:
            doc = await self._insert_row(document_id, user_id, name, kind, len(data), "pending")
        except BaseException:
            if spool is not None:
                spool.unlink(missing_ok=True)
            raise
        self._spawn(document_id, user_id, name, kind, None if spool is not None else data)
        return doc

    def _spawn(self, document_id: UUID, user_id: str, name: str, kind: FileKind, data: bytes | None) -> None:
        task = asyncio.create_task(
            self._process(document_id, user_id, name, kind, data), name=f"ingest-{document_id}"
        )
        self._tasks[document_id] = task
        task.add_done_callback(lambda _t, d=document_id: self._tasks.pop(d, None))

    async def _process(
        self, document_id: UUID, user_id: str, name: str, kind: FileKind, data: bytes | None
    ) -> None:
        spool = self._spool_path(document_id)
        async with self._background:
            claimed = await documents.claim(self.db, document_id)
            if claimed is None:
                if spool is not None:
                    spool.unlink(missing_ok=True)
                return
            try:
                if data is None:
                    assert spool is not None
                    data = await asyncio.to_thread(spool.read_bytes)
                extracted = await asyncio.to_thread(self._extract, kind, data, name)
                await documents.heartbeat(self.db, document_id)
                prepared = await self._prepare(document_id, user_id, name, extracted)
                if not await documents.heartbeat(self.db, document_id):
                    return  # deleted meanwhile
                await self.store.delete_document(user_id, str(document_id))  # a previous partial attempt
                await self.store.upsert(prepared.points)
                doc = _doc(await documents.mark_ready(self.db, document_id, len(prepared.points), prepared.title))
                if doc is None:
                    await self.store.delete_document(user_id, str(document_id))
                else:
                    log.info("document ingested", document_id=str(document_id), chunks=doc.chunk_count)
            except asyncio.CancelledError:
                raise  # shutting down: keep the spooled file, the next start resumes it
            except Exception as exc:
                log.warning("document ingestion failed", document_id=str(document_id), error=str(exc))
                with contextlib.suppress(Exception):
                    await self.store.delete_document(user_id, str(document_id))
                await documents.mark_error(self.db, document_id, str(exc) or type(exc).__name__)
            if spool is not None:
                spool.unlink(missing_ok=True)

    async def _resume_unfinished(self) -> None:
        for doc in map(Document.model_validate, await documents.unfinished(self.db)):
            spool = self._spool_path(doc.document_id)
            kind = KIND_BY_CONTENT_TYPE.get(doc.content_type)
            if spool is not None and spool.exists() and kind is not None:
                log.info("resuming document ingestion", document_id=str(doc.document_id))
                self._spawn(doc.document_id, doc.user_id, doc.filename, kind, None)
            else:
                await documents.mark_stale_error(
                    self.db,
                    doc.document_id,
                    STALE_SECONDS,
                    "ingestion was interrupted; upload the file again",
                )

    async def _adopt_previous_collection(self) -> None:
        """Copy the chunks of an older clew collection (e.g. before an embedding model was configured)."""
        sources = await self.store.other_collections()
        if not sources:
            return
        counts = {name: await self.store.count(collection=name) for name in sources}
        source = max(counts, key=lambda n: counts[n])
        if counts[source] == 0:
            return
        log.info(
            "copying knowledge chunks", source=source, target=self.store.collection, chunks=counts[source]
        )
        offset: Any = None
        while True:
            points, offset = await self.store.scroll_all(source, offset=offset)
            batch: list[models.PointStruct] = []
            texts = [str((p.payload or {}).get("text", "")) for p in points]
            dense_vectors: list[list[float]] | None = None
            if self.embeddings is not None and self.store.dense_dim is not None and texts:
                dense_vectors = [[float(x) for x in v] for v in await self.embeddings.aembed_documents(texts)]
            for i, p in enumerate(points):
                vector = vector_of(sparse.document_vector(texts[i]), dense_vectors[i] if dense_vectors is not None else None)
                batch.append(models.PointStruct(id=p.id, vector=vector, payload=p.payload))
            await self.store.upsert(batch)
            if offset is None:
                break

    # -- reads --------------------------------------------------------------------------------------

    async def get_document(self, user_id: str, document_id: UUID | str) -> Document:
        doc_id = self._parse_id(document_id)
        doc = _doc(await documents.get(self.db, user_id, doc_id))
        if doc is None:
            raise DocumentNotFoundError(document_id)
        return doc

    async def list_documents(self, user_id: str) -> list[Document]:
        return [Document.model_validate(r) for r in await documents.list_for_user(self.db, user_id)]

    async def delete_document(self, user_id: str, document_id: UUID | str) -> Document:
        """Delete a document of ``user_id`` and its chunks (DocumentNotFoundError if it is not theirs)."""
        doc_id = self._parse_id(document_id)
        doc = _doc(await documents.delete(self.db, user_id, doc_id))
        if doc is None:
            raise DocumentNotFoundError(document_id)
        task = self._tasks.get(doc_id)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        # Chunks left behind by a failure here never surface: search keeps only ready documents.
        await self.store.delete_document(user_id, str(doc_id))
        spool = self._spool_path(doc_id)
        if spool is not None:
            spool.unlink(missing_ok=True)
        return doc

    @staticmethod
    def _parse_id(document_id: UUID | str) -> UUID:
        if isinstance(document_id, UUID):
            return document_id
        try:
            return UUID(str(document_id))
        except ValueError as exc:
            raise DocumentNotFoundError(document_id) from exc

    async def search(
        self, user_id: str, query: str, k: int = 8, values: Mapping[str, Any] | None = None
    ) -> list[SearchHit]:
        """The ``k`` most relevant chunks of ``user_id``'s ready documents, best first."""
        return await search_chunks(self.db, self.store, self.embeddings, user_id, query, k, values)


async def open_knowledge_base(
    settings: RuntimeSettings, db: Database, embeddings: Embeddings | None = None
) -> KnowledgeBase:
    """Open Qdrant (embedded in ``settings.qdrant_dir`` or the ``QDRANT_URL`` server) and start the service.

    Raises ``RuntimeError`` when the embedded directory is held by another process.
    """
    client = await asyncio.to_thread(open_qdrant, settings)
    kb = KnowledgeBase(
        db,
        client,
        embeddings,
        spool_dir=settings.data_dir / "uploads",
        max_upload_bytes=settings.knowledge_max_upload_bytes,
        background_bytes=settings.knowledge_background_bytes,
    )
    try:
        await kb.start()
    except BaseException:
        await kb.close()
        raise
    return kb


async def close_knowledge_base(kb: KnowledgeBase) -> None:
    await kb.close()
