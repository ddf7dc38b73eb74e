"""``clew retention [--dry-run]``, ``clew doctor``, and the metrics port of ``clew worker``.

``clew doctor`` prints one line per check — ``OK``, ``WARN`` or ``FAIL``, what was found, and for anything
not OK the fix — and exits 1 when something FAILs: database, migrations, workers, vector store (and the
Qdrant server's version against the client's), fonts for PDF export, model and retriever configuration, and
whether auth, hosts and CORS settings agree.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from config_schema.settings import RuntimeSettings
from engine.logging_setup import configure


@dataclass
class Check:
    level: str  # OK | WARN | FAIL
    name: str
    detail: str
    fix: str = ""

    def line(self) -> str:
        out = f"{self.level:<4} {self.name}: {self.detail}"
        return out + (f"\n     fix: {self.fix}" if self.fix and self.level != "OK" else "")


# -- retention ---------------------------------------------------------------------------------------------


def cmd_retention(args: argparse.Namespace) -> int:
    from engine.retention import RetentionContext, run_retention
    from persistence.checkpointer import PooledSaver
    from persistence.db import Database

    settings = RuntimeSettings()
    configure(settings.log_format, "WARNING")

    async def main() -> list[str]:
        db = await Database.open(settings)
        kb = None
        try:
            kb = await _open_knowledge(settings, db)
            report = await run_retention(RetentionContext(settings, db, PooledSaver(db.pool), kb),
                                         dry_run=args.dry_run)
            return report.lines()
        finally:
            if kb is not None:
                from retrieval.knowledge.service import close_knowledge_base

                await close_knowledge_base(kb)
            await db.close()

    for line in asyncio.run(main()):
        print(line)
    return 0


async def _open_knowledge(settings: RuntimeSettings, db: Any) -> Any:
    """The knowledge base, or None when another process owns the embedded store (or it cannot open)."""
    try:
        from retrieval.knowledge.process import configured_embeddings
        from retrieval.knowledge.service import open_knowledge_base

        return await open_knowledge_base(settings, db, await configured_embeddings(settings, db))
    except Exception:
        return None


# -- doctor ------------------------------------------------------------------------------------------------


def _auth_checks(s: RuntimeSettings) -> list[Check]:
    from domain.hosts import is_loopback, normalise_origin, split_host

    out: list[Check] = []
    if s.auth == "none":
        foreign = [o for o in s.cors_origins if o == "*" or not is_loopback(split_host(
            normalise_origin(o).split("://", 1)[-1]))]
        if "*" in s.cors_origins:
            out.append(Check("FAIL", "auth/CORS", "auth is off and CLEW_CORS_ORIGINS has '*': any web page "
                             "can use this clew", "list the UI origins you use, or set CLEW_AUTH=api_key"))
        elif foreign:
            out.append(Check("WARN", "auth/CORS", f"auth is off and non-loopback origins are allowed: {foreign}",
                             "turn auth on (CLEW_AUTH=api_key) before allowing other sites"))
        else:
            out.append(Check("OK", "auth/CORS", "auth off: loopback hosts only, no foreign origins"))
        return out
    if s.auth == "jwt" and not (s.jwt_jwks_url or s.jwt_secret or s.jwt_public_key):
        out.append(Check("FAIL", "auth", "CLEW_AUTH=jwt but no CLEW_JWT_JWKS_URL, CLEW_JWT_SECRET or "
                         "CLEW_JWT_PUBLIC_KEY", "set the identity provider's JWKS URL or key"))
    else:
        out.append(Check("OK", "auth", f"CLEW_AUTH={s.auth}"))
    if "*" in s.cors_origins:
        out.append(Check("WARN", "CORS", "every origin is granted CORS", "list the origins of your UIs"))
    else:
        out.append(Check("OK", "CORS", f"allowed origins: {s.cors_origins or 'same-origin only'}"))
    if not s.allowed_hosts:
        out.append(Check("WARN", "hosts", "any Host header is accepted",
                         "set CLEW_ALLOWED_HOSTS to the names clew is reached by (DNS-rebinding defence)"))
    return out


def _font_check() -> Check:
    from reports.fonts import discover

    plan = discover()
    if not plan.unicode:
        return Check("WARN", "fonts", "no Unicode font found: PDF export falls back to Latin-1",
                     "install fonts-dejavu-core (Debian) or any DejaVu/Noto/Liberation font")
    if not plan.fallbacks:
        return Check("WARN", "fonts", "no CJK font: Chinese/Japanese/Korean text becomes placeholders in PDFs",
                     "install fonts-wqy-microhei or fonts-noto-cjk")
    return Check("OK", "fonts", f"Unicode and CJK fonts ({plan.fallbacks[0][0].name})")


async def _qdrant_server_check(url: str) -> Check:
    import httpx

    client_version = version("qdrant-client")
    try:
        async with httpx.AsyncClient(timeout=5) as http:
            r = await http.get(url.rstrip("/") + "/")
            server = str(r.json().get("version", "?"))
    except Exception as exc:
        return Check("FAIL", "vector store", f"Qdrant at {url} not reachable ({type(exc).__name__})",
                     "start the Qdrant server or fix QDRANT_URL")
    same = server.split(".")[:2] == client_version.split(".")[:2]
    if not same:
        return Check("WARN", "vector store", f"Qdrant server {server}, client {client_version}",
                     "run a Qdrant server of the client's major.minor version (compose.yaml pins it)")
    return Check("OK", "vector store", f"Qdrant server {server} at {url} (client {client_version})")


async def doctor_checks(settings: RuntimeSettings, config_path: Path | None) -> list[Check]:
    from engine.runtime import Runtime
    from persistence import metrics_sql
    from persistence.migrations import migration_files

    checks: list[Check] = []
    try:
        if settings.database_url:  # fail fast: the pool would keep retrying an unreachable server for a minute
            import psycopg

            conn = await psycopg.AsyncConnection.connect(settings.database_url, connect_timeout=5)
            await conn.close()
        runtime = await asyncio.wait_for(Runtime.start(settings, config_path, workers=0, kind="tool"), timeout=90)
    except Exception as exc:
        where = "DATABASE_URL" if settings.database_url else f"the embedded Postgres in {settings.pg_dir}"
        message = " ".join(str(exc).split())  # one line: psycopg's messages span several
        checks.append(Check("FAIL", "database", f"cannot start on {where}: {type(exc).__name__}: {message}",
                            "check DATABASE_URL (postgresql://user:pass@host:5432/db) and that Postgres 14+ runs"))
        return checks + _auth_checks(settings) + [_font_check()]
    try:
        async with runtime.db.connection() as conn:
            version = await metrics_sql.server_version(conn)
            applied = await metrics_sql.applied_migrations(conn)
            workers = await metrics_sql.live_workers(conn, 30)
        checks.append(Check("OK", "database", f"Postgres {version or '?'}"))
        missing = sorted({v for v, _, _ in migration_files()} - applied)
        checks.append(Check("FAIL", "migrations", f"not applied: {missing}", "start clew once with this version")
                      if missing else Check("OK", "migrations", f"{len(applied)} applied"))
        checks.append(Check("OK", "workers", f"{workers} worker process(es) alive") if workers else
                      Check("WARN", "workers", "no worker heartbeat in the last 30 s: queued runs will wait",
                            "run `clew serve --workers N` (N > 0) or `clew worker`"))
        if settings.qdrant_url:
            checks.append(await _qdrant_server_check(settings.qdrant_url))
        elif runtime.knowledge is not None:
            checks.append(Check("OK", "vector store", f"embedded Qdrant in {settings.qdrant_dir}"))
        else:
            checks.append(Check("WARN", "vector store", f"embedded Qdrant in {settings.qdrant_dir} is in use by "
                                "another process (fine while clew serve runs)",
                                "use a Qdrant server (QDRANT_URL) when several processes need the knowledge base"))
        checks.extend(await _config_checks(runtime))
    finally:
        await runtime.stop()
    return checks + _auth_checks(settings) + [_font_check()]


async def _config_checks(runtime: Any) -> list[Check]:
    from providers.models import has_model, model_name_for, provider_of

    values: dict[str, Any] = dict((await runtime.config.system_resolved()).values)
    out: list[Check] = []
    if has_model(values):
        out.append(Check("OK", "models", f"{provider_of(values)}: {model_name_for(values, 'smart')}"))
    else:
        out.append(Check("WARN", "models", "no chat model configured: research runs on the offline extractive "
                         "engine", "set llm.provider and llm.default_model (docs/configuration.md)"))
    retrievers = values.get("search.retrievers")
    if retrievers:
        out.append(Check("OK", "retrievers", f"search.retrievers = {retrievers}"))
    else:
        out.append(Check("WARN", "retrievers", "no web retriever configured: research uses the knowledge base "
                         "only", "set search.retrievers (and its key or URL)"))
    return out


def cmd_doctor(args: argparse.Namespace) -> int:
    from cli.main import _default_config

    settings = RuntimeSettings()
    configure(settings.log_format, "ERROR")
    config_path = Path(args.config) if args.config else _default_config()
    checks = asyncio.run(doctor_checks(settings, config_path))
    for check in checks:
        print(check.line())
    return 1 if any(c.level == "FAIL" for c in checks) else 0


# -- worker metrics port -----------------------------------------------------------------------------------


async def serve_worker_metrics(runtime: Any, port: int, host: str = "0.0.0.0") -> Any:
    """Serve ``/metrics``, ``/ready`` and ``/ok`` of a ``clew worker`` on ``port`` (a small ASGI app in the
    worker's own event loop); returns the uvicorn server (set ``should_exit`` to stop it)."""
    import uvicorn
    from fastapi import FastAPI, Response

    from engine import metrics
    from engine.operations import readiness

    app = FastAPI(openapi_url=None, docs_url=None, redoc_url=None)

    @app.get("/metrics")
    async def _metrics() -> Response:
        return Response(await metrics.render(runtime), media_type=metrics.CONTENT_TYPE)

    @app.get("/ready")
    async def _ready() -> Response:
        import orjson

        checks = await readiness(runtime)
        ok = all(c["ok"] for c in checks.values())
        return Response(orjson.dumps({"status": "ready" if ok else "not_ready", "checks": checks}),
                        status_code=200 if ok else 503, media_type="application/json")

    @app.get("/ok")
    async def _ok() -> Response:
        return Response(b'{"ok":true}', media_type="application/json")

    class _Server(uvicorn.Server):
        @contextlib.contextmanager
        def capture_signals(self) -> Iterator[None]:  # the worker's own SIGTERM handling stays in charge
            yield

    server = _Server(uvicorn.Config(app, host=host, port=port, log_config=None, log_level="warning",
                                           lifespan="off"))
    task = asyncio.create_task(server.serve(), name="clew-worker-metrics")
    runtime._tasks.append(task)
    return server


def register(sub: Any) -> None:
    retention = sub.add_parser("retention", help="delete old stream events, checkpoints, orphaned chunks")
    retention.add_argument("--dry-run", action="store_true", help="print what would be deleted")
    retention.set_defaults(func=cmd_retention)
    doctor = sub.add_parser("doctor", help="check the installation: OK / WARN / FAIL with the fix")
    doctor.add_argument("--config")
    doctor.set_defaults(func=cmd_doctor)

