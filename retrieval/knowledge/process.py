"""A process's knowledge base: opened by ``Runtime.start`` (``runtime.knowledge``).

The embedding model comes from the system configuration (``llm.embedding_model``; none: sparse only). In
embedded mode one process owns the Qdrant directory: a second process (a ``clew worker`` next to
``clew serve``) cannot open it, logs why, and runs without a knowledge base (``runtime.knowledge`` is
None; the API answers 503 and graphs skip knowledge retrieval) — several processes need ``QDRANT_URL``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from langchain_core.embeddings import Embeddings

from config_schema.service import ConfigService
from config_schema.settings import RuntimeSettings
from persistence.db import Database
from retrieval.knowledge.errors import ServiceUnavailableError
from retrieval.knowledge.service import KnowledgeBase, open_knowledge_base

log = structlog.get_logger("clew.knowledge")


def embeddings_from(values: Mapping[str, Any] | None) -> Embeddings | None:
    """The configured embedding model (``llm.embedding_model``), or None (also when it is misconfigured)."""
    from providers.models import ModelConfigError, get_embeddings

    try:
        return get_embeddings(values)
    except ModelConfigError as exc:
        log.warning("embedding model misconfigured; knowledge search is sparse only", error=str(exc))
        return None


async def configured_embeddings(settings: RuntimeSettings, db: Database) -> Embeddings | None:
    """The embedding model of the system configuration, for a process without a runtime (``clew ingest``)."""
    service = ConfigService(db, settings=settings)
    await service.start()
    try:
        values = dict((await service.system_resolved()).values)
    finally:
        await service.stop()
    return embeddings_from(values)


async def open_process_knowledge(
    settings: RuntimeSettings, db: Database, values: Mapping[str, Any] | None
) -> KnowledgeBase | None:
    """This process's knowledge base, with the embedding model of the system configuration ``values``; None
    when it cannot be opened here (the reason is logged)."""
    embeddings = embeddings_from(values)
    try:
        kb = await open_knowledge_base(settings, db, embeddings)
    except (RuntimeError, ServiceUnavailableError) as exc:
        log.warning("knowledge base unavailable in this process", error=str(exc))
        return None
    log.info("knowledge base ready", collection=kb.store.collection)
    return kb

