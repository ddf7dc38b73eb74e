"""The pieces of OpenTelemetry tracing that need the SDK loaded (imported by ``engine/tracing.py`` only when
tracing is on): node spans from LangChain callbacks, the run status on the run span, and a tracer for the
database instrumentation that records only inside another span.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any
from uuid import UUID

from langchain_core.callbacks import BaseCallbackHandler
from opentelemetry import trace
from opentelemetry.trace import INVALID_SPAN, Span, SpanKind, Status, StatusCode

if TYPE_CHECKING:
    from engine.runtime import Runtime


class NodeSpans(BaseCallbackHandler):
    """A span per LangGraph node task of one run: a chain whose name is its ``langgraph_node`` metadata.

    Called inline (``run_inline``: no thread hop, a few dict operations per callback). A node span's parent is
    the span of the nearest node above it (a subgraph's node under the node that called the subgraph), else
    the current span — the run's. Control flow that LangGraph raises (an interrupt, a command to the parent)
    ends the span without an error status."""

    run_inline = True

    def __init__(self, tracer: trace.Tracer) -> None:
        self.tracer = tracer
        self._nearest: dict[UUID, Span] = {}  # every open chain under a node -> that node's span
        self._own: dict[UUID, Span] = {}  # the node chains' own spans

    def on_chain_start(self, serialized: dict[str, Any] | None, inputs: Any, *, run_id: UUID,
                       parent_run_id: UUID | None = None, tags: list[str] | None = None,
                       metadata: dict[str, Any] | None = None, **kwargs: Any) -> None:
        parent = self._nearest.get(parent_run_id) if parent_run_id is not None else None
        node = (metadata or {}).get("langgraph_node")
        if node is not None and kwargs.get("name") == node:
            meta = metadata or {}
            attributes: dict[str, Any] = {"langgraph.node": str(node)}
            if isinstance(meta.get("langgraph_step"), int):
                attributes["langgraph.step"] = meta["langgraph_step"]
            if meta.get("langgraph_checkpoint_ns"):
                attributes["langgraph.checkpoint_ns"] = str(meta["langgraph_checkpoint_ns"])
            context = trace.set_span_in_context(parent) if parent is not None else None
            span = self.tracer.start_span(f"node {node}", context=context, attributes=attributes)
            self._own[run_id] = span
            self._nearest[run_id] = span
        elif parent is not None:
            self._nearest[run_id] = parent

    def _end(self, run_id: UUID, error: BaseException | None = None) -> None:
        self._nearest.pop(run_id, None)
        span = self._own.pop(run_id, None)
        if span is None:
            return
        if error is not None:
            from langgraph.errors import GraphBubbleUp

            if not isinstance(error, GraphBubbleUp):
                span.record_exception(error)
                span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        span.end()

    def on_chain_end(self, outputs: Any, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id)

    def on_chain_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._end(run_id, error)

    def close(self) -> None:
        """End what the run left open (a cancelled task may not report its end)."""
        for span in self._own.values():
            span.end()
        self._own.clear()
        self._nearest.clear()


async def record_run_status(runtime: Runtime, run: dict[str, Any], status: str) -> None:
    """After-run hook: the run's final status on its span (the current span while the run ends)."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attribute("clew.run_status", status)
        if status in ("error", "timeout"):
            span.set_status(Status(StatusCode.ERROR, status))


class _ChildOnlyTracer(trace.Tracer):
    """A tracer that starts spans only under a valid current (or given) span; elsewhere a non-recording one."""

    def __init__(self, inner: trace.Tracer) -> None:
        self._inner = inner

    def start_span(self, name: str, context: Any = None, kind: SpanKind = SpanKind.INTERNAL, *args: Any,
                   **kwargs: Any) -> Span:
        if not trace.get_current_span(context).get_span_context().is_valid:
            return INVALID_SPAN
        return self._inner.start_span(name, context, kind, *args, **kwargs)

    @contextmanager  # type: ignore[override]
    def start_as_current_span(self, name: str, context: Any = None, kind: SpanKind = SpanKind.INTERNAL,
                              *args: Any, **kwargs: Any) -> Iterator[Span]:
        if not trace.get_current_span(context).get_span_context().is_valid:
            yield INVALID_SPAN
            return
        with self._inner.start_as_current_span(name, context, kind, *args, **kwargs) as span:
            yield span


class ChildOnlyTracerProvider(trace.TracerProvider):
    """Hands out :class:`_ChildOnlyTracer` over ``inner``'s tracers (for the database instrumentation)."""

    def __init__(self, inner: trace.TracerProvider) -> None:
        self._inner = inner

    def get_tracer(self, *args: Any, **kwargs: Any) -> trace.Tracer:
        return _ChildOnlyTracer(self._inner.get_tracer(*args, **kwargs))
