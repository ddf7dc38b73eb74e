"""Optional OpenTelemetry traces (engine/tracing.py, api/tracing.py).

On: a real server (``CLEW_OTEL_ENABLED=true``) exports over OTLP/HTTP, as in a deployment, to a small
collector this test runs (``OTEL_EXPORTER_OTLP_ENDPOINT``); a run created through the SDK yields the request
span, the run span with its ids, node spans under it (a subgraph's node under the node that called it),
database spans only inside other spans, and log lines carrying the trace and span ids.
Off (the default): no tracer provider is installed, nothing is instrumented, the run span is a null context.
"""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from langgraph_sdk import get_client

from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT, ClewProcess


class Collector:
    """An OTLP/HTTP trace receiver (protobuf bodies on ``/v1/traces``) keeping every span it is sent."""

    def __init__(self) -> None:
        self.spans: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 - http.server's name
                from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
                    ExportTraceServiceRequest,
                    ExportTraceServiceResponse,
                )

                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                request = ExportTraceServiceRequest()
                request.ParseFromString(body)
                collector.add(request)
                answer = ExportTraceServiceResponse().SerializeToString()
                self.send_response(200)
                self.send_header("content-type", "application/x-protobuf")
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def add(self, request: Any) -> None:
        from google.protobuf.json_format import MessageToDict

        for resource_spans in request.resource_spans:
            resource = {a.key: next(iter(MessageToDict(a.value).values()), None)
                        for a in resource_spans.resource.attributes}
            for scope_spans in resource_spans.scope_spans:
                for span in scope_spans.spans:
                    attributes = {a.key: next(iter(MessageToDict(a.value).values()), None) for a in span.attributes}
                    with self.lock:
                        self.spans.append({
                            "name": span.name, "trace_id": span.trace_id.hex(), "span_id": span.span_id.hex(),
                            "parent": span.parent_span_id.hex() or None, "attributes": attributes,
                            "scope": scope_spans.scope.name, "service": resource.get("service.name"),
                            "status": span.status.code,
                        })

    def find(self, pred: Any) -> list[dict[str, Any]]:
        with self.lock:
            return [s for s in self.spans if pred(s)]


@pytest.fixture(scope="module")
def collector() -> Iterator[Collector]:
    c = Collector()
    c.thread.start()
    yield c
    c.server.shutdown()


