"""``clew ingest PATH...``: add files (or every supported file under a directory) to the knowledge base.

Qdrant's embedded mode lets one process open its directory, and while a server runs that process is the
server. So the command first asks a running clew server (``--server``, default http://127.0.0.1:2024) and
uploads through its API; when none answers it opens the knowledge base itself (the embedded Qdrant
directory, or the ``QDRANT_URL`` server) and says so. A rich progress bar shows files done; large files the
server ingests in the background are followed until they are ready.
"""

from __future__ import annotations

import argparse
import asyncio
import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings
from rich.console import Console
from rich.progress import Progress

from cli.output import progress_display, terminal
from config_schema.settings import RuntimeSettings
from retrieval.knowledge.filetypes import supported_extensions

DEFAULT_SERVER = "http://127.0.0.1:2024"
UPLOAD_PATH = "/api/v1/knowledge/upload"
POLL_SECONDS = 0.5


@dataclass
class IngestOutcome:
    """What happened to each file; ``mode`` is "server" or "local"."""

    mode: str
    ok: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)

    @property
    def exit_code(self) -> int:
        return 0 if not self.failed else 1


def collect_files(paths: Sequence[str | Path]) -> tuple[list[Path], dict[str, str]]:
    """Files to ingest (directories expanded to their supported files, sorted) and paths that do not exist."""
    exts = set(supported_extensions())
    files: list[Path] = []
    missing: dict[str, str] = {}
    for raw in paths:
        p = Path(raw).expanduser()
        if p.is_dir():
            files.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in exts))
        elif p.is_file():
            files.append(p)
        else:
            missing[str(raw)] = "no such file or directory"
    return files, missing


async def server_answers(client: httpx.AsyncClient, server_url: str) -> bool:
    try:
        r = await client.get(f"{server_url.rstrip('/')}/ok", timeout=2.0)
    except httpx.HTTPError:
        return False
    return r.status_code == 200


def _progress(console: Console) -> Progress:
    return progress_display(console, label="[bold]{task.description}", bar_width=40)


async def _via_server(
    client: httpx.AsyncClient, server_url: str, files: list[Path], console: Console, out: IngestOutcome
) -> None:
    base = server_url.rstrip("/")
    with _progress(console) as progress:
        task = progress.add_task("ingesting", total=len(files))
        for path in files:
            progress.update(task, description=f"uploading {path.name}")
            try:
                data = await asyncio.to_thread(path.read_bytes)
                r = await client.post(
                    f"{base}{UPLOAD_PATH}", files={"file": (path.name, data)}, timeout=600.0
                )
                body: dict[str, Any] = r.json() if r.content else {}
                if r.status_code == 202:
                    progress.update(task, description=f"processing {path.name}")
                    body = await _wait_ready(client, base, str(body["document_id"]))
                elif r.status_code != 201:
                    raise RuntimeError(body.get("detail") or f"HTTP {r.status_code}")
                if body.get("status") != "ready":
                    raise RuntimeError(body.get("error") or f"status {body.get('status')}")
                out.ok.append(str(path))
                progress.console.print(f"[green]✓[/] {path} ({body.get('chunk_count', 0)} chunks)")
            except (httpx.HTTPError, RuntimeError, ValueError, KeyError, OSError) as exc:
                out.failed[str(path)] = str(exc) or type(exc).__name__
                progress.console.print(f"[red]✗[/] {path}: {out.failed[str(path)]}")
            progress.advance(task)
        progress.update(task, description="done")


async def _wait_ready(client: httpx.AsyncClient, base: str, document_id: str) -> dict[str, Any]:
    while True:
        r = await client.get(f"{base}/api/v1/knowledge/documents/{document_id}", timeout=30.0)
        if r.status_code != 200:
            raise RuntimeError(r.json().get("detail") or f"HTTP {r.status_code}")
        body: dict[str, Any] = r.json()
        if body.get("status") in ("ready", "error"):
            return body
        await asyncio.sleep(POLL_SECONDS)


