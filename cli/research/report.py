"""A finished research on the terminal: its report written to a file (md, pdf or docx) and a short summary
(citation check, sources, cost, duration, notes, the report's path and the thread id)."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from rich.console import Console


async def write_report(result: Mapping[str, Any], args: argparse.Namespace, thread_id: str) -> Path:
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


def print_summary(console: Console, result: Mapping[str, Any], path: Path, thread_id: str) -> None:
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
