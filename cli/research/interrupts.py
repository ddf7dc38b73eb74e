"""Answering a research's interrupts from the terminal: asked on a terminal, or answered automatically.

On a terminal the typed interrupt (``nodes/interrupts.py``: approval, selection, free text) is shown and asked
with rich prompts -- a plan's sub-queries or a multi-agent outline (title, then ``title: brief`` sections) can be
edited line by line; with ``--yes`` or without a terminal an approval is approved and a selection takes its
first option, and anything else stops with a message to resume on a terminal.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

from rich.console import Console
from rich.panel import Panel
from rich.prompt import Prompt

from cli.output import CliError


def auto_answer(value: Any) -> Any:
    from engine.interrupts import is_typed, option_values

    if is_typed(value):
        kind = value.get("kind")
        if kind == "approval":
            return {"decision": "approve"}
        if kind == "selection":
            options = option_values(value.get("options") or [])
            return {"selected": options[0]} if options else None
        return None
    return None


def ask_terminal(value: Any, console: Console) -> Any:
    from engine.interrupts import is_typed, option_values

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


async def answer_interrupts(thread: Mapping[str, Any], interactive: bool, console: Console) -> Any:
    from engine.interrupts import pending_interrupts

    pending = pending_interrupts(dict(thread))
    if not pending:
        return None
    answers: dict[str, Any] = {}
    for item in pending:
        value = item.get("value")
        answer = (
            await asyncio.to_thread(ask_terminal, value, console) if interactive else auto_answer(value)
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
