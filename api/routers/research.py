"""Research routes: start, follow, cancel a research and fetch or export its report.

These are thin aliases over threads and runs (a research *is* a thread running a research graph; its id is
the thread id), for clients that speak the design document's research API rather than the Agent Server
protocol:

- ``POST /api/v1/research/start`` ``{query, mode: standard|deep|knowledge|multi_agent, source?:
  web|local|hybrid, settings?: {key: value}, human_review?, metadata?}`` creates a thread and a run through
  :func:`engine.service.create_run` (so multitask rules, budgets and the configuration snapshot apply);
  ``knowledge`` is standard research in source mode ``local``; ``multi_agent`` is the editorial team
  (``graphs/multi_agent_research.py``), which reviews its outline with the human unless ``human_review`` is
  false. The answer carries the ids and the stream URL.
- ``GET /api/v1/research/{id}/progress``: status, stage, completed / total queries, depth, the current
  query (from the last progress event), the pending interrupt if the research waits for one.
- ``POST /api/v1/research/{id}/cancel``: cancels the active run (``engine.service.cancel_run``); 409 when none.
- ``GET /api/v1/research/{id}/result``: ``{report, sources, cost, duration, quality, ...}``; 409 until a
  report exists.
- ``GET /api/v1/research/{id}/export/{md|html|pdf|docx}``: the report as a download (``reports.export``).

Every route sees the caller's threads only; another user's research is a 404, exactly like an unknown one.
The functions under the routes (:func:`start_research`, :func:`research_state`, :func:`result_of`) are also
what ``clew research`` uses, so the CLI and the API start and read researches the same way.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Literal

import orjson
from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError, conflict, not_found
from api.limits import Metadata
from api.routers.threads import load_thread
from api.schemas import RunCreate
from engine import service
from engine.serde import to_jsonable
from persistence import runs as runs_repo
from persistence import threads as threads_repo
from reports.export import content_disposition, content_type, export_report, parse_format

if TYPE_CHECKING:
    from api.auth import User
    from engine.runtime import Runtime

router = APIRouter(prefix="/api/v1/research", tags=["research"])

Mode = Literal["standard", "deep", "knowledge", "multi_agent"]
SourceMode = Literal["web", "local", "hybrid"]

GRAPHS: dict[str, str] = {
    "standard": "research",
    "deep": "deep_research",
    "knowledge": "knowledge_research",
    "multi_agent": "multi_agent_research",
}
STREAM_MODES = ["values", "updates", "custom", "messages-tuple"]
# A node only research graphs have: a thread of another graph is no research (404 on these routes).
RESEARCH_NODES = frozenset({"research_branch", "section_team"})
# Each batch of branches is two super-steps; this leaves room for the largest settings (breadth 10,
# depth 5, concurrency 1) where LangGraph's default limit of 25 (clew's 50) would not.
RECURSION_LIMIT = 400


class StartRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=4000)
    mode: Mode = "standard"
    source: SourceMode | None = None
    settings: dict[str, Any] = Field(default_factory=dict, description="session settings for this research")
    human_review: bool | None = None
    metadata: Metadata = Field(default_factory=dict)

    @field_validator("query")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("a research needs a question: the query is blank")
        return value


class StartResponse(BaseModel):
    research_id: str
    thread_id: str
    run_id: str
    status: str
    mode: str
    graph_id: str
    stream_url: str


class Progress(BaseModel):
    research_id: str
    status: str
    run_status: str | None = None
    stage: str | None = None
    completed_queries: int = 0
    total_queries: int = 0
    current_depth: int = 0
    total_depth: int = 0
    current_query: str | None = None
    failed_queries: int = 0
    cost: dict[str, Any] | None = None
    interrupt: dict[str, Any] | None = None
    error: Any = None
    started_at: Any = None
    updated_at: Any = None


class CancelResponse(BaseModel):
    research_id: str
    run_id: str
    status: str = "cancelling"


# --- shared with the CLI ------------------------------------------------------------------------------


async def start_research(
    runtime: Runtime,
    user: User,
    query: str,
    *,
    mode: str = "standard",
    source: str | None = None,
    settings: Mapping[str, Any] | None = None,
    human_review: bool | None = None,
    metadata: Mapping[str, Any] | None = None,
    thread_id: str | None = None,
) -> dict[str, Any]:
    """Create the run of a new research (or a new one on ``thread_id``); returns the run row.

    Raises ApiError 422 (nothing created) for a blank query, an unknown mode, or a field the run refuses
    (e.g. ``metadata`` over its size limit)."""
    if not query.strip():
        raise ApiError(422, "invalid", "query: a research needs a question: the query is blank")
    graph_id = GRAPHS.get(mode)
    if graph_id is None:
        raise ApiError(422, "invalid", f"unknown research mode {mode!r}: use {', '.join(GRAPHS)}")
    if graph_id not in runtime.graphs:
        raise ApiError(409, "graph_unavailable", f"graph {graph_id!r} is not loaded on this server")
    context = dict(settings or {})
    if human_review is not None:
        context["research.human_review"] = human_review
    research_input: dict[str, Any] = {"question": query}
    if source is not None and mode != "knowledge":
        research_input["source_mode"] = source
    try:  # before the thread exists, so a refused field creates nothing
        body = RunCreate(
            assistant_id=graph_id,
            input=research_input,
            context=context or None,
            config={"recursion_limit": RECURSION_LIMIT},
            metadata={**(metadata or {}), "research_mode": mode},
            stream_mode=STREAM_MODES,
            if_not_exists="create",
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise ApiError(422, "invalid", f"{where}: {first.get('msg')}") from None
    if thread_id is None:
        thread_id = str(uuid.uuid4())
        async with runtime.db.transaction() as conn:
            await threads_repo.insert(
                conn, user.user_id, thread_id, {"research_question": query[:500], "research_mode": mode}
            )
    return await service.create_run(runtime, user, thread_id, body)


async def owned_thread(runtime: Runtime, user: User, research_id: str) -> dict[str, Any]:
    return await load_thread(runtime, user, research_id, "research")


async def research_state(
    runtime: Runtime, user: User, research_id: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The thread row and the research's current state values (from its latest checkpoint)."""
    thread = await owned_thread(runtime, user, research_id)
    graph_id = (thread.get("metadata") or {}).get("graph_id", "")
    spec = runtime.graphs.get(graph_id)
    values: dict[str, Any] = {}
    if spec is not None:
        graph = spec.graph.copy(update={"checkpointer": runtime.saver, "store": runtime.store})
        snapshot = await graph.aget_state({"configurable": {"thread_id": str(thread["thread_id"])}})
        values = dict(snapshot.values or {})
    elif thread.get("state_values"):
        values = dict(thread["state_values"])
    if "question" not in values and "queries" not in values and "report" not in values:
        if graph_id and spec is not None and not RESEARCH_NODES & set(spec.graph.nodes):
            raise not_found("research", research_id)
    return thread, values


