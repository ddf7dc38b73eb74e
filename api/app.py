"""The FastAPI application: Agent Server protocol routes plus clew's own, over one :class:`Runtime`.

Optional routers (configuration, todos, knowledge base, research) are included when their module exists,
so each subsystem adds its routes without this file growing a branch per feature.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from api import errors, operations, tracing
from api.limits import RequestLimits
from api.routers import assistants, runs, store, system, threads
from config_schema.settings import RuntimeSettings
from engine.runtime import Runtime
from nodes.extensions import node_extensions

log = structlog.get_logger("clew.api")

OPTIONAL_ROUTERS = ("config", "todos", "sessions", "knowledge", "research", "content_sessions", "connections",
                    "chat", "ui")


def create_app(
    settings: RuntimeSettings | None = None,
    config_path: Path | None = None,
    *,
    workers: int | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    settings = settings or RuntimeSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = runtime or await Runtime.start(
            settings, config_path, workers=settings.workers if workers is None else workers,
            extensions=node_extensions(),
        )
        app.state.runtime = rt
        log.info("clew api ready", graphs=rt.graphs.ids())
        try:
            yield
        finally:
            if runtime is None:
                await rt.stop()

    app = FastAPI(title="clew", version="0.1.0", lifespan=lifespan,
                  description="Durable runtime for LangGraph research agents (Agent Server protocol).")
    # body-size limit and storable JSON (api/limits.py); added first, so CORS and the browser-safety checks
    # (api/operations.py, outside it) also cover its refusals
    app.add_middleware(RequestLimits, max_body_bytes=settings.max_body_bytes)
    operations.install(app, settings)  # browser safety, request ids, accounts, /ready, /metrics
    errors.install(app)
    tracing.install(app, settings)  # OpenTelemetry request spans when CLEW_OTEL_ENABLED (api/tracing.py)
    for module in (system, assistants, threads, runs, store):
        app.include_router(module.router)
    for name in OPTIONAL_ROUTERS:
        if importlib.util.find_spec(f"api.routers.{name}") is not None:
            app.include_router(importlib.import_module(f"api.routers.{name}").router)
    return app
