"""Run routes of the Agent Server protocol: create (background, stream, wait), read, join, cancel, delete."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Query, Request, Response
from sse_starlette import EventSourceResponse

from api.deps import CurrentUser, RuntimeDep
from api.errors import bad_request, conflict, not_found
from api.responses import JSON, run_out
from api.schemas import RunsCancel
from api.streaming import parse_last_event_id, sse_response
from domain.errors import Conflict
from engine import lifecycle
from engine.run_models import RunCreate
from persistence import runs as runs_repo
from persistence import threads as threads_repo

router = APIRouter(tags=["runs"])


def _locations(run: dict[str, Any], *, stateless: bool = False, wait: bool = False) -> dict[str, str]:
    """``Content-Location`` (the run) and ``Location`` (its stream, or its join for ``wait``), as the reference
    server: a stateless run's are ``/runs/{run_id}``."""
    base = f"/runs/{run['run_id']}" if stateless else f"/threads/{run['thread_id']}/runs/{run['run_id']}"
    return {"Content-Location": base, "Location": f"{base}/join" if wait else f"{base}/stream"}


async def _stream_new(runtime: Any, user: Any, thread_id: str | None, body: RunCreate, temporary: bool
                      ) -> EventSourceResponse:
    run = await lifecycle.create_run(runtime, user, thread_id, body, temporary=temporary)
    run_id, tid = str(run["run_id"]), str(run["thread_id"])
    on_disconnect = body.on_disconnect or ("continue" if body.stream_resumable else "cancel")

    async def cancel() -> None:
        try:
            await lifecycle.cancel_run(runtime, user, tid, run_id, "interrupt")
        except Exception:  # already finished: nothing to cancel
            pass

    return sse_response(
        runtime, run_id, 0, headers=_locations(run, stateless=temporary), on_disconnect=cancel if on_disconnect == "cancel" else None,
        user_id=user.user_id,
    )


async def _wait_new(runtime: Any, user: Any, thread_id: str | None, body: RunCreate, temporary: bool) -> Response:
    run = await lifecycle.create_run(runtime, user, thread_id, body, temporary=temporary)
    final = await lifecycle.join_run(runtime, str(run["run_id"]), just_created=True)
    return JSON(await _final_output(runtime, final, str(run["thread_id"]), run["graph_id"]),
                headers=_locations(run, stateless=temporary, wait=True))


def output_view(runtime: Any, graph_id: str, values: Any) -> Any:
    """The graph's output from its state values: the output schema's keys when the graph declares one (what
    ``invoke`` returns), else the whole state."""
    spec = runtime.graphs.get(graph_id)
    if spec is None or not isinstance(values, dict):
        return values
    channels = spec.graph.output_channels
    if isinstance(channels, str):
        return values.get(channels, values) if channels in values else values
    return {k: values[k] for k in channels if k in values}


async def _final_output(runtime: Any, run: dict[str, Any] | None, thread_id: str, graph_id: str) -> Any:
    if run is not None and run["status"] in ("error", "timeout"):
        return {"__error__": run.get("error") or {"error": run["status"], "message": run["status"]}}
    if run is not None and "thread_values" in run:
        values, by_task = run["thread_values"], run["thread_interrupts"]
    else:  # the run was deleted (rolled back): the thread as it is now
        async with runtime.db.connection() as conn:
            row = await threads_repo.state(conn, thread_id)
        if row is None:
            return None
        values, by_task = row["state_values"], row["interrupts"]
    values = output_view(runtime, graph_id, values)
    interrupts = [i for items in (by_task or {}).values() for i in items]
    if interrupts:
        values = {**(values if isinstance(values, dict) else {}), "__interrupt__": interrupts}
    return values


