"""Installs clew's operational layer on the FastAPI app: browser safety (``api/security.py``), request
context and ids (``api/request_context.py``), account routes and the ops routes (``/ready``, ``/metrics``).

``api/app.py`` calls :func:`install` once, so the app module stays a list of routers.
"""

from __future__ import annotations

from fastapi import FastAPI

from api import security
from api.request_context import RequestContextMiddleware
from api.routers import accounts, ops
from config_schema.settings import RuntimeSettings


def install(app: FastAPI, settings: RuntimeSettings) -> None:
    security.install(app, settings)  # CORS inside, Host/Origin checks and headers outside it
    app.add_middleware(RequestContextMiddleware)  # outermost: every response (a refusal too) has an id
    app.include_router(ops.router)
    app.include_router(accounts.router)
