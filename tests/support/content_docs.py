"""Regenerate the actions table of ``docs/content-pipeline.md`` from the graph's declarations.

    uv run python -m tests.support.content_docs          # rewrite the table in place
    uv run python -m tests.support.content_docs --check  # exit 1 if the doc is stale (tests/test_content_graph.py)

The table sits between ``<!-- actions:start -->`` and ``<!-- actions:end -->``; everything else in the doc
is written by hand.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from nodes.content.actions import DECLARED

DOC = Path(__file__).resolve().parents[2] / "docs" / "content-pipeline.md"
START, END = "<!-- actions:start -->\n", "<!-- actions:end -->"


def render_table() -> str:
    """The markdown table of every decision point's actions, as ``docs/content-pipeline.md`` shows it."""
    lines = [
        "| stage | decision point | action | kind | label | parameters (JSON schema) |",
        "|---|---|---|---|---|---|",
    ]
    for point in DECLARED:
        for a in point.actions:
            props = a.parameters.get("properties") or {}
            params = json.dumps(a.parameters, sort_keys=True) if props else "none"
            lines.append(
                f"| {point.stage} | `{point.point}` | `{a.id}` | {a.kind} | {a.label} | `{params}` |"
            )
    notes = [f"- `{p.point}`: {p.note}" for p in DECLARED if p.note]
    return "\n".join(lines) + ("\n\n" + "\n".join(notes) if notes else "") + "\n"


def regenerated(text: str) -> str:
    head, sep, rest = text.partition(START)
    if not sep or END not in rest:
        raise ValueError(f"{DOC} lacks the {START.strip()} ... {END} markers")
    return head + START + render_table() + END + rest.split(END, 1)[1]


def main(argv: list[str]) -> int:
    text = DOC.read_text(encoding="utf-8")
    new = regenerated(text)
    if "--check" in argv:
        if new != text:
            print(f"{DOC} is stale: run uv run python -m tests.support.content_docs", file=sys.stderr)
            return 1
        return 0
    DOC.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
