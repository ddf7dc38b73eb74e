"""Knowledge-base routes: upload, list, inspect, delete and search a user's own documents.

``POST /api/v1/knowledge/upload`` takes a multipart field ``file``. The body is counted while it is read,
so an oversized upload is refused (413) without being buffered whole; the type is checked by extension and
content (415); a damaged PDF or DOCX, or a file without text, is refused (422). Refused uploads store
nothing. A small file is ingested before the answer (201, status ready); a large one is ingested in the
background (202, status pending: poll ``GET /documents/{id}``). Every route sees the caller's documents only;
another user's document is answered 404 exactly like an unknown one.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, Field
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.formparsers import MultiPartException

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError
from retrieval.knowledge import KnowledgeBase
from retrieval.knowledge.errors import (
    CorruptFileError,
    DocumentNotFoundError,
    EmptyDocumentError,
    ExtractionError,
    FileTooLargeError,
    ServiceUnavailableError,
    UnsupportedFileTypeError,
)
from retrieval.knowledge.filetypes import supported_extensions
from retrieval.types import Document, SearchHit

router = APIRouter(prefix="/api/v1/knowledge", tags=["knowledge"])

# Room for the multipart framing (boundaries, part headers) around the file itself.
MULTIPART_SLACK = 64 * 1024

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["file"],
                    "properties": {"file": {"type": "string", "format": "binary"}},
                }
            }
        },
    }
}


class DocumentList(BaseModel):
    documents: list[Document]
    total: int


class DeleteResult(BaseModel):
    document_id: str
    deleted: bool = True


class SearchRequest(BaseModel):
    query: str = Field(min_length=1, max_length=4000)
    k: int = Field(default=8, ge=1, le=50)


class SearchResponse(BaseModel):
    query: str
    results: list[SearchHit]


def _kb(runtime: Any) -> KnowledgeBase:
    kb = runtime.knowledge
    if kb is None:
        raise ApiError(503, "unavailable", "the knowledge base is not available in this process")
    return kb


def _too_large(limit: int) -> ApiError:
    return ApiError(
        413,
        "too_large",
        f"the upload exceeds the limit of {limit} bytes ({limit / 1024 / 1024:g} MB)",
        limit=limit,
    )


class _BodyTooLarge(Exception):
    pass


Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]


def _counting_receive(receive: Receive, limit: int) -> Receive:
    """Wrap the ASGI ``receive`` so reading more than ``limit`` body bytes raises instead of buffering."""
    seen = 0

    async def wrapped() -> MutableMapping[str, Any]:
        nonlocal seen
        message = await receive()
        if message.get("type") == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise _BodyTooLarge
        return message

    return wrapped


def _document_error(exc: Exception) -> ApiError:
    if isinstance(exc, FileTooLargeError):
        return _too_large(exc.limit)
    if isinstance(exc, UnsupportedFileTypeError):
        return ApiError(415, "unsupported_type", str(exc), supported=supported_extensions())
    if isinstance(exc, CorruptFileError):
        return ApiError(422, "corrupt_file", str(exc))
    if isinstance(exc, EmptyDocumentError):
        return ApiError(422, "empty_document", str(exc))
    if isinstance(exc, ExtractionError):
        return ApiError(422, "unreadable", str(exc))
    if isinstance(exc, DocumentNotFoundError):
        return ApiError(404, "not_found", str(exc))
    if isinstance(exc, ServiceUnavailableError):
        return ApiError(503, "unavailable", str(exc))
    raise exc


@router.post(
    "/upload",
    status_code=201,
    response_model=Document,
    openapi_extra=_UPLOAD_BODY,
    responses={202: {"description": "accepted; ingested in the background", "model": Document}},
)
async def upload(request: Request, user: CurrentUser, runtime: RuntimeDep) -> JSONResponse:
    kb = _kb(runtime)
    limit = kb.max_upload_bytes
    content_type = request.headers.get("content-type", "")
    if not content_type.lower().startswith("multipart/form-data"):
        raise ApiError(
            415, "unsupported_media_type", "send the file as multipart/form-data in a field named 'file'"
        )
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit + MULTIPART_SLACK:
        raise _too_large(limit)

    counted = Request(request.scope, receive=_counting_receive(request.receive, limit + MULTIPART_SLACK))
    try:
        form = await counted.form(max_files=1, max_fields=20)
    except _BodyTooLarge:
        raise _too_large(limit) from None
    except (MultiPartException, StarletteHTTPException) as exc:
        detail = getattr(exc, "message", None) or getattr(exc, "detail", None) or "malformed multipart body"
        raise ApiError(400, "invalid_multipart", f"the multipart body cannot be parsed: {detail}") from None
    try:
        file = form.get("file")
        if not isinstance(file, UploadFile):
            raise ApiError(422, "invalid", "file: a multipart file field named 'file' is required")
        data = await file.read(limit + 1)
        filename = file.filename or ""
    finally:
        await form.close()
    if len(data) > limit:
        raise _too_large(limit)
    try:
        doc = await kb.ingest_file(user.user_id, filename, data)
    except (
        FileTooLargeError,
        ExtractionError,
        UnsupportedFileTypeError,
        DocumentNotFoundError,
        ServiceUnavailableError,
    ) as exc:
        raise _document_error(exc) from None
    status = 201 if doc.status == "ready" else 202
    return JSONResponse(doc.model_dump(mode="json"), status_code=status)


@router.get("/documents", response_model=DocumentList)
async def list_documents(user: CurrentUser, runtime: RuntimeDep) -> DocumentList:
    docs = await _kb(runtime).list_documents(user.user_id)
    return DocumentList(documents=docs, total=len(docs))


@router.get("/documents/{document_id}", response_model=Document)
async def get_document(document_id: str, user: CurrentUser, runtime: RuntimeDep) -> Document:
    try:
        return await _kb(runtime).get_document(user.user_id, document_id)
    except DocumentNotFoundError as exc:
        raise _document_error(exc) from None


@router.delete("/documents/{document_id}", response_model=DeleteResult)
async def delete_document(document_id: str, user: CurrentUser, runtime: RuntimeDep) -> DeleteResult:
    try:
        doc = await _kb(runtime).delete_document(user.user_id, document_id)
    except (DocumentNotFoundError, ServiceUnavailableError) as exc:
        raise _document_error(exc) from None
    return DeleteResult(document_id=str(doc.document_id))


@router.post("/search", response_model=SearchResponse)
async def search(body: SearchRequest, user: CurrentUser, runtime: RuntimeDep) -> SearchResponse:
    query = body.query.strip()
    if not query:
        raise ApiError(422, "invalid", "query: must contain text")
    # The caller's resolved configuration (weights, threshold).
    values = dict((await runtime.config.user_resolved(user.user_id, verify=False)).values)
    try:
        hits = await _kb(runtime).search(user.user_id, query, k=body.k, values=values)
    except ServiceUnavailableError as exc:
        raise _document_error(exc) from None
    return SearchResponse(query=query, results=hits)