@router.post("/threads/{thread_id}/runs")
async def create_background(thread_id: str, body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    run = await lifecycle.create_run(runtime, user, thread_id, body)
    return JSON(run_out(run), headers=_locations(run))


@router.post("/threads/{thread_id}/runs/stream")
async def create_stream(thread_id: str, body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> EventSourceResponse:
    return await _stream_new(runtime, user, thread_id, body, False)


@router.post("/threads/{thread_id}/runs/wait")
async def create_wait(thread_id: str, body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return await _wait_new(runtime, user, thread_id, body, False)


@router.post("/runs/stream")
async def stateless_stream(body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> EventSourceResponse:
    return await _stream_new(runtime, user, None, body, True)


@router.post("/runs/wait")
async def stateless_wait(body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return await _wait_new(runtime, user, None, body, True)


@router.post("/runs")
async def stateless_background(body: RunCreate, user: CurrentUser, runtime: RuntimeDep) -> Response:
    run = await lifecycle.create_run(runtime, user, None, body, temporary=True)
    return JSON(run_out(run), headers=_locations(run, stateless=True))


@router.get("/threads/{thread_id}/runs")
async def list_runs(
    thread_id: str,
    user: CurrentUser,
    runtime: RuntimeDep,
    limit: int = Query(10, ge=1, le=1000),
    offset: int = Query(0, ge=0),
    status: str | None = None,
) -> Response:
    thread_id = lifecycle.valid_uuid(thread_id, "thread")
    async with runtime.db.connection() as conn:
        if await threads_repo.get(conn, user.user_id, thread_id) is None:
            raise not_found("thread", thread_id)
        rows = await runs_repo.list_for_thread(conn, user.user_id, thread_id, limit=limit, offset=offset, status=status)
    return JSON([run_out(r) for r in rows])


async def _get_run(runtime: Any, user: Any, thread_id: str, run_id: str) -> dict[str, Any]:
    thread_id = lifecycle.valid_uuid(thread_id, "thread")
    run_id = lifecycle.valid_uuid(run_id, "run")
    async with runtime.db.connection() as conn:
        run = await runs_repo.get(conn, user.user_id, run_id, thread_id)
    if run is None:
        raise not_found("run", run_id)
    return run


async def _get_run_anywhere(runtime: Any, user: Any, run_id: str) -> dict[str, Any]:
    run_id = lifecycle.valid_uuid(run_id, "run")
    async with runtime.db.connection() as conn:
        run = await runs_repo.get(conn, user.user_id, run_id)
    if run is None:
        raise not_found("run", run_id)
    return run


@router.get("/runs/{run_id}")
async def get_run_by_id(run_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    """A run by id alone: where a stateless run's ``Content-Location`` points (clew's addition)."""
    return JSON(run_out(await _get_run_anywhere(runtime, user, run_id)))


@router.get("/runs/{run_id}/join")
async def join_run_by_id(run_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    run = await _get_run_anywhere(runtime, user, run_id)
    final = await lifecycle.join_run(runtime, str(run["run_id"]))
    return JSON(await _final_output(runtime, final, str(run["thread_id"]), run["graph_id"]))


@router.get("/runs/{run_id}/stream")
async def join_stream_by_id(run_id: str, request: Request, user: CurrentUser, runtime: RuntimeDep
                            ) -> EventSourceResponse:
    run = await _get_run_anywhere(runtime, user, run_id)
    after = parse_last_event_id(request.headers.get("last-event-id"))
    return sse_response(runtime, str(run["run_id"]), after, headers=_locations(run, stateless=True),
                        user_id=user.user_id)


@router.get("/threads/{thread_id}/runs/{run_id}")
async def get_run(thread_id: str, run_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    return JSON(run_out(await _get_run(runtime, user, thread_id, run_id)))


@router.get("/threads/{thread_id}/runs/{run_id}/join")
async def join_run(thread_id: str, run_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    run = await _get_run(runtime, user, thread_id, run_id)
    final = await lifecycle.join_run(runtime, str(run["run_id"]))
    return JSON(await _final_output(runtime, final, str(run["thread_id"]), run["graph_id"]))


@router.get("/threads/{thread_id}/runs/{run_id}/stream")
async def join_stream(
    thread_id: str, run_id: str, request: Request, user: CurrentUser, runtime: RuntimeDep
) -> EventSourceResponse:
    run = await _get_run(runtime, user, thread_id, run_id)
    after = parse_last_event_id(request.headers.get("last-event-id"))
    return sse_response(runtime, str(run["run_id"]), after, headers=_locations(run), user_id=user.user_id)


@router.post("/threads/{thread_id}/runs/{run_id}/cancel")
async def cancel(
    thread_id: str,
    run_id: str,
    user: CurrentUser,
    runtime: RuntimeDep,
    wait: bool = False,
    action: str = Query("interrupt", pattern="^(interrupt|rollback)$"),
) -> Response:
    await lifecycle.cancel_run(runtime, user, thread_id, run_id, action)
    if wait:
        await lifecycle.wait_cancelled(runtime, lifecycle.valid_uuid(run_id, "run"))
    return Response(status_code=202 if not wait else 204)


@router.post("/runs/cancel")
async def cancel_many(body: RunsCancel, user: CurrentUser, runtime: RuntimeDep,
                      action: str = Query("interrupt", pattern="^(interrupt|rollback)$")) -> Response:
    """Cancel the listed runs (every id must be the caller's, else 404 and nothing is cancelled), or every
    run of the caller (on ``thread_id`` if given) in ``status``. Runs that ended meanwhile are skipped."""
    if not body.run_ids and not body.status:
        raise bad_request("send run_ids or status")
    async with runtime.db.connection() as conn:
        rows = await runs_repo.find_for_cancel(
            conn, user.user_id, thread_id=body.thread_id, run_ids=body.run_ids,
            statuses=["pending", "running"] if body.status == "all" else [body.status or ""],
        )
    found = {str(r["run_id"]) for r in rows}
    for run_id in body.run_ids or ():
        if run_id not in found:
            raise not_found("run", run_id)
    for row in rows:
        if row["status"] not in ("pending", "running"):
            continue
        try:
            await lifecycle.cancel_run(runtime, user, str(row["thread_id"]), str(row["run_id"]), action)
        except Conflict:  # it ended in the meantime
            pass
    return Response(status_code=204)


@router.delete("/threads/{thread_id}/runs/{run_id}")
async def delete_run(thread_id: str, run_id: str, user: CurrentUser, runtime: RuntimeDep) -> Response:
    run = await _get_run(runtime, user, thread_id, run_id)
    if run["status"] in ("pending", "running"):
        raise conflict(f"run {run_id} is still active; cancel it first")
    async with runtime.db.transaction() as conn:
        await runs_repo.delete(conn, str(run["run_id"]))
    return Response(status_code=204)
