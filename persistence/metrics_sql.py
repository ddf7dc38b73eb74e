"""SQL read by metrics scrapes, readiness probes and ``clew doctor``: runs by status, live workers, run cost,
and worker heartbeats (table ``worker_heartbeats``)."""

from __future__ import annotations

from typing import Any

from persistence.db import Conn

RUNS_BY_STATUS = "SELECT status, count(*) AS n FROM runs GROUP BY status"
LIVE_WORKERS = "SELECT count(*) AS n FROM worker_heartbeats WHERE heartbeat_at > now() - make_interval(secs => %s)"
RUN_COST = "SELECT coalesce(sum(cost_usd), 0)::float8 AS cost FROM usage_records WHERE run_id = %s"
HEARTBEAT = """
INSERT INTO worker_heartbeats (worker_id, kind, hostname, pid, slots, running)
VALUES (%(worker_id)s, %(kind)s, %(hostname)s, %(pid)s, %(slots)s, %(running)s)
ON CONFLICT (worker_id) DO UPDATE SET heartbeat_at = now(), running = EXCLUDED.running, slots = EXCLUDED.slots
"""
FORGET_WORKER = "DELETE FROM worker_heartbeats WHERE worker_id = %s"
PRUNE_WORKERS = "DELETE FROM worker_heartbeats WHERE heartbeat_at < now() - interval '1 day'"
APPLIED_MIGRATIONS = "SELECT version FROM clew_migrations"
SERVER_VERSION = "SHOW server_version"


async def server_version(conn: Conn) -> str | None:
    cur = await conn.execute(SERVER_VERSION)
    row = await cur.fetchone()
    return str(row["server_version"]) if row else None


async def runs_by_status(conn: Conn) -> dict[str, int]:
    cur = await conn.execute(RUNS_BY_STATUS)
    return {r["status"]: int(r["n"]) for r in await cur.fetchall()}


async def live_workers(conn: Conn, within_seconds: float = 60.0) -> int:
    cur = await conn.execute(LIVE_WORKERS, (within_seconds,))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def run_cost(conn: Conn, run_id: str) -> float:
    cur = await conn.execute(RUN_COST, (run_id,))
    row = await cur.fetchone()
    return float(row["cost"]) if row else 0.0


async def heartbeat(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(HEARTBEAT, row)


async def forget_worker(conn: Conn, worker_id: str) -> None:
    await conn.execute(FORGET_WORKER, (worker_id,))


async def prune_workers(conn: Conn) -> int:
    cur = await conn.execute(PRUNE_WORKERS)
    return cur.rowcount


async def applied_migrations(conn: Conn) -> set[int]:
    cur = await conn.execute(APPLIED_MIGRATIONS)
    return {int(r["version"]) for r in await cur.fetchall()}
