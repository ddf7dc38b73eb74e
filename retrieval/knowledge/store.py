"""The Qdrant side of the knowledge base: one collection of chunks, each with a user and a document.

Qdrant runs embedded (qdrant-client's local mode, on disk in the data directory) unless ``QDRANT_URL`` names
a server. Embedded mode is exact brute-force search in Python and numpy, and it lets only one process open
a directory; its synchronous client is driven from one dedicated thread so its CPU work never blocks the
event loop and its SQLite file is only ever touched by that thread. A server is reached with
``AsyncQdrantClient``.

Every read, count and delete carries a ``user_id`` filter: a user's chunks are visible to that user alone.
The collection always has the sparse vector ``bm25`` (with Qdrant's IDF modifier); when an embedding model
is configured it also has a dense vector ``dense`` and its name records the model, so changing the model
builds a new collection (copied from the previous one at start-up) instead of mixing incompatible vectors.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import uuid
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from typing import Any

import httpx
import structlog
from qdrant_client import AsyncQdrantClient, QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from config_schema.settings import RuntimeSettings
from persistence import qdrant_sqlite
from retrieval.knowledge.errors import ServiceUnavailableError
from retrieval.knowledge.sparse_index import SparseIndex

log = structlog.get_logger("clew.knowledge")

BASE_COLLECTION = "clew_knowledge"
SPARSE = "bm25"
DENSE = "dense"
UPSERT_BATCH = 256

AnyQdrant = AsyncQdrantClient | QdrantClient


def open_qdrant(settings: RuntimeSettings) -> AnyQdrant:
    """A client on the configured Qdrant: a server when ``QDRANT_URL`` is set, else the embedded store.

    Embedded mode raises ``RuntimeError`` when another process already has the directory open.
    """
    if settings.qdrant_url:
        return AsyncQdrantClient(
            url=settings.qdrant_url,
            api_key=os.environ.get("QDRANT_API_KEY") or None,
            check_compatibility=False,
        )
    settings.qdrant_dir.mkdir(parents=True, exist_ok=True)
    return QdrantClient(path=str(settings.qdrant_dir), force_disable_check_same_thread=True)


def point_id(document_id: str, index: int) -> str:
    """Deterministic chunk id, so re-processing a document overwrites instead of duplicating."""
    return str(uuid.uuid5(uuid.UUID(document_id), str(index)))


def collection_name(dense_dim: int | None, model_id: str | None) -> str:
    if dense_dim is None:
        return BASE_COLLECTION
    digest = hashlib.sha1(f"{model_id}:{dense_dim}".encode()).hexdigest()[:8]
    return f"{BASE_COLLECTION}_d{dense_dim}_{digest}"


def user_filter(user_id: str, document_id: str | None = None) -> models.Filter:
    must: list[models.Condition] = [
        models.FieldCondition(key="user_id", match=models.MatchValue(value=user_id))
    ]
    if document_id is not None:
        must.append(models.FieldCondition(key="document_id", match=models.MatchValue(value=document_id)))
    return models.Filter(must=must)


class ChunkStore:
    """Chunk storage and search on one Qdrant collection."""

    def __init__(
        self, client: AnyQdrant, *, dense_dim: int | None = None, model_id: str | None = None
    ) -> None:
        self.client = client
        self.dense_dim = dense_dim
        self.collection = collection_name(dense_dim, model_id)
        self.is_async = isinstance(client, AsyncQdrantClient)
        self.is_local = getattr(client, "_client", None).__class__.__name__ in (
            "QdrantLocal",
            "AsyncQdrantLocal",
        )
        # One thread owns a synchronous (embedded) client: Qdrant local mode is not thread-safe.
        self._executor = None if self.is_async else ThreadPoolExecutor(1, thread_name_prefix="qdrant")
        # Embedded mode answers sparse queries from this index (see sparse_index.py); it is only touched
        # through _blocking, so from the same single thread as the client.
        self.sparse_index: SparseIndex | None = SparseIndex() if self.is_local else None

    def use_dense(self, dense_dim: int | None, model_id: str | None) -> None:
        """Select the collection for an embedding model of ``dense_dim`` dimensions (None: sparse only)."""
        self.dense_dim = dense_dim
        self.collection = collection_name(dense_dim, model_id)

    async def _call(self, method: str, /, *args: Any, **kwargs: Any) -> Any:
        fn = getattr(self.client, method)
        try:
            if self.is_async:
                return await fn(*args, **kwargs)
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(self._executor, partial(fn, *args, **kwargs))
        except (ResponseHandlingException, UnexpectedResponse, httpx.HTTPError) as exc:
            raise ServiceUnavailableError(
                f"the vector store is unavailable ({type(exc).__name__}: {exc})"
            ) from exc

    async def _blocking(self, fn: Any, /, *args: Any) -> Any:
        """Run ``fn`` where the client runs: the client's thread (sync client) or the loop (async client)."""
        if self._executor is None:
            return fn(*args)
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, partial(fn, *args))

    async def load_sparse_index(self) -> None:
        """Rebuild the embedded-mode sparse index from the collection."""
        if self.sparse_index is None:
            return
        index = SparseIndex()
        offset: Any = None
        while True:
            points, offset = await self._call(
                "scroll",
                self.collection,
                limit=1024,
                offset=offset,
                with_payload=["user_id", "document_id"],
                with_vectors=[SPARSE],
            )
            await self._blocking(_index_points, index, points)
            if offset is None:
                break
        self.sparse_index = index

    # -- collection ---------------------------------------------------------------------------------

    async def ensure_collection(self) -> bool:
        """Create the collection if missing; True if it was created."""
        if await self._call("collection_exists", self.collection):
            return False
        vectors: dict[str, models.VectorParams] = {}
        if self.dense_dim is not None:
            vectors[DENSE] = models.VectorParams(size=self.dense_dim, distance=models.Distance.COSINE)
        await self._call(
            "create_collection",
            self.collection,
            vectors_config=vectors,
            sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
        )
        if not self.is_local:
            # Payload indexes only matter on a server (embedded mode scans everything anyway).
            await self._call(
                "create_payload_index",
                self.collection,
                field_name="user_id",
                field_schema=models.KeywordIndexParams(type=models.KeywordIndexType.KEYWORD, is_tenant=True),
            )
            await self._call(
                "create_payload_index",
                self.collection,
                field_name="document_id",
                field_schema=models.PayloadSchemaType.KEYWORD,
            )
        log.info("knowledge collection created", collection=self.collection, dense_dim=self.dense_dim)
        return True

    async def tune_local_storage(self) -> bool:
        """Switch an embedded collection's SQLite file to write-ahead logging (see :func:`_use_wal`)."""
        if not self.is_local:
            return False
        return bool(await self._blocking(_use_wal, self.client, self.collection))

    async def other_collections(self) -> list[str]:
        response = await self._call("get_collections")
        return [
            c.name
            for c in response.collections
            if c.name.startswith(BASE_COLLECTION) and c.name != self.collection
        ]

    async def scroll_all(
        self, collection: str, offset: Any = None, limit: int = 256
    ) -> tuple[list[Any], Any]:
        points, next_offset = await self._call(
            "scroll", collection, limit=limit, offset=offset, with_payload=True, with_vectors=False
        )
        return points, next_offset

    async def count(self, user_id: str | None = None, collection: str | None = None) -> int:
        result = await self._call(
            "count",
            collection or self.collection,
            count_filter=user_filter(user_id) if user_id is not None else None,
            exact=True,
        )
        return int(result.count)

    # -- writes -------------------------------------------------------------------------------------

    async def upsert(self, points: Sequence[models.PointStruct]) -> None:
        for i in range(0, len(points), UPSERT_BATCH):
            batch = list(points[i : i + UPSERT_BATCH])
            await self._call("upsert", self.collection, points=batch, wait=True)
            if self.sparse_index is not None:
                await self._blocking(_index_points, self.sparse_index, batch)

    async def delete_document(self, user_id: str, document_id: str) -> None:
        await self._call(
            "delete",
            self.collection,
            points_selector=models.FilterSelector(filter=user_filter(user_id, document_id)),
            wait=True,
        )
        if self.sparse_index is not None:
            await self._blocking(self.sparse_index.remove_document, user_id, document_id)

    # -- reads --------------------------------------------------------------------------------------

    async def query(
        self,
        user_id: str,
        *,
        sparse: models.SparseVector | None,
        dense: list[float] | None,
        limit: int,
    ) -> tuple[list[models.ScoredPoint], list[models.ScoredPoint]]:
        """Sparse and dense candidates of one user (each list empty when that side is not asked)."""
        flt = user_filter(user_id)
        if self.sparse_index is not None:
            sparse_pts = await self._local_sparse(user_id, sparse, limit) if sparse is not None else []
            dense_pts: list[models.ScoredPoint] = []
            if dense is not None:
                response = await self._call(
                    "query_points", self.collection, query=dense, using=DENSE, query_filter=flt, limit=limit
                )
                dense_pts = list(response.points)
            return sparse_pts, dense_pts
        requests: list[models.QueryRequest] = []
        if sparse is not None and sparse.indices:
            requests.append(
                models.QueryRequest(query=sparse, using=SPARSE, filter=flt, limit=limit, with_payload=True)
            )
        if dense is not None:
            requests.append(
                models.QueryRequest(query=dense, using=DENSE, filter=flt, limit=limit, with_payload=True)
            )
        if not requests:
            return [], []
        responses = await self._call("query_batch_points", self.collection, requests=requests)
        sparse_pts = []
        dense_pts = []
        i = 0
        if sparse is not None and sparse.indices:
            sparse_pts = list(responses[i].points)
            i += 1
        if dense is not None:
            dense_pts = list(responses[i].points)
        return sparse_pts, dense_pts

    async def _local_sparse(
        self, user_id: str, sparse: models.SparseVector, limit: int
    ) -> list[models.ScoredPoint]:
        assert self.sparse_index is not None
        ranked = await self._blocking(self.sparse_index.search, user_id, sparse.indices, sparse.values, limit)
        if not ranked:
            return []
        records = await self._call(
            "retrieve", self.collection, ids=[pid for pid, _ in ranked], with_payload=True
        )
        payloads = {str(r.id): r.payload for r in records}
        return [
            models.ScoredPoint(id=pid, version=0, score=score, payload=payloads[pid])
            for pid, score in ranked
            if pid in payloads and (payloads[pid] or {}).get("user_id") == user_id
        ]

    async def close(self) -> None:
        try:
            await self._call("close")
        finally:
            if self._executor is not None:
                self._executor.shutdown(wait=True)


def _use_wal(client: Any, collection: str) -> bool:
    """Write-ahead logging on a local collection's SQLite file (why: ``persistence/qdrant_sqlite.py``). This
    reaches into qdrant-client's internals, so anything unexpected leaves the defaults in place."""
    try:
        return qdrant_sqlite.use_wal(client._client.collections[collection].storage.storage)
    except Exception:  # an in-memory collection, or a qdrant-client with another layout
        return False


def _index_points(index: SparseIndex, points: Sequence[Any]) -> None:
    """Add points (PointStruct or Record) with their sparse vector and owner to ``index``."""
    for p in points:
        payload = p.payload or {}
        vector = p.vector.get(SPARSE) if isinstance(p.vector, dict) else None
        if vector is None:
            continue
        index.add(
            str(p.id),
            str(payload.get("user_id", "")),
            str(payload.get("document_id", "")),
            vector.indices,
            vector.values,
        )
