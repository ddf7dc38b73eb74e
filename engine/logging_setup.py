"""Logging set-up: every line — clew's structlog loggers and the standard-library loggers of uvicorn,
langgraph, psycopg, httpx… — in one format: JSON lines when not on a terminal (production), key=value
colours on one.

structlog's own loggers render directly; standard-library records go through structlog's
``ProcessorFormatter`` with the same processors, so both carry the context bound with contextvars
(``request_id``, ``user_id`` per request; ``run_id``, ``thread_id`` per run) and the same keys
(``timestamp``, ``level``, ``event``, ``logger``). ``clew serve`` runs uvicorn with ``log_config=None`` so
uvicorn's records reach the root handler installed here.
"""

from __future__ import annotations

import logging
import sys

import structlog

from engine.tracing import add_trace_ids


def configure(fmt: str = "auto", level: str = "INFO") -> None:
    use_json = fmt == "json" or (fmt == "auto" and not sys.stderr.isatty())
    shared: list[structlog.types.Processor] = [
        structlog.contextvars.merge_contextvars,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        add_trace_ids,  # trace_id / span_id when OpenTelemetry tracing is on (engine/tracing.py)
    ]
    renderer: structlog.types.Processor = (
        structlog.processors.JSONRenderer() if use_json else structlog.dev.ConsoleRenderer()
    )
    tail: list[structlog.types.Processor] = [structlog.processors.format_exc_info] if use_json else []
    structlog.configure(
        processors=[*shared, *tail, renderer],
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stderr),
        cache_logger_on_first_use=True,
    )
    formatter = structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=[*shared, structlog.stdlib.add_logger_name, structlog.stdlib.ExtraAdder()],
        processors=[structlog.stdlib.ProcessorFormatter.remove_processors_meta, *tail, renderer],
    )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access", "uvicorn.asgi"):
        lg = logging.getLogger(name)
        lg.handlers = []
        lg.propagate = True
    for noisy in ("httpx", "httpcore", "uvicorn.access", "psycopg.pool"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
