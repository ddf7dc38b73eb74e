"""The FastAPI application: Agent Server protocol routes plus clew's own, over one :class:`Runtime`.

Everything is passed in here, as in ``Starlette(routes=[…], lifespan=…)``: the middlewares, the error
handlers, every router (:data:`ROUTERS`, in the order they are matched: the web UI's catch-all last), and the
lifespan that builds the runtime with its node extensions. ``clew serve`` starts it through uvicorn with the
import string ``"api.app:create_app"`` (settings from the environment).
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import structlog
from fastapi import FastAPI

from api import errors, operations, tracing
from api.limits import RequestLimits
from api.routers import (
    accounts,
    assistants,
    chat,
    config,
    connections,
    content_sessions,
    knowledge,
    ops,
    research,
    runs,
    sessions,
    store,
    system,
    threads,
    todos,
    ui,
)
from config_schema.settings import RuntimeSettings
from engine.runtime import Runtime
from nodes.extensions import node_extensions

log = structlog.get_logger("clew.api")

ROUTERS = (
    ops, accounts,  # /ready, /metrics; sign-in, API keys
    system, assistants, threads, runs, store,  # the Agent Server protocol
    config, todos, sessions, knowledge, research, content_sessions, connections, chat,  # clew's own
    ui,  # the web UI, last: it serves the page for any other GET
)


def create_app(
    settings: RuntimeSettings | None = None,
    config_path: Path | None = None,
    *,
    workers: int | None = None,
    runtime: Runtime | None = None,
) -> FastAPI:
    settings = settings or RuntimeSettings()
    config_path = config_path or settings.graphs_config

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
    operations.install(app, settings)  # browser safety, request ids
    errors.install(app)
    tracing.install(app, settings)  # OpenTelemetry request spans when CLEW_OTEL_ENABLED (api/tracing.py)
    for module in ROUTERS:
        app.include_router(module.router)
    return app
