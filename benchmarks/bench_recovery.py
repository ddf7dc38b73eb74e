"""Time from SIGKILL of a worker to its run running again on another worker (issue 3).

Starts an API process without workers and two `clew worker` processes on a fresh database (DATABASE_URL's
server, or the embedded one), kills the worker that holds the run in the middle of a node, and measures
until the run is `running` again with the next attempt. Default lease (6 s) unless CLEW_LEASE_SECONDS is set.

    uv run python benchmarks/bench_recovery.py [--rounds 10]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from langgraph_sdk import get_client  # noqa: E402

from tests.graphs.crashy import COUNTER_DDL  # noqa: E402
from tests.support.pg import create_database, drop_database  # noqa: E402
from tests.support.server import ClewProcess  # noqa: E402


def holder(db: str, run_id: str) -> tuple[str, int, str | None]:
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute(
            "SELECT status, attempt, lease_owner FROM runs WHERE run_id = %s", (run_id,)
        ).fetchone()
    assert row is not None
    return row[0], row[1], row[2]


async def main(rounds: int) -> None:
    db = create_database("clew_bench_recovery")
    data = Path(tempfile.mkdtemp(prefix="clew-bench-recovery-"))
    env = {k: v for k, v in os.environ.items() if k.startswith("CLEW_LEASE")}
    api = ClewProcess(db, data, workers=0, env=env).start()
    with psycopg.connect(db, autocommit=True) as conn:
        conn.execute(COUNTER_DDL)
    workers = [ClewProcess(db, data, kind="worker", workers=2, env=env).start() for _ in range(2)]
    client = get_client(url=api.url)
    samples: list[float] = []
    try:
        for _ in range(rounds):
            thread = await client.threads.create()
            run = await client.runs.create(
                thread["thread_id"], "crashy", input={"items": ["x"], "delay": 30.0}
            )
            rid = run["run_id"]
            while holder(db, rid)[0] != "running":
                await asyncio.sleep(0.02)
            await asyncio.sleep(0.5)  # inside node `a`
            owner = holder(db, rid)[2] or ""
            victim = next(w for w in workers if w.proc and f":{w.proc.pid}:" in owner)
            t0 = time.monotonic()
            victim.kill()
            while True:
                status, attempt, _ = holder(db, rid)
                if status == "running" and attempt == 2:
                    break
                await asyncio.sleep(0.01)
            samples.append(time.monotonic() - t0)
            await client.runs.cancel(thread["thread_id"], rid)
            workers.remove(victim)
            workers.append(ClewProcess(db, data, kind="worker", workers=2, env=env).start())
        samples.sort()
        lease = env.get("CLEW_LEASE_SECONDS", "6 (default)")
        print(
            f"| lease (s) | rounds | p50 (s) | max (s) |\n|---|---|---|---|\n"
            f"| {lease} | {rounds} | {statistics.median(samples):.2f} | {max(samples):.2f} |"
        )
    finally:
        await client.http.client.aclose()
        for w in workers:
            w.kill()
        api.stop()
        drop_database(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("--rounds", type=int, default=10)
    asyncio.run(main(parser.parse_args().rounds))
