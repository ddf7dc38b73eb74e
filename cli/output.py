"""The terminal console of clew's commands: it never wraps a line, because paths and ids are copied.

Rich wraps long lines at the terminal's width by default, which splits a report's path or a thread id in
two and breaks copy and paste. With ``soft_wrap=True`` every ``print`` writes its line whole and the terminal
folds it visually (a copy gives the original text back).
"""

from __future__ import annotations

from typing import Any

from rich.console import Console


def terminal(**kwargs: Any) -> Console:
    """A rich console for command output that writes long lines unwrapped (``kwargs`` go to ``Console``)."""
    kwargs.setdefault("soft_wrap", True)
    return Console(**kwargs)
