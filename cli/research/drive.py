"""Driving a research from the terminal: follow its runs, answer its interrupts, until it has a report.

Each run is followed through the persisted event log with the engine's reader
(:func:`engine.event_reader.follow_run`, the loop the SSE stream uses too) and drawn by
:class:`cli.research.progress.RunView`; when the thread stops on an interrupt, the answer (asked or automatic,
:mod:`cli.research.interrupts`) becomes the next run; at the end the report is written and summarised.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING, Any

import orjson
from rich.console import Console

from cli.output import CliError, progress_display
from cli.research.interrupts import answer_interrupts
from cli.research.progress import RunView
from cli.research.report import print_summary, write_report
from engine.event_reader import follow_run
from engine.research import research_state, result_of, resume_research
from persistence import threads as threads_repo

if TYPE_CHECKING:
    from domain.users import User
    from engine.runtime import Runtime

# How long the CLI waits for a wake-up before it checks that the run still exists.
RECHECK_SECONDS = 2.0


async def follow(runtime: Runtime, run_id: str, view: RunView, after: int = 0) -> str | None:
    """Show the run's events until its ``end``; returns the error message, if the run failed."""
    error: str | None = None
    async for rows in follow_run(runtime.db, runtime.broker, run_id, after, recheck=RECHECK_SECONDS):
        for row in rows:
            try:
                data = orjson.loads(row["data"]) if row["data"] else None
            except orjson.JSONDecodeError:
                data = None
            error = view.handle(str(row["event"]), data) or error
    return error


async def drive(
    runtime: Runtime,
    user: User,
    thread_id: str,
    run_id: str | None,
    args: argparse.Namespace,
    console: Console,
    interactive: bool,
) -> int:
    """Follow runs of the thread, answer interrupts, and write the report; returns the exit code."""
    while True:
        if run_id is not None:
            with progress_display(console) as progress:
                error = await follow(runtime, run_id, RunView(progress))
            if error:
                console.print(f"[red]The research failed:[/] {error}")
                console.print(f"Thread {thread_id} -- fix the cause and run `clew resume {thread_id}`.")
                return 1
        async with runtime.db.connection() as conn:
            row: dict[str, Any] | None = await threads_repo.get(conn, user.user_id, thread_id)
        if row is None:
            raise CliError(f"research {thread_id} not found")
        if row["status"] == "interrupted" and row["interrupts"]:
            resume = await answer_interrupts(row, interactive, console)
            graph_id = (row["metadata"] or {}).get("graph_id", "research")
            run = await resume_research(runtime, user, thread_id, graph_id, resume)
            run_id = str(run["run_id"])
            continue
        break
    thread, values = await research_state(runtime, user, thread_id)
    result = result_of(thread, values)
    if values.get("status") == "rejected":
        console.print("The research plan was rejected; nothing was researched.")
        console.print(f"Thread: [bold]{thread_id}[/]")
        return 0
    if not result.get("report"):
        console.print(f"[yellow]Research {thread_id} has no report (status {thread['status']}).[/]")
        return 1
    path = await write_report(result, args, thread_id)
    print_summary(console, result, path, thread_id)
    return 0 if (result.get("quality") or {}).get("passed", True) else 2
