"""What the knowledge base stores for a document: its chunks as Qdrant points with sparse and dense vectors.

A document's extracted text is split into chunks that carry their heading path and pages
(:mod:`retrieval.knowledge.chunking`); each chunk gets a BM25 sparse vector (:mod:`retrieval.sparse`) and,
when an embedding model is configured, a dense one, both computed over its heading path and text so a
question naming a section or a function finds its chunks. Chunking and sparse vectors are CPU work and run
in a worker thread; embeddings go to the model in batches.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from langchain_core.embeddings import Embeddings
from qdrant_client import models

from retrieval import sparse
from retrieval.extract import ExtractedText
from retrieval.knowledge.chunking import TextChunk, split_text
from retrieval.knowledge.errors import ServiceUnavailableError
from retrieval.knowledge.store import DENSE, SPARSE, point_id

EMBED_BATCH = 64


@dataclass(frozen=True)
class PreparedDocument:
    """Chunks of one document ready to be stored."""

    points: list[models.PointStruct]
    title: str | None


def embedding_model_id(embeddings: Embeddings) -> str:
    """What names an embedding model in the collection name (its class and model name)."""
    for attr in ("model", "model_name", "deployment"):
        value = getattr(embeddings, attr, None)
        if isinstance(value, str) and value:
            return f"{type(embeddings).__name__}:{value}"
    return type(embeddings).__name__


def indexed_text(chunk: TextChunk) -> str:
    """What the vectors of a chunk are computed from: its heading path, then its text."""
    return "\n".join([*chunk.headings, chunk.text]) if chunk.headings else chunk.text


def vector_of(sparse_vector: sparse.SparseVector, dense: list[float] | None) -> dict[str, Any]:
    """A point's named vectors: always the sparse one, the dense one when there is one."""
    vector: dict[str, Any] = {
        SPARSE: models.SparseVector(indices=sparse_vector.indices, values=sparse_vector.values)
    }
    if dense is not None:
        vector[DENSE] = dense
    return vector


async def embed_documents(embeddings: Embeddings, texts: Sequence[str]) -> list[list[float]]:
    """Dense vectors of ``texts``, :data:`EMBED_BATCH` at a time (ServiceUnavailableError if the model fails)."""
    out: list[list[float]] = []
    for i in range(0, len(texts), EMBED_BATCH):
        try:
            vectors = await embeddings.aembed_documents(list(texts[i : i + EMBED_BATCH]))
        except Exception as exc:  # any provider error: the model is unusable right now
            raise ServiceUnavailableError(f"the embedding model failed ({type(exc).__name__}: {exc})") from exc
        out.extend([float(x) for x in vec] for vec in vectors)
    return out


async def prepare_document(
    document_id: UUID,
    user_id: str,
    name: str,
    extracted: ExtractedText,
    embeddings: Embeddings | None,
) -> PreparedDocument:
    """The points of a document: its chunks with their vectors (dense only with ``embeddings``) and payload."""
    title = extracted.title or name

    def chunk_and_vectorize() -> tuple[list[TextChunk], list[sparse.SparseVector]]:
        chunks = split_text(extracted)
        return chunks, [sparse.document_vector(indexed_text(c)) for c in chunks]

    chunks, sparse_vectors = await asyncio.to_thread(chunk_and_vectorize)
    dense_vectors: list[list[float]] | None = None
    if embeddings is not None:
        dense_vectors = await embed_documents(embeddings, [indexed_text(c) for c in chunks])
    doc_id = str(document_id)
    points = [
        models.PointStruct(
            id=point_id(doc_id, chunk.index),
            vector=vector_of(sparse_vectors[i], dense_vectors[i] if dense_vectors is not None else None),
            payload={
                "user_id": user_id,
                "document_id": doc_id,
                "chunk_index": chunk.index,
                "text": chunk.text,
                "title": title,
                "source": name,
                "page": chunk.page,
                "start": chunk.start,
                "pages": chunk.pages,
                "page_marks": [list(m) for m in chunk.page_marks],
                "headings": chunk.headings,
                "section_index": chunk.section_index,
                "front_matter": chunk.front_matter,
            },
        )
        for i, chunk in enumerate(chunks)
    ]
    return PreparedDocument(points, title)
