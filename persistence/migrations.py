"""Versioned, idempotent schema migrations, safe when several processes start at once.

Migrations are the ``NNNN_name.sql`` files in ``persistence/migrations/``, applied in order. The whole
upgrade runs in one transaction holding a Postgres advisory lock, so a second process starting at the same
moment waits, then finds the work done. Number ranges: 0001-0009 runtime core, 0010-0019 configuration,
0020-0029 human-in-the-loop, 0030-0039 models and knowledge, 0040-0049 crash safety, 0050+ research.
"""

from __future__ import annotations

from importlib import resources

import psycopg
import structlog

from persistence import channels

log = structlog.get_logger("clew.persistence")

CREATE_TABLE = """
CREATE TABLE IF NOT EXISTS clew_migrations (
    version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())
"""
APPLIED = "SELECT version FROM clew_migrations"
RECORD = "INSERT INTO clew_migrations (version, name) VALUES (%s, %s)"


def migration_files() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` for every migration file, in version order."""
    root = resources.files("persistence") / "migrations"
    out: list[tuple[int, str, str]] = []
    for entry in root.iterdir():
        name = entry.name
        if name.endswith(".sql") and name[:4].isdigit():
            out.append((int(name[:4]), name, entry.read_text(encoding="utf-8")))
    out.sort()
    versions = [v for v, _, _ in out]
    if len(versions) != len(set(versions)):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return out


async def migrate(conn: psycopg.AsyncConnection) -> list[int]:
    """Apply every pending migration on ``conn``; return the versions applied."""
    applied: list[int] = []
    async with conn.transaction():
        await channels.xact_lock(conn, channels.MIGRATIONS_LOCK)  # type: ignore[arg-type]
        await conn.execute(CREATE_TABLE)
        cur = await conn.execute(APPLIED)
        done = {row[0] if isinstance(row, tuple) else row["version"] for row in await cur.fetchall()}
        for version, name, sql in migration_files():
            if version in done:
                continue
            await conn.execute(sql, prepare=False)  # type: ignore[arg-type]  # multi-statement: never prepared
            await conn.execute(RECORD, (version, name))
            applied.append(version)
    if applied:
        log.info("migrations applied", versions=applied)
    return applied
