"""The runtime as data-question code sees it: the database pool (connections, schema cache), the data directory
(the secret key file), the administrator's reach settings — all of the runtime executing the run
(:mod:`engine.current`); and :class:`DataConnections`, the runtime extension that reads the key file at
start-up and disposes the cached engines at shutdown (``nodes/extensions.py``)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import TYPE_CHECKING, Any

from engine.current import current_runtime

if TYPE_CHECKING:
    from engine.runtime import Runtime

def db() -> Any:
    return current_runtime().db


def data_dir() -> Path:
    return Path(current_runtime().settings.data_dir)


async def reach_settings() -> tuple[list[str], list[str]]:
    """``(data.allowed_hosts, data.sqlite_directories)`` from the system layer."""
    from nodes.data.reach import DEFAULT_ALLOWED_HOSTS, DEFAULT_SQLITE_DIRECTORIES, setting_list

    values = (await current_runtime().config.system_resolved()).values
    return (setting_list(values, "data.allowed_hosts", DEFAULT_ALLOWED_HOSTS),
            setting_list(values, "data.sqlite_directories", DEFAULT_SQLITE_DIRECTORIES))


async def own_identity() -> tuple[str, str]:
    """clew's own database as ``(current_database(), pg_postmaster_start_time())``, read on its pool now
    (a restart of the server changes it)."""
    from persistence.connections import server_identity

    async with current_runtime().db.connection() as conn:
        return await server_identity(conn)


class DataConnections:
    """Data questions' part of a process: the key file read at start-up (off the event loop, so no request
    or node does file I/O for it), the cached engines of users' databases disposed at shutdown."""

    async def start(self, runtime: Runtime) -> None:
        from persistence.secret_box import box

        await asyncio.to_thread(box, Path(runtime.settings.data_dir))

    async def stop(self, runtime: Runtime) -> None:
        from nodes.data.connect import forget_all

        await forget_all()
