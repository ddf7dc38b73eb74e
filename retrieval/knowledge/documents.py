"""Document metadata in Postgres (table ``documents``, migration 0031): the system of record for uploads.

Every query names the owning ``user_id`` except the start-up scan for unfinished ingestions. Status moves
pending -> processing -> ready | error; transitions are compare-and-set on the current status so a document
deleted while it was being processed is never brought back.
"""

from __future__ import annotations

from collections.abc import Iterable
from uuid import UUID

from persistence.db import Database
from retrieval.types import Document, DocumentStatus

_COLUMNS = (
    "document_id, user_id, filename, content_type, size_bytes, status, error, chunk_count, title, "
    "created_at, updated_at"
)


def _doc(row: dict) -> Document:
    return Document.model_validate(row)


async def insert(
    db: Database,
    *,
    document_id: UUID,
    user_id: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    status: DocumentStatus,
) -> Document:
    async with db.transaction() as conn:
        cur = await conn.execute(
            f"INSERT INTO documents (document_id, user_id, filename, content_type, size_bytes, status) "
            f"VALUES (%s, %s, %s, %s, %s, %s) RETURNING {_COLUMNS}",
            (document_id, user_id, filename, content_type, size_bytes, status),
        )
        row = await cur.fetchone()
    assert row is not None
    return _doc(row)


async def get(db: Database, user_id: str, document_id: UUID) -> Document | None:
    row = await db.fetchone(
        f"SELECT {_COLUMNS} FROM documents WHERE document_id = %s AND user_id = %s", (document_id, user_id)
    )
    return _doc(row) if row else None


async def list_for_user(db: Database, user_id: str) -> list[Document]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM documents WHERE user_id = %s ORDER BY created_at DESC, document_id",
        (user_id,),
    )
    return [_doc(r) for r in rows]


async def claim(db: Database, document_id: UUID) -> Document | None:
    """Move a pending (or interrupted processing) document to processing; None if it is gone or done."""
    async with db.transaction() as conn:
        cur = await conn.execute(
            f"UPDATE documents SET status = 'processing', error = NULL, updated_at = now() "
            f"WHERE document_id = %s AND status IN ('pending', 'processing') RETURNING {_COLUMNS}",
            (document_id,),
        )
        row = await cur.fetchone()
    return _doc(row) if row else None


async def heartbeat(db: Database, document_id: UUID) -> bool:
    """Touch a processing document (tells other processes it is alive); False if it was deleted."""
    n = await db.execute(
        "UPDATE documents SET updated_at = now() WHERE document_id = %s AND status = 'processing'",
        (document_id,),
    )
    return n > 0


async def mark_ready(db: Database, document_id: UUID, chunk_count: int, title: str | None) -> Document | None:
    async with db.transaction() as conn:
        cur = await conn.execute(
            f"UPDATE documents SET status = 'ready', error = NULL, chunk_count = %s, title = %s, "
            f"updated_at = now() WHERE document_id = %s AND status = 'processing' RETURNING {_COLUMNS}",
            (chunk_count, title, document_id),
        )
        row = await cur.fetchone()
    return _doc(row) if row else None


async def mark_error(db: Database, document_id: UUID, error: str) -> None:
    async with db.transaction() as conn:
        await conn.execute(
            "UPDATE documents SET status = 'error', error = %s, chunk_count = 0, updated_at = now() "
            "WHERE document_id = %s AND status IN ('pending', 'processing')",
            (error[:2000], document_id),
        )


async def delete(db: Database, user_id: str, document_id: UUID) -> Document | None:
    async with db.transaction() as conn:
        cur = await conn.execute(
            f"DELETE FROM documents WHERE document_id = %s AND user_id = %s RETURNING {_COLUMNS}",
            (document_id, user_id),
        )
        row = await cur.fetchone()
    return _doc(row) if row else None


async def ready_ids(db: Database, user_id: str, document_ids: Iterable[str]) -> set[str]:
    """Which of ``document_ids`` are ready documents of ``user_id``."""
    ids = list({UUID(d) for d in document_ids})
    if not ids:
        return set()
    rows = await db.fetchall(
        "SELECT document_id FROM documents WHERE user_id = %s AND status = 'ready' AND document_id = ANY(%s)",
        (user_id, ids),
    )
    return {str(r["document_id"]) for r in rows}


async def unfinished(db: Database) -> list[Document]:
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM documents WHERE status IN ('pending', 'processing') ORDER BY created_at"
    )
    return [_doc(r) for r in rows]


async def mark_stale_error(db: Database, document_id: UUID, stale_seconds: float, error: str) -> bool:
    """Mark an unfinished document as failed if nobody touched it for ``stale_seconds``."""
    n = await db.execute(
        "UPDATE documents SET status = 'error', error = %s, updated_at = now() "
        "WHERE document_id = %s AND status IN ('pending', 'processing') "
        "AND updated_at < now() - make_interval(secs => %s)",
        (error, document_id, stale_seconds),
    )
    return n > 0
