"""Run creation's statements alone: the general path against the one-statement path (issue 18).

On a scratch database, one pooled connection creates ``--runs`` runs on new threads, alternately through the
statements of the general path (assistant, thread and configuration generations read one by one, then a
transaction: thread insert, active runs, run insert) and through the common case's two statements
(``creation_context``, ``create_if_idle``), and prints the CPU per creation of this process and of the
connection's Postgres backend (from ``/proc``, so on the same machine as Postgres) and the wall time.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uv run python benchmarks/bench_creation.py
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

from config_schema.settings import RuntimeSettings  # noqa: E402
from persistence import assistants as assistants_repo  # noqa: E402
from persistence import config_repo  # noqa: E402
from persistence import runs as runs_repo  # noqa: E402
from persistence import threads as threads_repo  # noqa: E402
from persistence.db import Conn, Database  # noqa: E402
from tests.support.pg import create_database, drop_database  # noqa: E402


def _backend_cpu(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _fields(assistant_id: str, thread_id: str) -> dict[str, Any]:
    return {
        "run_id": str(uuid.uuid4()), "thread_id": thread_id, "user_id": "u", "assistant_id": assistant_id,
        "graph_id": "g", "kwargs": {"input": {"count": 0}, "timeout_seconds": 3600},
        "config_snapshot": {"config": {}, "context": {"a": 1}}, "metadata": {}, "multitask_strategy": "enqueue",
        "max_attempts": 3, "thread_metadata": {"graph_id": "g", "assistant_id": assistant_id}, "channel": None,
    }


async def _general(conn: Conn, assistant_id: str) -> None:
    thread_id = str(uuid.uuid4())
    await assistants_repo.get(conn, "u", assistant_id)
    await threads_repo.get(conn, "u", thread_id)
    await config_repo.generations(conn, "u")
    async with conn.transaction():
        await threads_repo.insert(conn, "u", thread_id, {})
        await runs_repo.active_for_thread(conn, thread_id)
        await runs_repo.insert_queued(conn, **_fields(assistant_id, thread_id))


async def _one_statement(conn: Conn, assistant_id: str) -> None:
    thread_id = str(uuid.uuid4())
    await runs_repo.creation_context(conn, "u", assistant_id, thread_id)
    fields = _fields(assistant_id, thread_id)
    run = await runs_repo.create_if_idle(conn, **fields, create=True, cap=None,
                                         new_thread_metadata=fields["thread_metadata"])
    assert run is not None


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args()
    url = create_database("clew_bench_creation")
    db = await Database.open(RuntimeSettings(database_url=url), url=url)
    try:
        assistant_id = str(uuid.uuid4())
        async with db.connection() as conn:
            await conn.execute("INSERT INTO assistants (assistant_id, user_id, graph_id, name) "
                               "VALUES (%s, NULL, 'g', 'g')", (assistant_id,))
            pid = conn.info.backend_pid
            paths: list[tuple[str, Callable[[Conn, str], Awaitable[None]]]] = [
                ("general path", _general), ("one statement", _one_statement)]
            for _ in range(args.rounds):
                for name, create in paths:
                    for _ in range(50):  # warm-up: prepared statements, plans
                        await create(conn, assistant_id)
                    b0, c0, t0 = _backend_cpu(pid), time.process_time(), time.perf_counter()
                    for _ in range(args.runs):
                        await create(conn, assistant_id)
                    b1, c1, t1 = _backend_cpu(pid), time.process_time(), time.perf_counter()
                    n = args.runs
                    print(f"{name}: client {1000 * (c1 - c0) / n:.3f} ms, backend {1000 * (b1 - b0) / n:.3f} ms, "
                          f"wall {1000 * (t1 - t0) / n:.3f} ms per creation", flush=True)
    finally:
        await db.close()
        drop_database(url)


if __name__ == "__main__":
    asyncio.run(main())
