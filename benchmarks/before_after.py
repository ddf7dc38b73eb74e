"""clew before and after a change, side by side: the same workloads against ``clew serve`` from two source trees.

``--before DIR`` is a checkout of the older commit (``git worktree add --detach /tmp/clew-before <commit>``),
``--after DIR`` the newer one (default: this tree; another checkout compares two commits with this script); both
servers run with this project's virtualenv (the older tree's modules first on the path, as ``python -m cli.main``
from its directory). Per paired round (order alternating), on a fresh database each: chain10 (``--runs`` runs of
``steps10`` at concurrency 20 through the SDK, as ``compare_peer.py``) with the CPU per run of the server and of
Postgres (the backends of the round's database and the server's own processes) and the transactions per run
(``pg_stat_database``: every autocommit statement is one); with
``--latency`` also ``compare_peer.py``'s resume and SSE workloads. Medians and the median of the per-round
ratios after / before are printed.

    DATABASE_URL=… uv run python benchmarks/before_after.py --before /tmp/clew-before [--after DIR] [--rounds 3]
        [--latency]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg
from psycopg.conninfo import conninfo_to_dict

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from bench_runs import CpuMeter, drive  # noqa: E402  (sets the DATABASE_URL default)
from compare_peer import resume, sse, write_config  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

import tests.support.server as server  # noqa: E402
from tests.support.pg import create_database, drop_database  # noqa: E402


def _transactions(db: str) -> int:
    with psycopg.connect(db) as conn:
        row = conn.execute("SELECT xact_commit + xact_rollback FROM pg_stat_database WHERE datname = %s",
                           (conninfo_to_dict(db)["dbname"],)).fetchone()
    return int(row[0]) if row else 0


async def one_round(root: Path, args: argparse.Namespace) -> dict[str, float]:
    server.ROOT = root  # the tree `python -m cli.main` runs from
    data = Path(tempfile.mkdtemp(prefix="clew-before-after-"))
    db = create_database("clew_bench_ba")
    clew = server.ClewProcess(db, data, config=write_config(data), workers=args.workers,
                              env={"CLEW_LOG_LEVEL": "WARNING"}).start()
    try:
        assert clew.proc is not None
        client = get_client(url=clew.url, timeout=120)

        async def one() -> None:
            out = await client.runs.wait(str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create")
            assert isinstance(out, dict) and out.get("count") == 10, out

        out: dict[str, float] = {}
        if args.latency:
            out.update(await resume(clew.url, [clew.proc.pid], args))
            out.update(await sse(clew.url, [clew.proc.pid], args))
        await drive(one, 20, 20)  # warm-up
        before = _transactions(db)
        meter = CpuMeter([clew.proc.pid], database=conninfo_to_dict(db)["dbname"])
        meter.start()
        seconds, lat = await drive(one, args.runs, 20)
        cpu = meter.stop()
        lat.sort()
        out.update({"chain10 runs/s": args.runs / seconds, "chain10 p50 ms": lat[len(lat) // 2] * 1000,
                    "server CPU ms/run": cpu.graph * 1000 / args.runs,
                    "Postgres CPU ms/run": cpu.postgres * 1000 / args.runs,
                    "transactions/run": (_transactions(db) - before) / args.runs})
        return out
    finally:
        clew.stop()
        drop_database(db)


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--after", type=Path, default=BENCH.parent, help="default: this tree")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--runs", type=int, default=300)
    parser.add_argument("--workers", type=int, default=10)
    parser.add_argument("--latency", action="store_true")
    parser.add_argument("--cycles", type=int, default=30)
    parser.add_argument("--streams", type=int, default=20)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": args.after.resolve()}
    results: dict[str, list[dict[str, float]]] = {k: [] for k in trees}
    for r in range(args.rounds):
        for side in (list(trees) if r % 2 == 0 else list(reversed(trees))):
            res = await one_round(trees[side], args)
            results[side].append(res)
            print(f"round {r + 1} {side}: " + ", ".join(f"{k} {v:.1f}" for k, v in res.items())
                  + f" (load {os.getloadavg()[0]:.1f})", flush=True)
    print("\n| measure | before | after | after / before (median of rounds) |\n|---|---|---|---|")
    for m in results["after"][0]:
        b = statistics.median(x[m] for x in results["before"])
        a = statistics.median(x[m] for x in results["after"])
        ratio = statistics.median(y[m] / x[m] for x, y in zip(results["before"], results["after"], strict=True))
        print(f"| {m} | {b:.1f} | {a:.1f} | {ratio:.2f} |")


if __name__ == "__main__":
    asyncio.run(main())
