"""``clew research``, ``clew resume`` and ``clew threads``: run clew's research modes from a terminal.

``clew research "question" [--mode standard|deep|knowledge|multi_agent] [--source local|web|hybrid] [--docs PATH]``
starts a :class:`engine.runtime.Runtime` in this process (embedded Postgres in ``CLEW_DATA_DIR`` unless
``DATABASE_URL`` is set, graphs from ``langgraph.json``, in-process workers) and goes through the same engine
as the API: the research is a thread, its run is created by ``engine.service.create_run`` (via
:func:`engine.research.start_research`, the research service the API routes call too), executed by a worker with the fenced Postgres checkpointer, and
followed here through its persisted event log -- so a research started here is listed, resumed, streamed and
exported by a ``clew serve`` on the same data directory exactly like one started over HTTP.

``--docs PATH`` first adds the supported files under PATH to the local user's knowledge base (a file already
there with the same name and size is skipped; a changed one is replaced). Progress shows one line per stage
and one per research branch or section (rich). When the graph stops on an interrupt (plan approval with
``--review``, which is the default on a terminal), the question is asked here -- for ``multi_agent``, the
editor's outline, to accept, edit (title and sections, one per line) or give feedback on; with ``--yes`` or
without a terminal the plan is approved automatically. The report is written to a file (``--output``; ``.pdf`` and
``.docx`` export too) and the thread id printed.

``clew resume THREAD_ID`` continues a research that was interrupted (answering its pending question), whose
process was killed (its run is re-claimed once the dead worker's lease expires, and carries on from the last
checkpoint), or whose run failed (a new run continues from the last checkpoint). ``clew threads`` lists the
local user's researches.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import signal
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import orjson
from rich.console import Console
from rich.panel import Panel
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.prompt import Prompt
from rich.table import Column, Table

from api.auth import LOCAL_USER, User
from cli.output import terminal
from config_schema.settings import RuntimeSettings
from domain.errors import ClewError

STAGES = ("planning", "approval", "researching", "writing", "reviewing")
STAGE_LABELS = {
    "planning": "Planning",
    "approval": "Plan approval",
    "researching": "Researching",
    "writing": "Writing the report",
    "reviewing": "Checking citations",
}
GRAPH_MODES = {
    "research": "standard",
    "deep_research": "deep",
    "knowledge_research": "knowledge",
    "deep_knowledge_research": "deep",
    "multi_agent_research": "multi_agent",
}


class CliError(Exception):
    """A failure to report in one line (exit code 1)."""


# --- runtime ------------------------------------------------------------------------------------------


def _config_path(value: str | None) -> Path | None:
    from cli.main import _default_config

    return Path(value) if value else _default_config()


async def _start_runtime(args: argparse.Namespace) -> Any:
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


async def _ingest_docs(runtime: Any, user_id: str, root: Path, console: Console) -> int:
    """Add the supported files under ``root`` to the user's knowledge base; returns how many are there."""
    from cli.ingest import collect_files
    from nodes.sources import SourceUnavailable, knowledge_of
    files, missing = await asyncio.to_thread(collect_files, [root])
    if missing:
        raise CliError(f"--docs {root}: no such file or directory")
    try:
        kb = knowledge_of(runtime)
    except SourceUnavailable as exc:
        raise CliError(
            f"{exc} (is a clew server running on this data directory? stop it, or start the "
            "research through its API)"
        ) from exc
    base = root if await asyncio.to_thread(root.is_dir) else root.parent
    existing = {d.filename: d for d in await kb.list_documents(user_id)}
    added = 0
    with _progress(console) as progress:
        task = progress.add_task("Adding documents to the knowledge base", total=len(files))
        for path in files:
            name = str(path.relative_to(base)) if path.is_relative_to(base) else path.name
            data = await asyncio.to_thread(path.read_bytes)
            old = existing.get(name)
            if old is not None and old.status == "ready" and old.size_bytes == len(data):
                progress.advance(task)
                continue
            if old is not None:
                await kb.delete_document(user_id, old.document_id)
            try:
                await kb.ingest_file(user_id, name, data, background=False)
                added += 1
            except Exception as exc:  # one unreadable file should not stop the research
                progress.console.print(f"[yellow]skipped {name}: {exc}[/]")
            progress.advance(task)
    total = len(await kb.list_documents(user_id))
    console.print(f"Knowledge base: {total} document(s) ({added} added from {root})")
    return total


