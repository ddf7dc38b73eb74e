"""Server CPU per chain10 run of two source trees, both serving at once, measured in alternating batches.

``before_after.py`` starts one server per round, so the load of the shared machine drifts between the two halves
of a round and a change of a few percent of CPU per run drowns in it. Here both ``clew serve`` processes (the
older tree's from ``--before DIR``, this tree's; 10 run slots each, a database each, this project's
virtualenv) run for the whole measurement, and batches of ``--runs`` chain10 runs (``steps10`` through the SDK's
``runs.wait`` on a new thread, concurrency 20, as ``compare_peer.py``) alternate between them, the order
swapped every batch. Per batch pair it prints each server's CPU time (user + system, psutil) per run and the
ratio after / before; at the end the medians and the median ratio.

    DATABASE_URL=… uv run python benchmarks/ab_cpu.py --before /tmp/clew-before [--batches 16] [--runs 150]
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import uuid
from pathlib import Path

import psutil

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(BENCH.parent))

from bench_runs import drive  # noqa: E402  (sets the DATABASE_URL default)
from compare_peer import write_config  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

import tests.support.server as server  # noqa: E402
from tests.support.pg import create_database, drop_database  # noqa: E402


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--batches", type=int, default=16)
    parser.add_argument("--runs", type=int, default=150)
    parser.add_argument("--workers", type=int, default=10)
    args = parser.parse_args()
    trees = {"before": args.before.resolve(), "after": BENCH.parent}
    procs: dict[str, server.ClewProcess] = {}
    dbs: list[str] = []
    try:
        for name, tree in trees.items():
            server.ROOT = tree  # the tree `python -m cli.main` runs from
            data = Path(tempfile.mkdtemp(prefix=f"clew-ab-{name}-"))
            db = create_database(f"clew_bench_ab_{name}")
            dbs.append(db)
            procs[name] = server.ClewProcess(db, data, config=write_config(data), workers=args.workers,
                                             env={"CLEW_LOG_LEVEL": "WARNING"}).start()
        clients = {n: get_client(url=p.url, timeout=120) for n, p in procs.items()}
        meters = {n: psutil.Process(p.proc.pid) for n, p in procs.items() if p.proc is not None}

        def cpu(name: str) -> float:
            t = meters[name].cpu_times()
            return float(t.user + t.system)

        async def batch(name: str, runs: int) -> float:
            client = clients[name]

            async def one() -> None:
                out = await client.runs.wait(str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create")
                assert isinstance(out, dict) and out.get("count") == 10, out

            start = cpu(name)
            await drive(one, runs, 20)
            return (cpu(name) - start) * 1000 / runs

        for name in procs:  # warm-up
            await batch(name, 40)
        per: dict[str, list[float]] = {"before": [], "after": []}
        ratios: list[float] = []
        for i in range(args.batches):
            order = ("before", "after") if i % 2 == 0 else ("after", "before")
            got = {name: await batch(name, args.runs) for name in order}
            for name, ms in got.items():
                per[name].append(ms)
            ratios.append(got["after"] / got["before"])
            print(f"batch {i + 1}: server CPU ms/run before {got['before']:.2f}, after {got['after']:.2f}, "
                  f"after / before {ratios[-1]:.3f} (load {psutil.getloadavg()[0]:.1f})", flush=True)
        lower = sum(r < 1 for r in ratios)
        print(f"server CPU ms/run: before {statistics.median(per['before']):.2f}, after "
              f"{statistics.median(per['after']):.2f} (medians); after / before median {statistics.median(ratios):.3f}"
              f", lower in {lower} of {len(ratios)} batches")
    finally:
        for proc in procs.values():
            proc.stop()
        for db in dbs:
            drop_database(db)


if __name__ == "__main__":
    asyncio.run(main())
