"""The research service: start, read, continue and cancel researches, below any transport.

A research *is* a thread running a research graph (its id is the thread id); this module turns the research
vocabulary (a question, a mode, a source) into threads and runs created through :func:`engine.lifecycle.create_run`
(so multitask rules, budgets and the configuration snapshot apply), and reads a research back from its thread
and latest checkpoint. The HTTP routes (``api/routers/research.py``) and ``clew research`` (``cli/research/``)
both call it, so a research started, followed or read by one is the same for the other. Failures are
:mod:`domain.errors` (the router maps them to statuses, the CLI prints them).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from domain.errors import Conflict, InvalidInput, NotFound
from engine import lifecycle
from engine.run_models import RunCreate
from engine.serde import to_jsonable
from persistence import runs as runs_repo
from persistence import threads as threads_repo
from reports.export import ExportFormat, export_report

if TYPE_CHECKING:
    from domain.users import User
    from engine.runtime import Runtime

# Research mode -> the graph that runs it.
GRAPHS: dict[str, str] = {
    "standard": "research",
    "deep": "deep_research",
    "knowledge": "knowledge_research",
    "multi_agent": "multi_agent_research",
}
# Research graph -> the mode it is listed as (``clew threads``).
GRAPH_MODES: dict[str, str] = {
    "research": "standard",
    "deep_research": "deep",
    "knowledge_research": "knowledge",
    "deep_knowledge_research": "deep",
    "multi_agent_research": "multi_agent",
}
STREAM_MODES = ["values", "updates", "custom", "messages-tuple"]
# What a run that continues a research (a resume, a retry) streams: the CLI follows these.
CONTINUE_STREAM_MODES = ["values", "custom"]
# A node only research graphs have: a thread of another graph is no research (not found as one).
RESEARCH_NODES = frozenset({"research_branch", "section_team"})
# Each batch of branches is two super-steps; this leaves room for the largest settings (breadth 10,
# depth 5, concurrency 1) where LangGraph's default limit of 25 (clew's 50) would not.
RECURSION_LIMIT = 400


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

    Raises InvalidInput (nothing created) for a blank query, an unknown mode, or a field the run refuses
    (e.g. ``metadata`` over its size limit); Conflict (``graph_unavailable``) when the mode's graph is not
    loaded."""
    if not query.strip():
        raise InvalidInput("query: a research needs a question: the query is blank")
    graph_id = GRAPHS.get(mode)
    if graph_id is None:
        raise InvalidInput(f"unknown research mode {mode!r}: use {', '.join(GRAPHS)}")
    if graph_id not in runtime.graphs:
        raise Conflict(f"graph {graph_id!r} is not loaded on this server", code="graph_unavailable")
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
        raise InvalidInput(f"{where}: {first.get('msg')}") from None
    new_thread = thread_id is None
    thread_id = thread_id or str(uuid.uuid4())
    # the run first: it creates the new thread in its own transaction, so a refused run (a setting, the
    # budget, the queue cap) leaves no empty thread behind
    run = await lifecycle.create_run(runtime, user, thread_id, body)
    if new_thread:
        async with runtime.db.connection() as conn:
            await threads_repo.update_metadata(
                conn, user.user_id, thread_id, {"research_question": query[:500], "research_mode": mode}
            )
    return run


async def resume_research(
    runtime: Runtime, user: User, thread_id: str, graph_id: str, answer: Any
) -> dict[str, Any]:
    """A new run on the research's thread answering its pending interrupt with ``answer``; the run row."""
    body = RunCreate(
        assistant_id=graph_id,
        command={"resume": answer},
        config={"recursion_limit": RECURSION_LIMIT},
        stream_mode=CONTINUE_STREAM_MODES,
    )
    return await lifecycle.create_run(runtime, user, thread_id, body)


async def continue_research(runtime: Runtime, user: User, thread_id: str, graph_id: str) -> dict[str, Any]:
    """A new run on the research's thread continuing from its last checkpoint (after a failed or stopped
    run); the run row."""
    body = RunCreate(
        assistant_id=graph_id,
        input=None,
        config={"recursion_limit": RECURSION_LIMIT},
        stream_mode=CONTINUE_STREAM_MODES,
    )
    return await lifecycle.create_run(runtime, user, thread_id, body)


async def owned_thread(runtime: Runtime, user: User, research_id: str) -> dict[str, Any]:
    """The caller's thread of that id (another user's research does not exist for them, like an unknown one)."""
    thread_id = lifecycle.valid_uuid(research_id, "research")
    async with runtime.db.connection() as conn:
        row = await threads_repo.get(conn, user.user_id, thread_id)
    if row is None:
        raise NotFound.of("research", research_id)
    return row


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
            raise NotFound.of("research", research_id)
    return thread, values


