"""``clew research --docs PATH``: the files under PATH added to the user's knowledge base before researching.

A file already there with the same name and size is skipped, a changed one replaced, an unreadable one
reported and skipped (it does not stop the research).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from rich.console import Console

from cli.output import CliError, progress_display


async def ingest_docs(runtime: Any, user_id: str, root: Path, console: Console) -> int:
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
    with progress_display(console) as progress:
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
