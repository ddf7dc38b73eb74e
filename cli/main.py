"""The ``clew`` command: serve the API with workers, run workers only, manage keys, run research.

``serve`` and ``worker`` are here; the other subcommands live in one module per concern, each adding its
parsers with ``register`` and listed in :data:`SUBCOMMANDS`. ``serve`` starts the API through uvicorn with the
import string ``"api.app:create_app"`` (the CLI does not import the API), handing it its options through the
environment (``CLEW_WORKERS``, ``CLEW_GRAPHS_CONFIG``).
"""

from __future__ import annotations

import os

# Strict checkpoint deserialization: LangGraph reads this when it is imported and when graphs are compiled
# (each graph then allows exactly the types of its state schema), so it is set before anything imports it.
os.environ.setdefault("LANGGRAPH_STRICT_MSGPACK", "true")

import argparse  # noqa: E402
import asyncio
import faulthandler
import ipaddress
import signal
import sys
from pathlib import Path

from cli import accounts, ingest, ops, research
from config_schema.settings import RuntimeSettings
from engine.logging_setup import configure

DEFAULT_PORT = 2024
APP = "api.app:create_app"

# the subcommands of the modules beside this one, in the order `clew --help` lists them
SUBCOMMANDS = (accounts, ops, research, ingest)


def _diagnostics() -> None:
    """SIGUSR1 dumps every thread's stack to stderr: how to see where a server that does not come up is stuck
    (the test harness sends it before giving up on a start)."""
    faulthandler.register(signal.SIGUSR1, all_threads=True)


def _default_config() -> Path | None:
    p = Path("langgraph.json")
    if p.exists():
        return p
    bundled = Path(__file__).resolve().parent.parent / "langgraph.json"
    return bundled if bundled.exists() else None


def _is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _starting(kind: str, workers: int, **where: str) -> None:
    import structlog

    structlog.get_logger("clew").info("clew starting", kind=kind, pid=os.getpid(), workers=workers, **where)


def cmd_serve(args: argparse.Namespace) -> int:
    import uvicorn

    if args.workers is not None:
        os.environ["CLEW_WORKERS"] = str(args.workers)
    config_path = Path(args.config) if args.config else _default_config()
    if config_path is not None:
        os.environ["CLEW_GRAPHS_CONFIG"] = str(config_path)
    settings = RuntimeSettings()
    if settings.auth == "none" and not _is_loopback(args.host):
        print(
            f"refusing to listen on {args.host} with auth off: set CLEW_AUTH=api_key or jwt, "
            "or listen on 127.0.0.1",
            file=sys.stderr,
        )
        return 2
    configure(settings.log_format, settings.log_level)
    _diagnostics()
    host = f"[{args.host}]" if ":" in args.host else args.host
    _starting("serve", settings.workers, url=f"http://{host}:{args.port}/")  # uvicorn's own line is below "warning"
    # uvicorn re-raises the SIGTERM it caught once it has shut down: as an exit rather than death by the signal,
    # atexit handlers run, among them pgserver's, which stops the embedded Postgres when no other clew process
    # uses it
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    # keep-alive longer than clients' idle gaps: a connection closed by the server just as a client reuses
    # it is a spurious "server disconnected" for that client
    uvicorn.run(
        APP,
        factory=True,  # create_app() reads the settings (and the options set above) from the environment
        host=args.host,
        port=args.port,
        log_level="warning",
        log_config=None,  # uvicorn's records go through the structlog formatter (engine/logging_setup.py)
        timeout_keep_alive=75,
        timeout_graceful_shutdown=int(settings.shutdown_grace_seconds) + 5,
    )
    return 0


def cmd_worker(args: argparse.Namespace) -> int:
    from engine.runtime import Runtime
    from nodes.extensions import node_extensions

    settings = RuntimeSettings()
    configure(settings.log_format, settings.log_level)
    _diagnostics()
    config_path = Path(args.config) if args.config else _default_config()
    slots = args.workers if args.workers is not None else settings.workers
    if args.metrics_port is not None:
        settings.metrics_port = args.metrics_port
    _starting("worker", slots)

    async def main() -> None:
        runtime = await Runtime.start(settings, config_path, workers=slots, kind="worker",
                                      extensions=node_extensions())
        metrics_server = None
        if settings.metrics_port:
            from cli.ops import serve_worker_metrics

            metrics_server = await serve_worker_metrics(runtime, settings.metrics_port)
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        await stop.wait()
        if metrics_server is not None:
            metrics_server.should_exit = True
        await runtime.stop()

    asyncio.run(main())
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="clew", description="Durable runtime for LangGraph research agents")
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="serve the API with in-process workers")
    serve.add_argument("--config", help="langgraph.json to load graphs from (default: ./langgraph.json)")
    serve.add_argument("--host", default="127.0.0.1")
    serve.add_argument("--port", type=int, default=DEFAULT_PORT)
    serve.add_argument("--workers", type=int, default=None, help="concurrent runs executed in this process")
    serve.set_defaults(func=cmd_serve)

    worker = sub.add_parser("worker", help="run workers only (any host sharing the database)")
    worker.add_argument("--config")
    worker.add_argument("--workers", type=int, default=None)
    worker.add_argument("--metrics-port", type=int, default=None,
                        help="serve /metrics and /ready on this port (default: CLEW_METRICS_PORT, 0 = none)")
    worker.set_defaults(func=cmd_worker)

    for module in SUBCOMMANDS:
        module.register(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
