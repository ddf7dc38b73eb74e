"""Knowledge-base search: a user's sparse and dense candidates fused, filtered to their ready documents.

The query's BM25 sparse vector and (with an embedding model) its dense vector are matched against the user's
chunks; the two candidate lists are fused with the configured weights (``search_enhancement.*``), kept if
above the relevance threshold and if their document is a ready document of that user (so chunks of a
document being deleted or processed never surface). When the embedding model fails, search answers from the
sparse side alone.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import structlog
from langchain_core.embeddings import Embeddings
from qdrant_client import models

from config_schema.access import setting
from persistence import documents
from persistence.db import Database
from retrieval import sparse
from retrieval.knowledge.store import ChunkStore
from retrieval.types import SearchHit

log = structlog.get_logger("clew.knowledge")


async def search_chunks(
    db: Database,
    store: ChunkStore,
    embeddings: Embeddings | None,
    user_id: str,
    query: str,
    k: int = 8,
    values: Mapping[str, Any] | None = None,
) -> list[SearchHit]:
    """The ``k`` most relevant chunks of ``user_id``'s ready documents, best first."""
    query = query.strip()
    if not query:
        return []
    k = max(1, min(int(k), 100))
    dense_weight = float(setting(values, "search_enhancement.dense_weight"))
    sparse_weight = float(setting(values, "search_enhancement.sparse_weight"))
    threshold = float(setting(values, "search_enhancement.relevance_threshold"))
    dense_query: list[float] | None = None
    if embeddings is not None and store.dense_dim is not None and dense_weight > 0:
        try:
            dense_query = [float(x) for x in await embeddings.aembed_query(query)]
        except Exception as exc:  # keep answering from the sparse side while the model is down
            log.warning("query embedding failed; sparse search only", error=str(exc))
    if dense_query is None:
        dense_weight, sparse_weight = 0.0, 1.0
    elif sparse_weight <= 0:
        sparse_weight = 0.0
    qv = sparse.query_vector(query)
    sparse_query = (
        models.SparseVector(indices=qv.indices, values=qv.values) if sparse_weight > 0 else None
    )
    limit = max(4 * k, 20)
    sparse_pts, dense_pts = await store.query(
        user_id, sparse=sparse_query, dense=dense_query, limit=limit
    )

    hits = fuse(sparse_pts, dense_pts, sparse_weight, dense_weight)
    hits = [h for h in hits if h.score >= threshold]
    hits.sort(key=lambda h: (-h.score, h.document_id, h.metadata.get("chunk_index", 0)))
    candidates = hits[: 3 * k]
    ready = await documents.ready_ids(db, user_id, {h.document_id for h in candidates})
    return [h for h in candidates if h.document_id in ready][:k]


def fuse(
    sparse_pts: Sequence[models.ScoredPoint],
    dense_pts: Sequence[models.ScoredPoint],
    sparse_weight: float,
    dense_weight: float,
) -> list[SearchHit]:
    """Weighted score fusion: sparse scores relative to the best one, dense cosine clamped to [0, 1]."""
    total = sparse_weight + dense_weight
    if total <= 0:
        return []
    best_sparse = max((p.score for p in sparse_pts), default=0.0)
    parts: dict[str, dict[str, Any]] = {}
    for p in sparse_pts:
        entry = parts.setdefault(str(p.id), {"payload": p.payload or {}, "sparse": 0.0, "dense": 0.0})
        entry["sparse"] = p.score / best_sparse if best_sparse > 0 else 0.0
    for p in dense_pts:
        entry = parts.setdefault(str(p.id), {"payload": p.payload or {}, "sparse": 0.0, "dense": 0.0})
        entry["dense"] = min(max(p.score, 0.0), 1.0)
    hits: list[SearchHit] = []
    for chunk_id, entry in parts.items():
        payload = entry["payload"]
        score = (sparse_weight * entry["sparse"] + dense_weight * entry["dense"]) / total
        hits.append(
            SearchHit(
                document_id=str(payload.get("document_id", "")),
                chunk_id=chunk_id,
                text=str(payload.get("text", "")),
                score=round(score, 6),
                title=payload.get("title"),
                source=str(payload.get("source", "")),
                url=None,
                metadata={
                    "chunk_index": payload.get("chunk_index"),
                    "page": payload.get("page"),
                    "start": payload.get("start"),
                    "pages": list(payload.get("pages") or []),
                    "page_marks": [list(m) for m in payload.get("page_marks") or []],
                    "headings": list(payload.get("headings") or []),
                    "section_index": payload.get("section_index"),
                    "front_matter": bool(payload.get("front_matter", False)),
                    "sparse_score": round(entry["sparse"], 6),
                    "dense_score": round(entry["dense"], 6),
                    "kind": "knowledge",
                },
            )
        )
    return hits
