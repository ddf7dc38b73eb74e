"""The terminal output of clew's commands: a console that never wraps a line, and the one-line failure.

Rich wraps long lines at the terminal's width by default, which splits a report's path or a thread id in
two and breaks copy and paste. With ``soft_wrap=True`` every ``print`` writes its line whole and the terminal
folds it visually (a copy gives the original text back). Live progress lines are drawn by
:func:`progress_display`. A command raises :class:`CliError` for a failure it reports in one line (exit 1).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)


def terminal(**kwargs: Any) -> Console:
    """A rich console for command output that writes long lines unwrapped (``kwargs`` go to ``Console``)."""
    kwargs.setdefault("soft_wrap", True)
    return Console(**kwargs)


def progress_display(console: Console, *, label: str = "{task.description}", bar_width: int | None = 24) -> Progress:
    """The live progress lines of a command (spinner, label, bar, done/total, elapsed), kept on screen."""
    return Progress(
        SpinnerColumn(),
        TextColumn(label),
        BarColumn(bar_width=bar_width),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
    )


class CliError(Exception):
    """A failure to report in one line (exit code 1)."""
