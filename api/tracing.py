"""OpenTelemetry spans for HTTP requests (opentelemetry-instrumentation-fastapi), when tracing is on.

Only when ``CLEW_OTEL_ENABLED``: otherwise the app is left as it is (no middleware, no import of the
instrumentation). The tracer comes from the global provider that ``engine/tracing.py`` installs when the
runtime starts (the middleware's tracer is a proxy until then). Span per request, named by the route template
(``POST /threads/{thread_id}/runs``); the ``receive``/``send`` sub-spans are left out (an SSE stream would
make one per event). Probes and metrics scrapes are not traced.
"""

from __future__ import annotations

from fastapi import FastAPI

from config_schema.settings import RuntimeSettings

EXCLUDED_URLS = "/ok,/ready,/metrics"


def install(app: FastAPI, settings: RuntimeSettings) -> None:
    if not settings.otel_enabled:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(app, excluded_urls=EXCLUDED_URLS, exclude_spans=["receive", "send"])