def _iso(value: Any) -> Any:
    """An epoch-seconds timestamp (the graphs' ``finished_at``) as ISO 8601 in UTC, like ``created_at``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    return value


def result_of(thread: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The result document of a research (the ``/result`` body)."""
    return to_jsonable(
        {
            "research_id": str(thread["thread_id"]),
            "question": values.get("question"),
            "mode": values.get("mode"),
            "source_mode": values.get("source_mode"),
            "status": _status(thread, values),
            "report": values.get("report"),
            "sources": values.get("sources") or [],
            "quality": values.get("quality"),
            "cost": values.get("cost"),
            "duration": values.get("duration"),
            "offline": values.get("offline"),
            "notes": values.get("notes") or [],
            "created_at": thread.get("created_at"),
            "completed_at": _iso(values.get("finished_at")),
        }
    )


def _status(thread: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """running | interrupted | error | the research's own final status (done, rejected, failed_quality_check)."""
    status = str(thread["status"])
    if status == "busy":
        return "running"
    if status in ("interrupted", "error"):
        return status
    return str(values.get("status") or status) if values.get("status") != "running" else "stopped"


async def _latest_run(runtime: Runtime, user: User, thread_id: str) -> dict[str, Any] | None:
    async with runtime.db.connection() as conn:
        runs = await runs_repo.list_for_thread(conn, user.user_id, thread_id, limit=1, offset=0, status=None)
    return runs[0] if runs else None


async def _last_progress_event(runtime: Runtime, run_id: str) -> dict[str, Any] | None:
    rows = await runtime.db.fetchall(
        "SELECT data FROM run_events WHERE run_id = %s AND event = 'custom' ORDER BY seq DESC LIMIT 200",
        (run_id,),
    )
    for row in rows:
        try:
            data = orjson.loads(row["data"])
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("type") == "research.progress":
            return data
    return None


# --- routes -------------------------------------------------------------------------------------------


@router.post("/start", response_model=StartResponse, status_code=201)
async def start(
    body: StartRequest, user: CurrentUser, runtime: RuntimeDep, response: Response
) -> StartResponse:
    run = await start_research(
        runtime,
        user,
        body.query,
        mode=body.mode,
        source=body.source,
        settings=body.settings,
        human_review=body.human_review,
        metadata=body.metadata,
    )
    thread_id, run_id = str(run["thread_id"]), str(run["run_id"])
    response.headers["Content-Location"] = f"/threads/{thread_id}/runs/{run_id}"
    response.headers["Location"] = f"/threads/{thread_id}/runs/{run_id}/stream"
    return StartResponse(
        research_id=thread_id,
        thread_id=thread_id,
        run_id=run_id,
        status=str(run["status"]),
        mode=body.mode,
        graph_id=str(run["graph_id"]),
        stream_url=f"/threads/{thread_id}/runs/{run_id}/stream",
    )


@router.get("/{research_id}/progress", response_model=Progress)
async def get_progress(research_id: str, user: CurrentUser, runtime: RuntimeDep) -> Progress:
    thread, values = await research_state(runtime, user, research_id)
    thread_id = str(thread["thread_id"])
    run = await _latest_run(runtime, user, thread_id)
    event = await _last_progress_event(runtime, str(run["run_id"])) if run else None
    findings = values.get("findings") or []
    interrupts = [i for items in (thread.get("interrupts") or {}).values() for i in (items or [])]
    return Progress(
        research_id=thread_id,
        status=_status(thread, values),
        run_status=str(run["status"]) if run else None,
        stage=values.get("stage"),
        completed_queries=len(findings),
        total_queries=int(values.get("total_queries") or 0),
        current_depth=int(values.get("level") or 0),
        total_depth=int(values.get("depth") or 0),
        current_query=(event or {}).get("current_query"),
        failed_queries=sum(1 for f in findings if f.get("error")),
        cost=values.get("cost"),
        interrupt=to_jsonable(interrupts[0]) if interrupts else None,
        error=thread.get("error"),
        started_at=thread.get("created_at"),
        updated_at=thread.get("updated_at"),
    )


@router.post("/{research_id}/cancel", response_model=CancelResponse, status_code=202)
async def cancel(research_id: str, user: CurrentUser, runtime: RuntimeDep) -> CancelResponse:
    thread = await owned_thread(runtime, user, research_id)
    thread_id = str(thread["thread_id"])
    async with runtime.db.connection() as conn:
        active = await runs_repo.active_for_thread(conn, thread_id)
    if not active:
        raise conflict(
            f"research {thread_id} has no run in progress (status {thread['status']})",
            thread_status=thread["status"],
        )
    run_id = str(active[0]["run_id"])
    await service.cancel_run(runtime, user, thread_id, run_id, "interrupt")
    return CancelResponse(research_id=thread_id, run_id=run_id)


@router.get("/{research_id}/result")
async def result(research_id: str, user: CurrentUser, runtime: RuntimeDep) -> dict[str, Any]:
    thread, values = await research_state(runtime, user, research_id)
    if not values.get("report"):
        raise conflict(
            f"research {research_id} has no report yet (status {values.get('status') or thread['status']})",
            thread_status=thread["status"],
        )
    return result_of(thread, values)


@router.get("/{research_id}/export/{fmt}")
async def export(research_id: str, fmt: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    export_format = parse_format(fmt)
    thread, values = await research_state(runtime, user, research_id)
    report = values.get("report")
    if not report:
        raise conflict(f"research {research_id} has no report yet", thread_status=thread["status"])
    title = str(values.get("question") or "research report")
    data = await export_report(str(report), export_format, title=title)
    return Response(
        content=data,
        media_type=content_type(export_format),
        headers={"Content-Disposition": content_disposition(title, export_format)},
    )
