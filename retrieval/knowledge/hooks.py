"""Runtime start-up / shutdown hooks that give a process its knowledge base (``runtime.knowledge``).

The embedding model comes from the system configuration (``llm.embedding_model``; none: sparse only). In
embedded mode one process owns the Qdrant directory: a second process (a ``clew worker`` next to
``clew serve``) cannot open it, logs why, and runs without a knowledge base (``runtime.knowledge`` stays
None; the API answers 503 and graphs skip knowledge retrieval) — several processes need ``QDRANT_URL``.
Call :func:`register_hooks` once (the runtime does not import subsystems itself).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import structlog
from langchain_core.embeddings import Embeddings

from config_schema.settings import RuntimeSettings
from persistence.db import Database
from retrieval.knowledge.errors import ServiceUnavailableError
from retrieval.knowledge.service import close_knowledge_base, open_knowledge_base

log = structlog.get_logger("clew.knowledge")


async def _system_values(runtime: Any) -> dict[str, Any] | None:
    config = getattr(runtime, "services", {}).get("config")
    if config is None:
        return None
    return dict((await config.system_resolved()).values)


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
    from config_schema.service import ConfigService

    service = ConfigService(db, settings=settings)
    await service.start()
    try:
        values = dict((await service.system_resolved()).values)
    finally:
        await service.stop()
    return embeddings_from(values)


async def start_knowledge(runtime: Any) -> None:
    """Open the knowledge base for ``runtime`` (leaves ``runtime.knowledge`` None when it cannot)."""
    embeddings = embeddings_from(await _system_values(runtime))
    try:
        runtime.knowledge = await open_knowledge_base(runtime.settings, runtime.db, embeddings)
    except (RuntimeError, ServiceUnavailableError) as exc:
        runtime.knowledge = None
        log.warning("knowledge base unavailable in this process", error=str(exc))
        return
    log.info("knowledge base ready", collection=runtime.knowledge.store.collection)


async def stop_knowledge(runtime: Any) -> None:
    kb = getattr(runtime, "knowledge", None)
    if kb is not None:
        runtime.knowledge = None
        await close_knowledge_base(kb)


def register_hooks() -> None:
    from engine.runtime import SHUTDOWN_HOOKS, STARTUP_HOOKS

    if start_knowledge not in STARTUP_HOOKS:
        STARTUP_HOOKS.append(start_knowledge)
    if stop_knowledge not in SHUTDOWN_HOOKS:
        SHUTDOWN_HOOKS.insert(0, stop_knowledge)