def _progress(console: Console) -> Progress:
    return Progress(
        SpinnerColumn(),
        TextColumn("{task.description}"),
        BarColumn(bar_width=24),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


# --- following a run ----------------------------------------------------------------------------------


class RunView:
    """Rich progress for one research: a line per stage and per branch, updated from custom events."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.stages: dict[str, Any] = {}
        self.branches: dict[int, Any] = {}
        self.current: str | None = None
        self.overall: Any = None
        self.sections: dict[int, Any] = {}

    def _finish_current(self) -> None:
        if self.current and self.current in self.stages:
            label = STAGE_LABELS.get(self.current, self.current.capitalize())
            self.progress.update(self.stages[self.current], completed=1, total=1, description=label)

    def stage(self, name: str, message: str) -> None:
        if name in ("done", "rejected", "planned", "researched", "written"):
            self._finish_current()
            return
        if name != self.current:
            self._finish_current()
        if name not in self.stages:
            self.stages[name] = self.progress.add_task(STAGE_LABELS.get(name, name.capitalize()), total=1)
        self.current = name
        if message:
            label = STAGE_LABELS.get(name, name.capitalize())
            self.progress.update(self.stages[name], description=f"{label}: {message}")

    def branch(self, event: Mapping[str, Any]) -> None:
        index = int(event.get("index", 0))
        query = str(event.get("query", ""))
        level = int(event.get("level", 1))
        label = f"  [dim]L{level}[/] {query[:70]}"
        if index not in self.branches:
            self.branches[index] = self.progress.add_task(label, total=1)
        status = event.get("status")
        if status == "done":
            self.progress.update(
                self.branches[index],
                completed=1,
                description=f"  [green]✓[/] {query[:70]} [dim]({event.get('sources', 0)} passages)[/]",
            )
        elif status == "failed":
            self.progress.update(
                self.branches[index],
                completed=1,
                description=f"  [red]✗[/] {query[:70]} [dim]({event.get('error')})[/]",
            )

    def overall_progress(self, event: Mapping[str, Any]) -> None:
        total = int(event.get("total_queries") or 0)
        done = int(event.get("completed_queries") or 0)
        desc = f"Queries (depth {event.get('current_depth')}/{event.get('total_depth')})"
        if self.overall is None:
            self.overall = self.progress.add_task(desc, total=total)
        self.progress.update(self.overall, total=max(total, done), completed=done, description=desc)

    def section(self, event: Mapping[str, Any]) -> None:
        """A multi-agent research's section: one line each, "§2/5 title", ticked when its team is done."""
        n, total = int(event.get("section") or 0), int(event.get("sections") or 0)
        title = str(event.get("title") or "")[:70]
        label = f"  §{n}/{total} {title}"
        if n not in self.sections:
            self.sections[n] = self.progress.add_task(label, total=1)
        status = event.get("status")
        if status == "done":
            rounds = int(event.get("revision") or 0)
            verdict = "accepted" if event.get("accepted") else "not accepted"
            self.progress.update(
                self.sections[n],
                completed=1,
                description=f"  [green]✓[/] §{n}/{total} {title} [dim]({verdict}, {rounds} revision(s))[/]",
            )
        elif status == "failed":
            self.progress.update(
                self.sections[n],
                completed=1,
                description=f"  [red]✗[/] §{n}/{total} {title} [dim]({event.get('message')})[/]",
            )

    def handle(self, event: str, data: Any) -> str | None:
        """Update from one stored event; returns an error message for an ``error`` event."""
        if event == "custom" and isinstance(data, dict):
            kind = data.get("type")
            if kind == "research.stage":
                self.stage(str(data.get("stage")), str(data.get("message") or ""))
            elif kind == "research.branch":
                self.branch(data)
            elif kind == "research.progress":
                self.overall_progress(data)
            elif kind == "research.team" and data.get("stage") == "section":
                self.section(data)
        elif event == "error":
            return str((data or {}).get("message") or data) if isinstance(data, dict) else str(data)
        return None


async def follow_run(runtime: Any, run_id: str, view: RunView, after: int = 0) -> str | None:
    """Show the run's events until its ``end``; returns the error message, if the run failed."""
    from persistence import runs as runs_repo

    last = after
    error: str | None = None
    with runtime.broker.subscribe(run_id) as woken:
        while True:
            woken.clear()
            async with runtime.db.connection() as conn:
                rows = await runs_repo.read_events(conn, run_id, last)
            for row in rows:
                last = int(row["seq"])
                try:
                    data = orjson.loads(row["data"]) if row["data"] else None
                except orjson.JSONDecodeError:
                    data = None
                message = view.handle(str(row["event"]), data)
                error = message or error
                if row["event"] == "end":
                    return error
            if rows:
                continue
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(woken.wait(), timeout=2.0)
            run = await runtime.db.fetchone("SELECT status FROM runs WHERE run_id = %s", (run_id,))
            if run is None:
                return error


# --- interrupts ----------------------------------------------------------------------------------------


def _auto_answer(value: Any) -> Any:
    from nodes.interrupts import is_typed, option_values

    if is_typed(value):
        kind = value.get("kind")
        if kind == "approval":
            return {"decision": "approve"}
        if kind == "selection":
            options = option_values(value.get("options") or [])
            return {"selected": options[0]} if options else None
        return None
    return None


def _ask_terminal(value: Any, console: Console) -> Any:
    from nodes.interrupts import is_typed, option_values

    if not is_typed(value):
        console.print(Panel(str(value), title="The research asks"))
        return Prompt.ask("Answer", console=console)
    kind = value.get("kind")
    console.print(Panel(str(value.get("message", "")), title=f"The research asks ({kind})"))
    if kind == "approval":
        choices = [str(o) for o in value.get("options") or ["approve", "edit", "reject"]]
        decision = Prompt.ask("Decision", choices=choices, default=choices[0], console=console)
        if decision == "feedback":
            comment = ""
            while not comment.strip():
                comment = Prompt.ask("What should change", console=console)
            return {"decision": "feedback", "comment": comment.strip()}
        if decision != "edit":
            return {"decision": decision}
        if (value.get("data") or {}).get("field") == "outline":
            return {"decision": "edit", "edited": _edit_outline(value["data"]["outline"], console)}
        current = list((value.get("data") or {}).get("sub_queries") or [])
        console.print("Enter the queries, one per line; an empty line ends (nothing entered keeps the plan).")
        lines: list[str] = []
        while True:
            line = Prompt.ask(f"query {len(lines) + 1}", default="", show_default=False, console=console)
            if not line.strip():
                break
            lines.append(line.strip())
        return {"decision": "edit", "edited": lines or current}
    if kind == "selection":
        options = [str(o) for o in option_values(value.get("options") or [])]
        return {"selected": Prompt.ask("Choose", choices=options, console=console)}
    return {"text": Prompt.ask("Answer", console=console)}


def _edit_outline(outline: Mapping[str, Any], console: Console) -> dict[str, Any]:
    """Ask for a new outline on the terminal: the title, then the sections as ``title: brief`` lines."""
    title = Prompt.ask("Title", default=str(outline["title"]), console=console).strip() or str(
        outline["title"]
    )
    console.print(
        "Enter the sections, one per line as `title: brief` (the brief is optional); an empty line ends "
        "(nothing entered keeps the current sections)."
    )
    sections: list[dict[str, str]] = []
    while True:
        line = Prompt.ask(f"section {len(sections) + 1}", default="", show_default=False, console=console)
        if not line.strip():
            break
        name, _, brief = line.partition(":")
        sections.append({"title": name.strip() or line.strip(), "brief": brief.strip()})
    return {"title": title, "sections": sections or [dict(s) for s in outline["sections"]]}


async def _answer(thread: Mapping[str, Any], interactive: bool, console: Console) -> Any:
    from nodes.interrupts import pending_interrupts

    pending = pending_interrupts(dict(thread))
    if not pending:
        return None
    answers: dict[str, Any] = {}
    for item in pending:
        value = item.get("value")
        answer = (
            await asyncio.to_thread(_ask_terminal, value, console) if interactive else _auto_answer(value)
        )
        if answer is None:
            raise CliError(
                "the research waits for an answer that cannot be given automatically: "
                f"run `clew resume {thread['thread_id']}` in a terminal"
            )
        if not interactive:
            console.print(
                f"[dim]auto-answered {value.get('kind') if isinstance(value, dict) else 'interrupt'}: "
                f"{answer}[/]"
            )
        answers[str(item.get("id"))] = answer
    if len(answers) == 1:
        return next(iter(answers.values()))
    return answers


# --- driving a research --------------------------------------------------------------------------------


async def _drive(
    runtime: Any,
    user: User,
    thread_id: str,
    run_id: str | None,
    args: argparse.Namespace,
    console: Console,
    interactive: bool,
) -> int:
    """Follow runs of the thread, answer interrupts, and write the report; returns the exit code."""
    from engine.research import research_state, result_of, resume_research

    while True:
        if run_id is not None:
            with _progress(console) as progress:
                error = await follow_run(runtime, run_id, RunView(progress))
            if error:
                console.print(f"[red]The research failed:[/] {error}")
                console.print(f"Thread {thread_id} -- fix the cause and run `clew resume {thread_id}`.")
                return 1
        row = await runtime.db.fetchone(
            "SELECT thread_id, status, interrupts, metadata FROM threads WHERE thread_id = %s AND user_id = %s",
            (thread_id, user.user_id),
        )
        if row is None:
            raise CliError(f"research {thread_id} not found")
        if row["status"] == "interrupted" and row["interrupts"]:
            resume = await _answer(row, interactive, console)
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
    path = await _write_report(result, args, thread_id)
    _summary(console, result, path, thread_id)
    return 0 if (result.get("quality") or {}).get("passed", True) else 2


async def _write_report(result: Mapping[str, Any], args: argparse.Namespace, thread_id: str) -> Path:
    from reports.export import export_report, filename, parse_format

    output = getattr(args, "output", None)
    if output:
        path = Path(output)
        fmt = parse_format(path.suffix or "md")
    else:
        fmt = parse_format(getattr(args, "format", None) or "md")
        stem = Path(filename(str(result.get("question") or "research"), fmt))
        path = Path(f"{stem.stem}-{thread_id[:8]}{stem.suffix}")
    data = await export_report(str(result["report"]), fmt, title=str(result.get("question") or "research"))

    def write() -> None:
        path.parent.mkdir(parents=True, exist_ok=True)  # -o reports/x.md works on a fresh checkout
        path.write_bytes(data)

    await asyncio.to_thread(write)
    return path


def _summary(console: Console, result: Mapping[str, Any], path: Path, thread_id: str) -> None:
    quality = result.get("quality") or {}
    cost = result.get("cost") or {}
    sources = result.get("sources") or []
    console.print()
    if result.get("offline"):
        console.print(
            "[dim]No model is configured: the report was written by the offline extractive engine.[/]"
        )
    if quality.get("passed", True):
        console.print(f"[green]✓[/] Citations checked: {len(quality.get('cited') or [])} cited, all stored.")
    else:
        console.print(
            f"[red]✗ The report failed its citation check:[/] {'; '.join(quality.get('problems') or [])}"
        )
    spent = f"${cost.get('usd', 0):.4f}, {cost.get('input_tokens', 0) + cost.get('output_tokens', 0)} tokens"
    console.print(f"Sources: {len(sources)}   Cost: {spent}   Duration: {result.get('duration') or 0:.1f} s")
    for note in (result.get("notes") or [])[:5]:
        console.print(f"[dim]note: {note}[/]")
    console.print(f"Report: [bold]{path}[/]")
    console.print(f"Thread: [bold]{thread_id}[/]")


def _interactive(args: argparse.Namespace) -> bool:
    return not getattr(args, "yes", False) and sys.stdin.isatty()


def _settings(args: argparse.Namespace) -> dict[str, Any]:
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


async def _with_runtime(args: argparse.Namespace, body: Any) -> int:
    console = terminal()
    runtime = await _start_runtime(args)
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
    from engine.research import start_research

    if not str(args.question or "").strip():  # before anything starts: a blank question creates nothing
        Console(stderr=True).print("[red]clew research: the question is blank: give the question to research[/]")
        return 2
    user = User(user_id=args.user)
    interactive = _interactive(args)
    review = args.review if args.review is not None else interactive

    async def body(runtime: Any, console: Console) -> int:
        mode = args.mode
        source = args.source
        if args.docs:
            await _ingest_docs(runtime, user.user_id, Path(args.docs), console)
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
                settings=_settings(args),
                human_review=review,
            )
        except ClewError as exc:
            raise CliError(exc.detail) from exc
        thread_id = str(run["thread_id"])
        console.print(f"Research [bold]{thread_id}[/] ({mode}, source {source or 'from settings'})")
        return await _drive(runtime, user, thread_id, str(run["run_id"]), args, console, interactive)

    return asyncio.run(_with_runtime(args, body))