async def _locally(
    settings: RuntimeSettings,
    user_id: str,
    files: list[Path],
    console: Console,
    out: IngestOutcome,
    embeddings: Embeddings | None,
) -> None:
    from persistence.db import Database
    from retrieval.knowledge import open_knowledge_base
    from retrieval.knowledge.errors import (
        DocumentNotFoundError,
        ExtractionError,
        FileTooLargeError,
        UnsupportedFileTypeError,
    )
    from retrieval.knowledge.process import configured_embeddings

    db = await Database.open(settings)
    try:
        if embeddings is None:
            # The server's embedding model, so direct writes land in the collection the server reads.
            embeddings = await configured_embeddings(settings, db)
        try:
            kb = await open_knowledge_base(settings, db, embeddings)
        except RuntimeError as exc:
            raise RuntimeError(
                f"cannot open the knowledge base: {exc} (is a clew server running with another address? "
                "use --server URL)"
            ) from exc
        try:
            with _progress(console) as progress:
                task = progress.add_task("ingesting", total=len(files))
                for path in files:
                    progress.update(task, description=f"ingesting {path.name}")
                    try:
                        data = await asyncio.to_thread(path.read_bytes)
                        doc = await kb.ingest_file(user_id, path.name, data, background=False)
                        out.ok.append(str(path))
                        progress.console.print(f"[green]✓[/] {path} ({doc.chunk_count} chunks)")
                    except (
                        ExtractionError,
                        UnsupportedFileTypeError,
                        FileTooLargeError,
                        DocumentNotFoundError,
                        OSError,
                    ) as exc:
                        out.failed[str(path)] = str(exc)
                        progress.console.print(f"[red]✗[/] {path}: {exc}")
                    progress.advance(task)
                progress.update(task, description="done")
        finally:
            await kb.close()
    finally:
        await db.close()


async def ingest_paths(
    paths: Sequence[str | Path],
    server_url: str | None = None,
    *,
    api_key: str | None = None,
    user_id: str = "local",
    local_fallback: bool | None = None,
    settings: RuntimeSettings | None = None,
    embeddings: Embeddings | None = None,
    console: Console | None = None,
) -> IngestOutcome:
    """Ingest ``paths`` through a running server, or directly when none answers.

    ``local_fallback`` defaults to True only when ``server_url`` is not given (an explicit server that does
    not answer is an error). ``user_id`` owns the documents when writing directly; through a server the
    credentials (``api_key``, default ``$CLEW_API_KEY``) decide. Direct writes use ``embeddings``, by default
    the embedding model of the system configuration (the one the server uses), so they land in the
    collection the server reads.
    """
    console = console or terminal()
    fallback = server_url is None if local_fallback is None else local_fallback
    url = (server_url or DEFAULT_SERVER).rstrip("/")
    files, missing = collect_files(paths)
    api_key = api_key or os.environ.get("CLEW_API_KEY")
    headers = {"x-api-key": api_key} if api_key else {}

    async with httpx.AsyncClient(headers=headers) as client:
        if await server_answers(client, url):
            out = IngestOutcome(mode="server", failed=dict(missing))
            console.print(f"Uploading {len(files)} file(s) through the clew server at {url}")
            if files:
                await _via_server(client, url, files, console, out)
            return out
    out = IngestOutcome(mode="local", failed=dict(missing))
    if not fallback:
        out.failed.update({str(f): f"no clew server answers at {url}" for f in files})
        console.print(f"[red]No clew server answers at {url}[/]")
        return out
    settings = settings or RuntimeSettings()
    where = (
        f"the Qdrant server at {settings.qdrant_url}"
        if settings.qdrant_url
        else f"the embedded Qdrant in {settings.qdrant_dir}"
    )
    console.print(f"No clew server answers at {url}; writing directly to {where}")
    if files:
        try:
            await _locally(settings, user_id, files, console, out, embeddings)
        except RuntimeError as exc:
            console.print(f"[red]{exc}[/]")
            out.failed.update({str(f): str(exc) for f in files if str(f) not in out.ok})
    for path, reason in missing.items():
        console.print(f"[red]✗[/] {path}: {reason}")
    return out


def run_ingest(
    paths: Sequence[str | Path],
    server_url: str | None = None,
    *,
    api_key: str | None = None,
    user_id: str = "local",
    embeddings: Embeddings | None = None,
) -> int:
    """Blocking entry point for the CLI: returns the exit code (0 when every file was ingested)."""
    outcome = asyncio.run(
        ingest_paths(paths, server_url, api_key=api_key, user_id=user_id, embeddings=embeddings)
    )
    return outcome.exit_code


def cmd_ingest(args: argparse.Namespace) -> int:
    from engine.logging_setup import configure

    configure(RuntimeSettings().log_format, "WARNING")  # the progress bar is the output
    return run_ingest(args.paths, args.server, api_key=args.api_key, user_id=args.user)


def register(sub: Any) -> None:
    """Add the ``ingest`` subcommand to the ``clew`` parser."""
    p = sub.add_parser("ingest", help="add files or directories to the knowledge base")
    p.add_argument("paths", nargs="+", help=f"files or directories ({', '.join(supported_extensions())})")
    p.add_argument(
        "--server",
        default=None,
        help=f"clew server URL (default {DEFAULT_SERVER}; without a server the local store is written)",
    )
    p.add_argument("--api-key", default=None, help="API key for the server (default: $CLEW_API_KEY)")
    p.add_argument("--user", default="local", help="owner of the documents when writing the local store")
    p.set_defaults(func=cmd_ingest)
