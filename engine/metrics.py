"""Prometheus metrics of a clew process (``prometheus-client``): runs, workers, events, streams, models.

Two kinds:

- **Process metrics** (counters, histograms, gauges below) are updated where things happen: run hooks
  (started / finished, duration, attempts, claim latency, takeovers), the executor and the event log
  (fenced-out writes, event batches), SSE streams, model calls (tokens and cost by model), and the seed's
  research counters (seed 000 §11.2: ``research_total``, ``research_duration_seconds``,
  ``research_cost_dollars``, ``active_researches``).
- **Database metrics** (runs by status, pool statistics, live workers) are read when scraped
  (:func:`render`), so every process reports the same totals.

Multiprocess: when ``PROMETHEUS_MULTIPROC_DIR`` is set (several processes behind one scrape target, e.g.
``uvicorn --workers``), prometheus-client's multiprocess mode aggregates the process metrics from its mmap
files; the one gauge kept in-process (open SSE streams) is ``livesum`` so dead processes drop out. Without it, each process (``clew serve``
at ``/metrics``, ``clew worker`` on ``CLEW_METRICS_PORT``) is its own target.

Metric names are prefixed ``clew_`` except the seed's research counters, which keep the seed's names.
"""

from __future__ import annotations

import os
import time
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import REGISTRY, Collector

if TYPE_CHECKING:
    from engine.runtime import Runtime

CONTENT_TYPE = CONTENT_TYPE_LATEST
_LIVE = {"multiprocess_mode": "livesum"}
_SECONDS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600)

RUNS_STARTED = Counter("clew_runs_started_total", "Run attempts started by a worker", ["graph_id"])
RUNS_FINISHED = Counter("clew_runs_finished_total", "Runs that reached a final status", ["graph_id", "status"])
RUN_DURATION = Histogram("clew_run_duration_seconds", "From first claim to final status", ["graph_id"],
                         buckets=_SECONDS)
RUN_ATTEMPTS = Histogram("clew_run_attempts", "Attempts a run needed, observed when it ends", ["graph_id"],
                         buckets=(1, 2, 3, 4, 5, 10))
CLAIM_LATENCY = Histogram("clew_run_claim_latency_seconds", "From a run's creation to a worker claiming it",
                          buckets=_SECONDS)
LEASE_TAKEOVERS = Counter("clew_lease_takeovers_total", "Runs claimed again after their worker's lease lapsed")
FENCED_WRITES = Counter("clew_fenced_writes_total", "Writes refused because the run's lease was taken over",
                        ["kind"])
EVENT_BATCH_SIZE = Histogram("clew_event_batch_size", "Stream events written per INSERT",
                             buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000))
EVENT_BATCH_DELAY = Histogram("clew_event_batch_seconds", "Time an event batch waited for and spent in its INSERT",
                              buckets=_SECONDS)
SSE_STREAMS = Gauge("clew_sse_streams_open", "Open SSE streams", **_LIVE)  # type: ignore[arg-type]
MODEL_TOKENS = Counter("clew_model_tokens_total", "Model tokens by model and direction", ["model", "direction"])
MODEL_COST = Counter("clew_model_cost_usd_total", "Model cost in USD by model", ["model"])
MODEL_CALLS = Counter("clew_model_calls_total", "Model calls by model", ["model"])
HTTP_REQUESTS = Counter("clew_http_requests_total", "HTTP requests by method and status class",
                        ["method", "status"])
RATE_LIMITED = Counter("clew_rate_limited_total", "Requests refused with 429, by route class", ["route_class"])

# seed 000 §11.2 (report_type = the graph)
RESEARCH_TOTAL = Counter("research_total", "Total number of research tasks", ["status", "report_type"])
RESEARCH_DURATION = Histogram("research_duration_seconds", "Research duration in seconds", ["report_type"],
                              buckets=_SECONDS)
RESEARCH_COST = Histogram("research_cost_dollars", "Research cost in dollars", ["report_type"],
                          buckets=(0.001, 0.01, 0.05, 0.1, 0.5, 1, 5, 10, 50))


def is_research(graph_id: str) -> bool:
    return "research" in graph_id


def _seconds_since(value: Any) -> float | None:
    if isinstance(value, datetime):
        when = value if value.tzinfo else value.replace(tzinfo=UTC)
        return max(0.0, (datetime.now(UTC) - when).total_seconds())
    return None