def cmd_resume(args: argparse.Namespace) -> int:
    from engine.research import continue_research, owned_thread
    from persistence import runs as runs_repo

    user = User(user_id=args.user)
    interactive = _interactive(args)

    async def body(runtime: Any, console: Console) -> int:
    
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
        return await _drive(runtime, user, thread_id, run_id, args, console, interactive)

    return asyncio.run(_with_runtime(args, body))


def cmd_threads(args: argparse.Namespace) -> int:
    from persistence.db import Database

    async def main() -> int:
        console = terminal()
        settings = RuntimeSettings()
        from engine.logging_setup import configure

        configure("console", "WARNING")
        db = await Database.open(settings)
        try:
            rows = await db.fetchall(
                "SELECT thread_id, status, metadata, state_values, updated_at FROM threads WHERE user_id = %s "
                "AND metadata->>'graph_id' = ANY(%s) ORDER BY updated_at DESC LIMIT %s",
                (args.user, list(GRAPH_MODES), args.limit),
            )
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


def register(subparsers: Any) -> None:
    """Add ``research``, ``resume`` and ``threads`` to the ``clew`` command."""
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--config", help="langgraph.json to load graphs from (default: ./langgraph.json)")
    common.add_argument("--workers", type=int, default=None, help="concurrent runs in this process")
    common.add_argument(
        "--user", default=LOCAL_USER, help="whose research and knowledge base (default: local)"
    )
    common.add_argument("--yes", "-y", action="store_true", help="answer approvals automatically (approve)")
    common.add_argument("--output", "-o", help="report file (.md, .pdf or .docx)")
    common.add_argument(
        "--format", choices=["md", "pdf", "docx"], help="report format when --output is not given"
    )

    research = subparsers.add_parser(
        "research", parents=[common], help="research a question, write a cited report"
    )
    research.add_argument("question")
    research.add_argument(
        "--mode", choices=["standard", "deep", "knowledge", "multi_agent"], default="standard"
    )
    research.add_argument(
        "--source",
        choices=["local", "web", "hybrid"],
        default=None,
        help="where to look (default: the research.source_mode setting; local with --docs)",
    )
    research.add_argument("--docs", help="add the files under PATH to the knowledge base first")
    research.add_argument(
        "--review",
        dest="review",
        action="store_true",
        default=None,
        help="approve the plan before researching (default on a terminal without --yes)",
    )
    research.add_argument("--no-review", dest="review", action="store_false")
    research.add_argument("--breadth", type=int, help="deep research: queries per level")
    research.add_argument("--depth", type=int, help="deep research: levels")
    research.add_argument("--sub-queries", type=int, help="standard research: sub-queries")
    research.add_argument("--words", type=int, help="report length in words")
    research.add_argument("--sections", type=int, help="multi_agent: sections the editor plans, at most")
    research.set_defaults(func=cmd_research)

    resume = subparsers.add_parser(
        "resume", parents=[common], help="continue an interrupted or killed research"
    )
    resume.add_argument("thread_id")
    resume.set_defaults(func=cmd_resume)

    threads = subparsers.add_parser("threads", help="list researches")
    threads.add_argument("--user", default=LOCAL_USER)
    threads.add_argument("--limit", type=int, default=20)
    threads.set_defaults(func=cmd_threads)
