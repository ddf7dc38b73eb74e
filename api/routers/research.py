"""Research routes: start, follow, cancel a research and fetch or export its report.

These are thin aliases over threads and runs (a research *is* a thread running a research graph; its id is
the thread id), for clients that speak the design document's research API rather than the Agent Server
protocol:

- ``POST /api/v1/research/start`` ``{query, mode: standard|deep|knowledge|multi_agent, source?:
  web|local|hybrid, settings?: {key: value}, human_review?, metadata?}`` creates a thread and a run through
  :func:`engine.research.start_research` (so multitask rules, budgets and the configuration snapshot apply);
  ``knowledge`` is standard research in source mode ``local``; ``multi_agent`` is the editorial team
  (``graphs/multi_agent_research.py``), which reviews its outline with the human unless ``human_review`` is
  false. The answer carries the ids and the stream URL.
- ``GET /api/v1/research/{id}/progress``: status, stage, completed / total queries, depth, the current
  query (from the last progress event), the pending interrupt if the research waits for one.
- ``POST /api/v1/research/{id}/cancel``: cancels the active run (``engine.lifecycle.cancel_run``); 409 when none.
- ``GET /api/v1/research/{id}/result``: ``{report, sources, cost, duration, quality, ...}``; 409 until a
  report exists.
- ``GET /api/v1/research/{id}/export/{md|html|pdf|docx}``: the report as a download (``reports.export``).

Every route sees the caller's threads only; another user's research is a 404, exactly like an unknown one.
The routes are HTTP only: the research service they call (``engine/research.py``) is what ``clew research``
uses too, so the CLI and the API start and read researches the same way.
"""

from __future__ import annotations

from typing import Any, Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, ConfigDict, Field, field_validator

from api.deps import CurrentUser, RuntimeDep
from domain.values import Metadata
from engine import research
from reports.export import content_disposition, content_type, parse_format

router = APIRouter(prefix="/api/v1/research", tags=["research"])

Mode = Literal["standard", "deep", "knowledge", "multi_agent"]
SourceMode = Literal["web", "local", "hybrid"]


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


# --- routes -------------------------------------------------------------------------------------------


@router.post("/start", response_model=StartResponse, status_code=201)
async def start(
    body: StartRequest, user: CurrentUser, runtime: RuntimeDep, response: Response
) -> StartResponse:
    run = await research.start_research(
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
    return Progress(**await research.research_progress(runtime, user, research_id))


@router.post("/{research_id}/cancel", response_model=CancelResponse, status_code=202)
async def cancel(research_id: str, user: CurrentUser, runtime: RuntimeDep) -> CancelResponse:
    thread_id, run_id = await research.cancel_research(runtime, user, research_id)
    return CancelResponse(research_id=thread_id, run_id=run_id)


@router.get("/{research_id}/result")
async def result(research_id: str, user: CurrentUser, runtime: RuntimeDep) -> dict[str, Any]:
    return await research.research_result(runtime, user, research_id)


@router.get("/{research_id}/export/{fmt}")
async def export(research_id: str, fmt: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    export_format = parse_format(fmt)
    data, title = await research.export_research(runtime, user, research_id, export_format)
    return Response(
        content=data,
        media_type=content_type(export_format),
        headers={"Content-Disposition": content_disposition(title, export_format)},
    )
