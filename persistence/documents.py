"""Knowledge-base document metadata (table ``documents``, migration 0031): the system of record for uploads.

Every query names the owning ``user_id`` except the start-up scan for unfinished ingestions. Status moves
pending -> processing -> ready | error; transitions are compare-and-set on the current status so a document
deleted while it was being processed is never brought back. Rows are returned as dicts; the knowledge base
(``retrieval/knowledge/service.py``) reads them as ``retrieval.types.Document``.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any
from uuid import UUID

from persistence.db import Database

COLUMNS = (
    "document_id, user_id, filename, content_type, size_bytes, status, error, chunk_count, title, "
    "created_at, updated_at"
)

INSERT = f"""
INSERT INTO documents (document_id, user_id, filename, content_type, size_bytes, status)
VALUES (%s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}
"""
GET = f"SELECT {COLUMNS} FROM documents WHERE document_id = %s AND user_id = %s"
LIST_FOR_USER = f"SELECT {COLUMNS} FROM documents WHERE user_id = %s ORDER BY created_at DESC, document_id"
# a pending (or interrupted processing) document taken up for processing
CLAIM = f"""
UPDATE documents SET status = 'processing', error = NULL, updated_at = now()
WHERE document_id = %s AND status IN ('pending', 'processing') RETURNING {COLUMNS}
"""
HEARTBEAT = "UPDATE documents SET updated_at = now() WHERE document_id = %s AND status = 'processing'"
MARK_READY = f"""
UPDATE documents SET status = 'ready', error = NULL, chunk_count = %s, title = %s, updated_at = now()
WHERE document_id = %s AND status = 'processing' RETURNING {COLUMNS}
"""
MARK_ERROR = """
UPDATE documents SET status = 'error', error = %s, chunk_count = 0, updated_at = now()
WHERE document_id = %s AND status IN ('pending', 'processing')
"""
DELETE = f"DELETE FROM documents WHERE document_id = %s AND user_id = %s RETURNING {COLUMNS}"
READY_IDS = "SELECT document_id FROM documents WHERE user_id = %s AND status = 'ready' AND document_id = ANY(%s)"
UNFINISHED = f"SELECT {COLUMNS} FROM documents WHERE status IN ('pending', 'processing') ORDER BY created_at"
# an unfinished document nobody touched for a while (its ingestion died with its process)
MARK_STALE_ERROR = """
UPDATE documents SET status = 'error', error = %s, updated_at = now()
WHERE document_id = %s AND status IN ('pending', 'processing') AND updated_at < now() - make_interval(secs => %s)
"""


async def insert(
    db: Database,
    *,
    document_id: UUID,
    user_id: str,
    filename: str,
    content_type: str,
    size_bytes: int,
    status: str,
) -> dict[str, Any]:
    row = await db.fetchone(INSERT, (document_id, user_id, filename, content_type, size_bytes, status))
    assert row is not None
    return row


async def get(db: Database, user_id: str, document_id: UUID) -> dict[str, Any] | None:
    return await db.fetchone(GET, (document_id, user_id))


async def list_for_user(db: Database, user_id: str) -> list[dict[str, Any]]:
    return await db.fetchall(LIST_FOR_USER, (user_id,))


async def claim(db: Database, document_id: UUID) -> dict[str, Any] | None:
    """Move a pending (or interrupted processing) document to processing; None if it is gone or done."""
    return await db.fetchone(CLAIM, (document_id,))


async def heartbeat(db: Database, document_id: UUID) -> bool:
    """Touch a processing document (tells other processes it is alive); False if it was deleted."""
    return await db.execute(HEARTBEAT, (document_id,)) > 0


async def mark_ready(db: Database, document_id: UUID, chunk_count: int, title: str | None) -> dict[str, Any] | None:
    return await db.fetchone(MARK_READY, (chunk_count, title, document_id))


async def mark_error(db: Database, document_id: UUID, error: str) -> None:
    await db.execute(MARK_ERROR, (error[:2000], document_id))


async def delete(db: Database, user_id: str, document_id: UUID) -> dict[str, Any] | None:
    return await db.fetchone(DELETE, (document_id, user_id))


async def ready_ids(db: Database, user_id: str, document_ids: Iterable[str]) -> set[str]:
    """Which of ``document_ids`` are ready documents of ``user_id``."""
    ids = list({UUID(d) for d in document_ids})
    if not ids:
        return set()
    return {str(r["document_id"]) for r in await db.fetchall(READY_IDS, (user_id, ids))}


async def unfinished(db: Database) -> list[dict[str, Any]]:
    return await db.fetchall(UNFINISHED)


async def mark_stale_error(db: Database, document_id: UUID, stale_seconds: float, error: str) -> bool:
    """Mark an unfinished document as failed if nobody touched it for ``stale_seconds``."""
    return await db.execute(MARK_STALE_ERROR, (error, document_id, stale_seconds)) > 0
