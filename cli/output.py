"""The terminal output of clew's commands: a console that never wraps a line, and the one-line failure.

Rich wraps long lines at the terminal's width by default, which splits a report's path or a thread id in
two and breaks copy and paste. With ``soft_wrap=True`` every ``print`` writes its line whole and the terminal
folds it visually (a copy gives the original text back). A command raises :class:`CliError` for a failure
it reports in one line (exit code 1).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


def terminal(**kwargs: Any) -> Console:
    """A rich console for command output that writes long lines unwrapped (``kwargs`` go to ``Console``)."""
    kwargs.setdefault("soft_wrap", True)
    return Console(**kwargs)


class CliError(Exception):
    """A failure to report in one line (exit code 1)."""
