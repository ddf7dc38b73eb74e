"""What ``clew research``, ``clew resume`` and ``clew threads`` do: start the engine in this process, start
or find the research through the research service (``engine/research.py``), and hand it to
:func:`cli.research.drive.drive`; Ctrl-C stops cleanly (the research is saved and resumable).

The engine is imported when a command runs, not when ``clew`` builds its argument parser.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console
from rich.table import Column, Table

from cli.output import CliError, terminal
from config_schema.settings import RuntimeSettings
from domain.errors import ClewError
from domain.users import User

if TYPE_CHECKING:
    from engine.runtime import Runtime


def _config_path(value: str | None) -> Path | None:
    from cli.main import _default_config

    return Path(value) if value else _default_config()


async def start_runtime(args: argparse.Namespace) -> Runtime:
    from engine.logging_setup import configure
    from engine.runtime import Runtime
    from nodes.extensions import node_extensions

    settings = RuntimeSettings()
    configure("console", "WARNING")
    config_path = _config_path(getattr(args, "config", None))
    if config_path is None:
        raise CliError("no langgraph.json found: pass --config PATH")
    return await Runtime.start(settings, config_path, workers=max(1, int(args.workers or settings.workers)),
                               kind="tool", extensions=node_extensions())


def is_interactive(args: argparse.Namespace) -> bool:
    return not getattr(args, "yes", False) and sys.stdin.isatty()


def settings_of(args: argparse.Namespace) -> dict[str, Any]:
    """The session settings the research flags set (``--breadth`` -> ``research.breadth``, ...)."""
    out: dict[str, Any] = {}
    for flag, key in (
        ("breadth", "research.breadth"),
        ("depth", "research.depth"),
        ("sub_queries", "research.sub_queries"),
        ("words", "research.report_word_budget"),
        ("sections", "research.max_sections"),
    ):
        value = getattr(args, flag, None)
        if value is not None:
            out[key] = value
    return out


async def with_runtime(args: argparse.Namespace, body: Callable[[Runtime, Console], Awaitable[int]]) -> int:
    """Run ``body`` with a started runtime and the terminal console; SIGINT/SIGTERM stop it (exit 130)."""
    console = terminal()
    runtime = await start_runtime(args)
    loop = asyncio.get_running_loop()
    task = asyncio.current_task()
    assert task is not None
    stopping = False

    def on_signal() -> None:
        nonlocal stopping
        stopping = True
        task.cancel()

    for sig in (signal.SIGINT, signal.SIGTERM):
        with contextlib.suppress(NotImplementedError):
            loop.add_signal_handler(sig, on_signal)
    try:
        return int(await body(runtime, console))
    except asyncio.CancelledError:
        if not stopping:
            raise
        console.print(
            "\n[yellow]Stopping: the research is saved and continues with `clew resume THREAD_ID` "
            "(see `clew threads`).[/]"
        )
        return 130
    except CliError as exc:
        console.print(f"[red]{exc}[/]")
        return 1
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError):
                loop.remove_signal_handler(sig)
        await runtime.stop()


def cmd_research(args: argparse.Namespace) -> int:
    if not str(args.question or "").strip():  # before anything starts: a blank question creates nothing
        Console(stderr=True).print("[red]clew research: the question is blank: give the question to research[/]")
        return 2
    user = User(user_id=args.user)
    interactive = is_interactive(args)
    review = args.review if args.review is not None else interactive

    async def body(runtime: Runtime, console: Console) -> int:
        from cli.research.documents import ingest_docs
        from cli.research.drive import drive
        from engine.research import start_research

        mode = args.mode
        source = args.source
        if args.docs:
            await ingest_docs(runtime, user.user_id, Path(args.docs), console)
            source = source or "local"
        if mode == "knowledge":
            source = "local"
        try:
            run = await start_research(
                runtime,
                user,
                args.question,
                mode=mode,
                source=source,
                settings=settings_of(args),
                human_review=review,
            )
        except ClewError as exc:
            raise CliError(exc.detail) from exc
        thread_id = str(run["thread_id"])
        console.print(f"Research [bold]{thread_id}[/] ({mode}, source {source or 'from settings'})")
        return await drive(runtime, user, thread_id, str(run["run_id"]), args, console, interactive)

    return asyncio.run(with_runtime(args, body))


def cmd_resume(args: argparse.Namespace) -> int:
    user = User(user_id=args.user)
    interactive = is_interactive(args)

    async def body(runtime: Runtime, console: Console) -> int:
        from cli.research.drive import drive
        from engine.research import continue_research, owned_thread
        from persistence import runs as runs_repo

        try:
            thread = await owned_thread(runtime, user, args.thread_id)
        except ClewError as exc:
            raise CliError(exc.detail) from exc
        thread_id = str(thread["thread_id"])
        graph_id = (thread.get("metadata") or {}).get("graph_id")
        if not graph_id:
            raise CliError(f"thread {thread_id} has never run a research")
        async with runtime.db.connection() as conn:
            active = await runs_repo.active_for_thread(conn, thread_id)
        run_id: str | None = None
        if active:
            run_id = str(active[0]["run_id"])
            console.print(f"Continuing run {run_id} (a worker takes it over once the old lease expires)")
        elif thread["status"] == "interrupted" and thread.get("interrupts"):
            console.print("The research waits for an answer")
        else:
            values = dict(thread.get("state_values") or {})
            if values.get("report") and thread["status"] == "idle":
                console.print("The research is finished.")
            else:
                run = await continue_research(runtime, user, thread_id, graph_id)
                run_id = str(run["run_id"])
                console.print(f"Continuing from the last checkpoint (run {run_id})")
        return await drive(runtime, user, thread_id, run_id, args, console, interactive)

    return asyncio.run(with_runtime(args, body))


def cmd_threads(args: argparse.Namespace) -> int:
    async def main() -> int:
        from engine.logging_setup import configure
        from engine.research import GRAPH_MODES
        from persistence import threads as threads_repo
        from persistence.db import Database

        console = terminal()
        settings = RuntimeSettings()
        configure("console", "WARNING")
        db = await Database.open(settings)
        try:
            async with db.connection() as conn:
                rows = await threads_repo.list_by_graphs(conn, args.user, list(GRAPH_MODES), limit=args.limit)
        finally:
            await db.close()
        # The id column never wraps or crops: ids are copied from here into `clew resume`.
        table = Table(
            Column("thread", no_wrap=True, overflow="ignore", min_width=36),
            "mode",
            "status",
            "question",
            "updated",
        )
        for r in rows:
            meta = r["metadata"] or {}
            values = r["state_values"] or {}
            status = values.get("status") if r["status"] == "idle" and values.get("status") else r["status"]
            table.add_row(
                str(r["thread_id"]),
                GRAPH_MODES.get(meta.get("graph_id", ""), "?"),
                str(status),
                str(values.get("question") or meta.get("research_question") or "")[:60],
                r["updated_at"].strftime("%Y-%m-%d %H:%M"),
            )
        if rows:
            console.print(table)
        else:
            console.print('No research yet: try `clew research "your question" --docs docs`.')
        return 0

    return asyncio.run(main())