def _iso(value: Any) -> Any:
    """An epoch-seconds timestamp (the graphs' ``finished_at``) as ISO 8601 in UTC, like ``created_at``."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return datetime.fromtimestamp(value, tz=UTC).isoformat()
    return value


def research_status(thread: Mapping[str, Any], values: Mapping[str, Any]) -> str:
    """running | interrupted | error | the research's own final status (done, rejected, failed_quality_check)."""
    status = str(thread["status"])
    if status == "busy":
        return "running"
    if status in ("interrupted", "error"):
        return status
    return str(values.get("status") or status) if values.get("status") != "running" else "stopped"


def result_of(thread: Mapping[str, Any], values: Mapping[str, Any]) -> dict[str, Any]:
    """The result document of a research (the ``/result`` body)."""
    return to_jsonable(
        {
            "research_id": str(thread["thread_id"]),
            "question": values.get("question"),
            "mode": values.get("mode"),
            "source_mode": values.get("source_mode"),
            "status": research_status(thread, values),
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


async def research_result(runtime: Runtime, user: User, research_id: str) -> dict[str, Any]:
    """The result document of a research that has a report; Conflict until it has one."""
    thread, values = await research_state(runtime, user, research_id)
    if not values.get("report"):
        raise Conflict(
            f"research {research_id} has no report yet (status {values.get('status') or thread['status']})",
            thread_status=thread["status"],
        )
    return result_of(thread, values)


async def export_research(
    runtime: Runtime, user: User, research_id: str, export_format: ExportFormat
) -> tuple[bytes, str]:
    """The research's report in ``export_format`` and its title; Conflict until it has a report."""
    thread, values = await research_state(runtime, user, research_id)
    report = values.get("report")
    if not report:
        raise Conflict(f"research {research_id} has no report yet", thread_status=thread["status"])
    title = str(values.get("question") or "research report")
    return await export_report(str(report), export_format, title=title), title


async def _latest_run(runtime: Runtime, user: User, thread_id: str) -> dict[str, Any] | None:
    async with runtime.db.connection() as conn:
        runs = await runs_repo.list_for_thread(conn, user.user_id, thread_id, limit=1, offset=0, status=None)
    return runs[0] if runs else None


async def _last_progress_event(runtime: Runtime, run_id: str) -> dict[str, Any] | None:
    async with runtime.db.connection() as conn:
        rows = await runs_repo.recent_events(conn, run_id, "custom", limit=200)
    for row in rows:
        try:
            data = orjson.loads(row["data"])
        except orjson.JSONDecodeError:
            continue
        if isinstance(data, dict) and data.get("type") == "research.progress":
            return data
    return None


async def research_progress(runtime: Runtime, user: User, research_id: str) -> dict[str, Any]:
    """Where a research is: status, stage, queries done / planned, depth, the current query (from the last
    progress event), the pending interrupt if it waits for one (the ``/progress`` body's fields)."""
    thread, values = await research_state(runtime, user, research_id)
    thread_id = str(thread["thread_id"])
    run = await _latest_run(runtime, user, thread_id)
    event = await _last_progress_event(runtime, str(run["run_id"])) if run else None
    findings = values.get("findings") or []
    interrupts = [i for items in (thread.get("interrupts") or {}).values() for i in (items or [])]
    return {
        "research_id": thread_id,
        "status": research_status(thread, values),
        "run_status": str(run["status"]) if run else None,
        "stage": values.get("stage"),
        "completed_queries": len(findings),
        "total_queries": int(values.get("total_queries") or 0),
        "current_depth": int(values.get("level") or 0),
        "total_depth": int(values.get("depth") or 0),
        "current_query": (event or {}).get("current_query"),
        "failed_queries": sum(1 for f in findings if f.get("error")),
        "cost": values.get("cost"),
        "interrupt": to_jsonable(interrupts[0]) if interrupts else None,
        "error": thread.get("error"),
        "started_at": thread.get("created_at"),
        "updated_at": thread.get("updated_at"),
    }


async def cancel_research(runtime: Runtime, user: User, research_id: str) -> tuple[str, str]:
    """Cancel (action ``interrupt``) the research's active run; returns (thread id, run id). Conflict when
    no run is in progress."""
    thread = await owned_thread(runtime, user, research_id)
    thread_id = str(thread["thread_id"])
    async with runtime.db.connection() as conn:
        active = await runs_repo.active_for_thread(conn, thread_id)
    if not active:
        raise Conflict(
            f"research {thread_id} has no run in progress (status {thread['status']})",
            thread_status=thread["status"],
        )
    run_id = str(active[0]["run_id"])
    await lifecycle.cancel_run(runtime, user, thread_id, run_id, "interrupt")
    return thread_id, run_id