async def before_run(runtime: Runtime, run: dict[str, Any]) -> None:
    graph_id = str(run.get("graph_id", ""))
    RUNS_STARTED.labels(graph_id).inc()
    if run.get("attempt", 1) == 1 and (wait := _seconds_since(run.get("created_at"))) is not None:
        CLAIM_LATENCY.observe(wait)
    elif run.get("attempt", 1) > 1 and not run.get("error"):
        # claimed again with no recorded failure: the previous worker stopped renewing its lease
        LEASE_TAKEOVERS.inc()
    if is_research(graph_id):
        if run.get("attempt", 1) == 1:
            RESEARCH_TOTAL.labels("started", graph_id).inc()


async def after_run(runtime: Runtime, run: dict[str, Any], status: str) -> None:
    graph_id = str(run.get("graph_id", ""))
    RUNS_FINISHED.labels(graph_id, status).inc()
    RUN_ATTEMPTS.labels(graph_id).observe(float(run.get("attempt", 1)))
    duration = _seconds_since(run.get("started_at"))
    if duration is not None:
        RUN_DURATION.labels(graph_id).observe(duration)
    if is_research(graph_id):
        RESEARCH_TOTAL.labels(status, graph_id).inc()
        if duration is not None:
            RESEARCH_DURATION.labels(graph_id).observe(duration)
        from persistence import metrics_sql

        async with runtime.db.connection() as conn:
            RESEARCH_COST.labels(graph_id).observe(await metrics_sql.run_cost(conn, str(run["run_id"])))


def model_call(model: str, input_tokens: int, output_tokens: int, cost_usd: float) -> None:
    MODEL_CALLS.labels(model).inc()
    MODEL_TOKENS.labels(model, "input").inc(input_tokens)
    MODEL_TOKENS.labels(model, "output").inc(output_tokens)
    if cost_usd:
        MODEL_COST.labels(model).inc(cost_usd)


def event_batch(size: int, started: float) -> None:
    EVENT_BATCH_SIZE.observe(size)
    EVENT_BATCH_DELAY.observe(max(0.0, time.monotonic() - started))


class _Snapshot(Collector):
    """Database metrics read at scrape time (see :func:`render`)."""

    def __init__(self, values: dict[str, Any]) -> None:
        self.values = values

    def collect(self) -> Any:
        runs = GaugeMetricFamily("clew_runs", "Runs in the database by status", labels=["status"])
        for status, n in sorted(self.values.get("runs", {}).items()):
            runs.add_metric([status], n)
        yield runs
        workers = GaugeMetricFamily("clew_workers_alive", "Worker processes with a heartbeat in the last minute")
        workers.add_metric([], self.values.get("workers", 0))
        yield workers
        pool = GaugeMetricFamily("clew_db_pool", "This process's connection pool (psycopg_pool get_stats)",
                                 labels=["stat"])
        for stat, n in sorted(self.values.get("pool", {}).items()):
            pool.add_metric([stat], n)
        yield pool
        executing = GaugeMetricFamily("clew_runs_executing", "Runs executing in this process")
        executing.add_metric([], self.values.get("executing", 0))
        yield executing
        active = GaugeMetricFamily("active_researches", "Number of active research tasks (this process)")
        active.add_metric([], self.values.get("active_researches", 0))
        yield active


async def render(runtime: Runtime) -> bytes:
    """The text exposition of this process's metrics plus the database's, for one scrape."""
    from persistence import metrics_sql

    values: dict[str, Any] = {"pool": {k: v for k, v in runtime.db.pool.get_stats().items()
                                       if isinstance(v, int | float)}}
    running = list(runtime.worker.running.values()) if runtime.worker is not None else []
    values["executing"] = len(running)
    values["active_researches"] = sum(1 for e in running if is_research(str(e.run.get("graph_id", ""))))
    try:
        async with runtime.db.connection() as conn:
            values["runs"] = await metrics_sql.runs_by_status(conn)
            values["workers"] = await metrics_sql.live_workers(conn)
    except Exception:  # the scrape still answers with process metrics while the database is away
        values["runs"] = {}
    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.MultiProcessCollector(registry)
        body = generate_latest(registry)
    else:
        body = generate_latest(REGISTRY)
    extra = CollectorRegistry()
    extra.register(_Snapshot(values))
    return body + generate_latest(extra)


def install(runtime: Runtime) -> None:
    """Register the run hooks that feed the run metrics (idempotent per runtime)."""
    hooks = runtime.run_hooks
    if before_run not in hooks.before_run:
        hooks.before_run.append(before_run)
        hooks.after_run.append(after_run)
