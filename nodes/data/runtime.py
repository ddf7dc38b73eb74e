"""The process runtime as data-question nodes see it: the database pool (connections, schema cache) and the
data directory (the secret key file). Bound by a start-up hook when a clew process starts; engines are
disposed by a shutdown hook."""

from __future__ import annotations

from pathlib import Path
from typing import Any

_runtime: Any = None


class NoRuntime(RuntimeError):
    """Data questions need clew's database: the graph runs outside a clew process."""


def bind(runtime: Any) -> None:
    global _runtime
    _runtime = runtime


def db() -> Any:
    if _runtime is None:
        raise NoRuntime("data questions run inside clew (serve or worker): no runtime is bound")
    return _runtime.db


def data_dir() -> Path:
    if _runtime is None:
        raise NoRuntime("data questions run inside clew (serve or worker): no runtime is bound")
    return Path(_runtime.settings.data_dir)


async def reach_settings() -> tuple[list[str], list[str]]:
    """``(data.allowed_hosts, data.sqlite_directories)`` from the system layer (defaults without a runtime
    or a configuration service)."""
    from nodes.data.reach import DEFAULT_ALLOWED_HOSTS, DEFAULT_SQLITE_DIRECTORIES, setting_list

    service = getattr(_runtime, "services", {}).get("config") if _runtime is not None else None
    values: dict[str, Any] = {}
    if service is not None:
        values = (await service.system_resolved()).values
    return (setting_list(values, "data.allowed_hosts", DEFAULT_ALLOWED_HOSTS),
            setting_list(values, "data.sqlite_directories", DEFAULT_SQLITE_DIRECTORIES))


async def own_identity() -> tuple[str, str] | None:
    """clew's own database as ``(current_database(), pg_postmaster_start_time())``, read on its pool now
    (a restart of the server changes it); None without a runtime."""
    if _runtime is None:
        return None
    from persistence.connections import server_identity

    async with _runtime.db.connection() as conn:
        return await server_identity(conn)


async def _on_start(runtime: Any) -> None:
    import asyncio

    from persistence.secret_box import box

    bind(runtime)
    # read (or create) the key file now, off the event loop, so no request or node does file I/O for it
    await asyncio.to_thread(box, Path(runtime.settings.data_dir))


async def _on_stop(_runtime: Any) -> None:
    from nodes.data.connect import forget_all

    await forget_all()


def _register() -> None:
    from engine.runtime import SHUTDOWN_HOOKS, STARTUP_HOOKS

    if _on_start not in STARTUP_HOOKS:
        STARTUP_HOOKS.append(_on_start)
    if _on_stop not in SHUTDOWN_HOOKS:
        SHUTDOWN_HOOKS.append(_on_stop)


_register()