@pytest.fixture(scope="module")
def traced(collector: Collector, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    # A database of its own: the session's shared server (conftest ``server``) would otherwise claim some of
    # this module's runs from the shared database, and their spans would never reach this collector.
    db_url = create_database("clew_otel")
    env = {
        "CLEW_OTEL_ENABLED": "true",
        "CLEW_OTEL_SERVICE_NAME": "clew-test",
        "OTEL_EXPORTER_OTLP_ENDPOINT": collector.url,
        "OTEL_BSP_SCHEDULE_DELAY": "100",  # export every 0.1 s (the SDK's default is 5 s)
    }
    proc = ClewProcess(db_url, tmp_path_factory.mktemp("otel"), workers=2, env=env).start()
    try:
        yield proc
    finally:
        proc.stop()
        drop_database(db_url)


async def _spans_of(collector: Collector, pred: Any, count: int = 1, timeout: float = 60.0) -> list[dict[str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        found = collector.find(pred)
        if len(found) >= count or time.monotonic() > deadline:
            return found
        await asyncio.sleep(0.1)


async def test_request_run_node_and_database_spans(traced: ClewProcess, collector: Collector) -> None:
    client = get_client(url=traced.url)
    thread = await client.threads.create()
    tid = str(thread["thread_id"])
    result = await client.runs.wait(tid, "steps3", input={})
    assert result is not None
    runs = await client.runs.list(tid)
    run = runs[0]
    rid = str(run["run_id"])

    # the run span: one per execution, with the run's ids, and its status once it ended
    run_spans = await _spans_of(collector, lambda s: s["attributes"].get("clew.run_id") == rid)
    assert len(run_spans) == 1, run_spans
    span = run_spans[0]
    assert span["name"] == "run steps3" and span["scope"] == "clew" and span["service"] == "clew-test"
    assert span["attributes"]["clew.thread_id"] == tid
    assert span["attributes"]["clew.graph_id"] == "steps3"
    assert span["attributes"]["clew.assistant_id"] == str(run["assistant_id"])
    assert int(span["attributes"]["clew.attempt"]) == 1
    assert span["attributes"]["clew.run_status"] == "success"

    # the request that created it: a server span named by its route template
    requests = await _spans_of(collector, lambda s: s["name"] == "POST /threads/{thread_id}/runs/wait")
    assert requests and requests[0]["scope"] == "opentelemetry.instrumentation.fastapi"
    assert int(requests[0]["attributes"].get("http.response.status_code")
               or requests[0]["attributes"].get("http.status_code")) == 200

    # a span per node, under the run span
    in_run = lambda s: s["trace_id"] == span["trace_id"]  # noqa: E731
    nodes = await _spans_of(collector, lambda s: in_run(s) and s["name"].startswith("node "), 3)
    assert sorted(n["name"] for n in nodes) == ["node n1", "node n2", "node n3"]
    assert {n["parent"] for n in nodes} == {span["span_id"]}
    assert all(n["attributes"]["langgraph.node"] == n["name"][5:] for n in nodes)

    # database calls made by the run (its checkpoint writes, say) are in its trace...
    db_calls = await _spans_of(collector, lambda s: in_run(s) and s["scope"].endswith("psycopg"))
    assert db_calls and all(s["attributes"].get("db.system") == "postgresql" or
                            s["attributes"].get("db.system.name") == "postgresql" for s in db_calls)
    # ...and no database call starts a trace of its own (the workers' polls and heartbeats are not traced)
    assert not collector.find(lambda s: s["scope"].endswith("psycopg") and s["parent"] is None)
    # probes are not traced
    assert not collector.find(lambda s: s["name"].startswith("GET /ok"))

    # log lines written inside a span carry its trace and span ids
    lines = [json.loads(line) for line in traced.log_path.read_text().splitlines() if line.startswith("{")]
    created = [x for x in lines if x.get("event") == "run created" and x.get("run_id") == rid]
    assert created and created[0]["trace_id"] == requests[0]["trace_id"] and len(created[0]["span_id"]) == 16
    assert any(x.get("run_id") == rid and x.get("trace_id") == span["trace_id"] for x in lines if x is not created[0])


async def test_subgraph_node_spans_nest(traced: ClewProcess, collector: Collector) -> None:
    client = get_client(url=traced.url)
    tid = str((await client.threads.create())["thread_id"])
    await client.runs.wait(tid, "nested", input={"messages": []})
    rid = str((await client.runs.list(tid))[0]["run_id"])
    run_span = (await _spans_of(collector, lambda s: s["attributes"].get("clew.run_id") == rid))[0]
    same = lambda s: s["trace_id"] == run_span["trace_id"]  # noqa: E731
    child = (await _spans_of(collector, lambda s: same(s) and s["name"] == "node child"))[0]
    inner = (await _spans_of(collector, lambda s: same(s) and s["name"] == "node inner"))[0]
    assert child["parent"] == run_span["span_id"] and inner["parent"] == child["span_id"]


def test_off_by_default_installs_nothing() -> None:
    """A fresh interpreter with the default settings: the app and runtime hooks leave OpenTelemetry alone."""
    code = """
import sys
import psycopg
from opentelemetry import trace
from config_schema.settings import RuntimeSettings
from api.app import create_app
from engine import tracing

settings = RuntimeSettings()
assert settings.otel_enabled is False
app = create_app(settings)
assert tracing.setup(settings) is False and not tracing.enabled()
assert type(trace.get_tracer_provider()).__name__ == "ProxyTracerProvider"
assert not any(m.startswith("opentelemetry.instrumentation") for m in sys.modules), sorted(sys.modules)
assert not hasattr(psycopg.AsyncConnection.connect, "__wrapped__")
assert type(tracing.run_span(None, {})).__name__ == "nullcontext"
assert "OpenTelemetryMiddleware" not in repr(app.user_middleware)
event = {"event": "x"}
assert tracing.add_trace_ids(None, "info", event) == {"event": "x"}
print("off ok")
"""
    env = {"PATH": "/usr/bin:/bin", "LANGGRAPH_STRICT_MSGPACK": "true"}
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert out.returncode == 0 and "off ok" in out.stdout, out.stderr[-3000:]
