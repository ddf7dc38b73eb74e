"""Errors the knowledge base raises for things a caller did; the API maps each to a 4xx answer.

They carry no HTTP knowledge (the service is used by the CLI too); ``api/routers/knowledge.py`` owns the
mapping: unsupported type 415, too large 413, corrupt or empty file 422, unknown document 404,
unreachable vector store or embedding model 503.
"""

from __future__ import annotations

from retrieval.extract import CorruptFileError, EmptyDocumentError, ExtractionError
from retrieval.knowledge.filetypes import UnsupportedFileTypeError


class FileTooLargeError(ValueError):
    def __init__(self, size: int, limit: int) -> None:
        super().__init__(f"the file is {size} bytes; the limit is {limit} bytes ({limit / 1024 / 1024:g} MB)")
        self.size = size
        self.limit = limit


class DocumentNotFoundError(LookupError):
    def __init__(self, document_id: object) -> None:
        super().__init__(f"document {document_id} not found")
        self.document_id = document_id


class ServiceUnavailableError(RuntimeError):
    """The vector store (a Qdrant server) or the embedding model cannot be reached; try again later."""


__all__ = [
    "CorruptFileError",
    "DocumentNotFoundError",
    "EmptyDocumentError",
    "ExtractionError",
    "FileTooLargeError",
    "ServiceUnavailableError",
    "UnsupportedFileTypeError",
]
