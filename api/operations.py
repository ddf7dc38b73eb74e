"""Installs clew's operational middlewares on the FastAPI app: browser safety (``api/security.py``), request
context and ids (``api/request_context.py``). ``api/app.py`` calls :func:`install` once.
"""

from __future__ import annotations

from fastapi import FastAPI

from api import security
from api.request_context import RequestContextMiddleware
from config_schema.settings import RuntimeSettings


def install(app: FastAPI, settings: RuntimeSettings) -> None:
    security.install(app, settings)  # CORS inside, Host/Origin checks and headers outside it
    app.add_middleware(RequestContextMiddleware)  # outermost: every response (a refusal too) has an id
