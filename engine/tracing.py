"""Optional OpenTelemetry traces (``CLEW_OTEL_*``): a span per HTTP request, per run execution, per graph node
and per database call, exported over OTLP.

Off by default, and then free: nothing of the OpenTelemetry SDK is imported, no tracer provider is installed,
:func:`run_span` is a null context and :func:`add_trace_ids` returns at its first test. On
(``CLEW_OTEL_ENABLED=true``), :func:`setup` — called once per process before the database pool opens — installs
the global tracer provider (service name ``CLEW_OTEL_SERVICE_NAME``, else ``OTEL_SERVICE_NAME``, else
``clew``) with a batch processor and the OTLP/HTTP exporter, which reads the standard
``OTEL_EXPORTER_OTLP_*`` variables (endpoint, headers); the SDK reads ``OTEL_TRACES_SAMPLER`` and
``OTEL_BSP_*`` itself. Then:

- HTTP requests: ``api/tracing.py`` instruments the FastAPI app (opentelemetry-instrumentation-fastapi);
- runs: the worker wraps each execution in :func:`run_span` (``clew.run_id``, ``clew.thread_id``,
  ``clew.graph_id``, ``clew.assistant_id``, ``clew.attempt``; ``clew.run_status`` when it ends);
- nodes: a LangChain callback handler, added to every callback manager configured inside a run span through
  langchain-core's configure hook, opens a span per LangGraph node task (``CLEW_OTEL_NODE_SPANS``);
- database calls: opentelemetry-instrumentation-psycopg (``CLEW_OTEL_DB_SPANS``), through a tracer that
  only records inside another span, so the workers' polls and heartbeats do not each start a trace;
- logs: :func:`add_trace_ids` (a structlog processor) adds ``trace_id`` and ``span_id`` to every line
  written inside a span.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider

    from config_schema.settings import RuntimeSettings
    from engine.runtime import Runtime

TRACER_NAME = "clew"

# the installed provider (None: tracing is off in this process)
_provider: TracerProvider | None = None
# the node-span callback handler while a run span is current (read by langchain-core's configure hook)
_node_handler: ContextVar[Any] = ContextVar("clew_otel_node_spans", default=None)


def enabled() -> bool:
    return _provider is not None


def setup(settings: RuntimeSettings) -> bool:
    """Install tracing when ``settings.otel_enabled`` (idempotent); whether it is on."""
    global _provider
    if _provider is not None:
        return True
    if not settings.otel_enabled:
        return False
    from opentelemetry import trace
    from opentelemetry.sdk.resources import SERVICE_NAME, Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, ConsoleSpanExporter

    name = settings.otel_service_name or os.environ.get("OTEL_SERVICE_NAME") or "clew"
    provider = TracerProvider(resource=Resource.create({SERVICE_NAME: name}))
    if settings.otel_exporter == "console":
        provider.add_span_processor(BatchSpanProcessor(ConsoleSpanExporter()))
    else:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    trace.set_tracer_provider(provider)
    _provider = provider
    if settings.otel_db_spans:
        from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor

        from engine.tracing_spans import ChildOnlyTracerProvider

        PsycopgInstrumentor().instrument(tracer_provider=ChildOnlyTracerProvider(provider))
    if settings.otel_node_spans:
        from langchain_core.tracers.context import register_configure_hook

        register_configure_hook(_node_handler, inheritable=True)
    return True


@contextlib.contextmanager
def _run_span(runtime: Runtime, run: dict[str, Any]) -> Iterator[None]:
    from opentelemetry import trace

    from engine.tracing_spans import NodeSpans, record_run_status

    if record_run_status not in runtime.run_hooks.after_run:
        runtime.run_hooks.after_run.append(record_run_status)
    tracer = trace.get_tracer(TRACER_NAME)
    attributes = {
        "clew.run_id": str(run["run_id"]),
        "clew.thread_id": str(run["thread_id"]),
        "clew.graph_id": str(run["graph_id"]),
        "clew.assistant_id": str(run["assistant_id"]),
        "clew.attempt": int(run["attempt"]),
    }
    with tracer.start_as_current_span(f"run {run['graph_id']}", kind=trace.SpanKind.CONSUMER, attributes=attributes):
        nodes = NodeSpans(tracer) if runtime.settings.otel_node_spans else None
        token = _node_handler.set(nodes)
        try:
            yield
        finally:
            _node_handler.reset(token)
            if nodes is not None:
                nodes.close()


def run_span(runtime: Runtime, run: dict[str, Any]) -> contextlib.AbstractContextManager[None]:
    """The span of one run execution (one attempt); a null context when tracing is off."""
    if _provider is None:
        return contextlib.nullcontext()
    return _run_span(runtime, run)


def add_trace_ids(_logger: Any, _method: str, event_dict: dict[str, Any]) -> dict[str, Any]:
    """structlog processor: ``trace_id`` / ``span_id`` (hex, as trace back ends show them) inside a span."""
    if _provider is None:
        return event_dict
    from opentelemetry import trace

    ctx = trace.get_current_span().get_span_context()
    if ctx.is_valid:
        event_dict.setdefault("trace_id", format(ctx.trace_id, "032x"))
        event_dict.setdefault("span_id", format(ctx.span_id, "016x"))
    return event_dict
