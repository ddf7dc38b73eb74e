"""The embedded Postgres used when ``DATABASE_URL`` is unset.

``pgserver`` ships Postgres binaries in its wheel and runs a server whose data directory lives in clew's data
directory, so a fresh machine needs no set-up and a thread survives a restart. Several clew processes on one
machine share the same server: pgserver reference-counts the processes that use a data directory.
Starting it blocks (initdb, pg_ctl), so it runs in a thread.
"""

from __future__ import annotations

import asyncio
import warnings
from pathlib import Path
from typing import Any

import structlog

log = structlog.get_logger("clew.persistence")

_servers: dict[Path, Any] = {}


def pgserver_module() -> Any:
    """pgserver, imported without the warning platformdirs gives (when ``XDG_RUNTIME_DIR`` is unset: root over
    ssh, containers) about the fallback runtime directory pgserver's lock file then uses, which works."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        import pgserver
    return pgserver


def _start(pg_dir: Path) -> str:
    pgserver = pgserver_module()
    pg_dir.mkdir(parents=True, exist_ok=True)
    server = _servers.get(pg_dir)
    if server is None:
        server = pgserver.get_server(pg_dir, cleanup_mode="stop")
        _servers[pg_dir] = server
    uri: str = server.get_uri()
    return uri


async def start_embedded(pg_dir: Path) -> str:
    """Start (or join) the embedded server in ``pg_dir`` and return its connection URI."""
    uri = await asyncio.to_thread(_start, pg_dir)
    log.info("embedded postgres ready", data_dir=str(pg_dir))
    return uri
