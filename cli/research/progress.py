"""The live progress of a research on the terminal: a line per stage, per research branch and per section.

:class:`RunView` turns the research graphs' custom events (``research.stage``, ``research.branch``,
``research.progress``, ``research.team``) into rich progress lines, drawn in :func:`cli.output.progress_display`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.progress import Progress

STAGE_LABELS = {
    "planning": "Planning",
    "approval": "Plan approval",
    "researching": "Researching",
    "writing": "Writing the report",
    "reviewing": "Checking citations",
}


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

    def _settle(self, task: Any, event: Mapping[str, Any], name: str, done: str, failed: str) -> None:
        """Tick a branch or section line off when its event says it is ``done`` or ``failed``."""
        status = event.get("status")
        if status in ("done", "failed"):
            mark, note = ("[green]✓[/]", done) if status == "done" else ("[red]✗[/]", failed)
            self.progress.update(task, completed=1, description=f"  {mark} {name} [dim]({note})[/]")

    def branch(self, event: Mapping[str, Any]) -> None:
        index = int(event.get("index", 0))
        query = str(event.get("query", ""))
        level = int(event.get("level", 1))
        label = f"  [dim]L{level}[/] {query[:70]}"
        if index not in self.branches:
            self.branches[index] = self.progress.add_task(label, total=1)
        passages = f"{event.get('sources', 0)} passages"
        self._settle(self.branches[index], event, query[:70], passages, str(event.get("error")))

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
        rounds = int(event.get("revision") or 0)
        verdict = "accepted" if event.get("accepted") else "not accepted"
        self._settle(self.sections[n], event, f"§{n}/{total} {title}", f"{verdict}, {rounds} revision(s)",
                     str(event.get("message")))

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
