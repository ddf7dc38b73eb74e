"""Runs throughput (issue 2): clew against bare LangGraph in one process, and the checkpointer lock before/after.

Workload: the 10-node ``steps10`` test graph (tests/graphs/scripted.py), ``--runs`` runs (default 200) at
``--concurrency`` (default 20), each run on a new thread. Every scenario gets a fresh database on
DATABASE_URL's server (default: the local Postgres at 127.0.0.1:5432) and a warm-up round first.

- ``inproc-stock``: LangGraph's own ``AsyncPostgresSaver`` on a psycopg pool, ``graph.ainvoke`` in this process:
  the in-process ceiling (what a single LangGraph process does with no server around it).
- ``inproc-lockfree``: the same with clew's lock-free ``PooledSaver``.
- ``clew``: a real ``clew serve --workers N`` subprocess driven through the official langgraph-sdk
  (``runs.wait`` with ``if_not_exists="create"``: one HTTP request per run, which creates the thread, queues
  the run, has a worker claim and execute it with fenced checkpoints and a persisted event log, and answers
  with the final state).
- ``clew-locked``: the same server with ``CLEW_CHECKPOINTER_LOCK=true``: one process-wide lock around every
  checkpointer call, as the stock ``AsyncPostgresSaver`` has it (langgraph issue #7259).
- ``clew-2proc``: ``clew serve --workers 0`` (API only) plus one ``clew worker`` process with the run slots:
  the deployment that uses both cores (compose's scalable worker service).

    uv run python benchmarks/bench_runs.py [--runs 200] [--concurrency 20] [--repeat 3] [--only clew,...]

Each scenario takes 10-20 s per round; the default three rounds of all five take about four minutes.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import platform
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

import psutil
import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402
from psycopg_pool import AsyncConnectionPool  # noqa: E402

from persistence.checkpointer import PooledSaver, strict_serde  # noqa: E402
from persistence.db import CONNECT_KWARGS  # noqa: E402
from tests.graphs.scripted import steps10  # noqa: E402
from tests.support.pg import create_database, drop_database  # noqa: E402
from tests.support.server import ClewProcess  # noqa: E402

SCENARIOS = ("inproc-stock", "inproc-lockfree", "clew", "clew-locked", "clew-2proc")


@dataclass
class Cpu:
    """CPU seconds spent during the measured runs: by the processes executing graphs (this process for the
    in-process scenarios, the clew processes otherwise), by Postgres, and by this process driving the SDK."""

    graph: float = 0.0
    postgres: float = 0.0
    client: float = 0.0


@dataclass
class Result:
    scenario: str
    runs: int
    seconds: float
    latencies: list[float]
    cpu: Cpu

    @property
    def rate(self) -> float:
        return self.runs / self.seconds

    def pct(self, q: int) -> float:
        return statistics.quantiles(self.latencies, n=100, method="inclusive")[q - 1] * 1000


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            total += t.user + t.system
    return total


def _postgres_pids(database: str | None = None) -> list[int]:
    """The Postgres server's processes; with ``database``, only the backends connected to it (their process title
    names it) and the server's own processes (checkpointer, WAL writer, …), not other databases' backends."""
    out = []
    for p in psutil.process_iter(["name", "cmdline"]):
        if not (p.info["name"] or "").startswith("postgres"):
            continue
        title = " ".join(p.info["cmdline"] or [])
        if database is not None and "(" in title and f" {database} " not in title:  # a backend, of another db
            continue
        out.append(p.pid)
    return out


def _cpu_by_pid(pids: list[int]) -> dict[int, float]:
    out: dict[int, float] = {}
    for pid in pids:
        with contextlib.suppress(psutil.Error):
            t = psutil.Process(pid).cpu_times()
            out[pid] = t.user + t.system
    return out


class CpuMeter:
    """CPU used by the graph processes, Postgres and this process between :meth:`start` and :meth:`stop`
    (Postgres backends are the pool's, alive for the whole measurement; a Postgres process that ended meanwhile
    — another session's backend on the shared server — is left out, rather than counted negative). With
    ``database``, Postgres means the backends of that database plus the server's own processes."""

    def __init__(self, graph_pids: list[int] | None, database: str | None = None) -> None:
        self.graph_pids = graph_pids  # None: the graphs run in this process
        self.database = database

    def start(self) -> None:
        self._pg = _cpu_by_pid(_postgres_pids(self.database))
        self._t = (self._graph(), time.process_time())

    def _graph(self) -> float:
        return time.process_time() if self.graph_pids is None else _cpu(self.graph_pids)

    def stop(self) -> Cpu:
        graph = self._graph() - self._t[0]
        client = 0.0 if self.graph_pids is None else time.process_time() - self._t[1]
        now = _cpu_by_pid(list(self._pg))
        return Cpu(graph=graph, postgres=sum(now[pid] - self._pg[pid] for pid in now), client=client)


async def drive(one: Callable[[], Awaitable[None]], runs: int, concurrency: int) -> tuple[float, list[float]]:
    """Run ``one`` ``runs`` times with at most ``concurrency`` in flight; wall time and per-run latencies."""
    latencies: list[float] = []
    todo = iter(range(runs))

    async def lane() -> None:
        for _ in todo:
            t0 = time.perf_counter()
            await one()
            latencies.append(time.perf_counter() - t0)

    start = time.perf_counter()
    await asyncio.gather(*(lane() for _ in range(concurrency)))
    return time.perf_counter() - start, latencies


async def inproc(locked: bool, runs: int, concurrency: int, db: str) -> tuple[float, list[float], Cpu]:
    pool: AsyncConnectionPool[Any] = AsyncConnectionPool(
        db, min_size=concurrency, max_size=concurrency, kwargs=CONNECT_KWARGS, open=False
    )
    await pool.open(wait=True)
    try:
        saver = AsyncPostgresSaver(pool, serde=strict_serde()) if locked else PooledSaver(pool)
        await saver.setup()
        graph = steps10.copy(update={"checkpointer": saver})

        async def one() -> None:
            out = await graph.ainvoke({"count": 0}, {"configurable": {"thread_id": str(uuid.uuid4())}})
            assert out["count"] == 10

        await drive(one, concurrency, concurrency)  # warm-up
        meter = CpuMeter(None)
        meter.start()
        seconds, lat = await drive(one, runs, concurrency)
        return seconds, lat, meter.stop()
    finally:
        await pool.close()


async def served(
    locked: bool, runs: int, concurrency: int, workers: int, db: str, worker_processes: int = 0
) -> tuple[float, list[float], Cpu]:
    data = Path(tempfile.mkdtemp(prefix="clew-bench-runs-"))
    env = {"CLEW_CHECKPOINTER_LOCK": "true" if locked else "false", "CLEW_LOG_LEVEL": "WARNING"}
    # with worker processes, the API process only serves HTTP and the runs execute in `clew worker`s
    server = ClewProcess(db, data, workers=0 if worker_processes else workers, env=env).start()
    extra = [
        ClewProcess(
            db,
            data,
            kind="worker",
            workers=max(1, workers // worker_processes),
            env={**env, "CLEW_LOG_LEVEL": "INFO"},
        ).start()  # start() waits for "worker started"
        for _ in range(worker_processes)
    ]
    client = get_client(url=server.url, timeout=120)
    try:

        async def one() -> None:
            out = await client.runs.wait(
                str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create"
            )
            assert isinstance(out, dict) and out["count"] == 10, out

        await drive(one, concurrency, concurrency)  # warm-up
        meter = CpuMeter([p.proc.pid for p in (server, *extra) if p.proc is not None])
        meter.start()
        seconds, lat = await drive(one, runs, concurrency)
        return seconds, lat, meter.stop()
    finally:
        await client.http.client.aclose()
        server.stop()
        for w in extra:
            w.stop()


async def scenario(name: str, args: argparse.Namespace) -> Result:
    db = create_database("clew_bench_runs")
    try:
        if name.startswith("inproc"):
            seconds, lat, cpu = await inproc(name == "inproc-stock", args.runs, args.concurrency, db)
        else:
            seconds, lat, cpu = await served(
                name == "clew-locked",
                args.runs,
                args.concurrency,
                args.workers,
                db,
                worker_processes=1 if name == "clew-2proc" else 0,
            )
    finally:
        drop_database(db)
    return Result(name, args.runs, seconds, lat, cpu)


def machine() -> str:
    mem = ""
    try:
        kb = next(int(line.split()[1]) for line in open("/proc/meminfo") if line.startswith("MemTotal"))
        mem = f", {kb / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration):
        pass
    with psycopg.connect(os.environ["DATABASE_URL"]) as conn:
        pg = conn.execute("SHOW server_version").fetchone()
    return (
        f"{os.cpu_count()} cores{mem}, Python {platform.python_version()}, Postgres {pg[0] if pg else '?'}, "
        f"langgraph {version('langgraph')}, langgraph-checkpoint-postgres {version('langgraph-checkpoint-postgres')}"
    )


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument(
        "--workers", type=int, default=None, help="clew worker slots (default: --concurrency)"
    )
    parser.add_argument(
        "--repeat", type=int, default=3, help="rounds over all scenarios (medians are reported)"
    )
    parser.add_argument("--only", default=",".join(SCENARIOS))
    args = parser.parse_args()
    args.workers = args.workers or args.concurrency
    names = [n for n in args.only.split(",") if n]
    unknown = set(names) - set(SCENARIOS)
    if unknown:
        parser.error(f"unknown scenarios {sorted(unknown)}; choose from {SCENARIOS}")
    print(f"machine: {machine()}")
    print(
        f"workload: steps10, {args.runs} runs at concurrency {args.concurrency}, clew workers {args.workers}"
    )
    rounds: list[dict[str, Result]] = []
    for round_no in range(args.repeat):
        results: dict[str, Result] = {}
        for name in names:  # interleaved, so background load hits every scenario alike
            r = await scenario(name, args)
            results[name] = r
            per = 1000 / r.runs
            print(
                f"round {round_no + 1} {name}: {r.rate:.1f} runs/s, p50 {r.pct(50):.0f} ms, p99 {r.pct(99):.0f} ms;"
                f" CPU per run: graph processes {r.cpu.graph * per:.1f} ms, Postgres {r.cpu.postgres * per:.1f} ms,"
                f" SDK client {r.cpu.client * per:.1f} ms",
                flush=True,
            )
        rounds.append(results)
    # On a shared machine the load moves between rounds: rank each scenario by its median round, and compare
    # each round's scenario with the ceiling measured right next to it (paired ratios).
    print(
        f"\n| scenario | runs/s (median of {args.repeat}) | best | p50 (ms) | p99 (ms) | vs in-process ceiling "
        "(median of paired rounds) | CPU ms/run: graph procs / Postgres / client (median) |"
        "\n|---|---|---|---|---|---|---|"
    )
    for name in names:
        rs = sorted((rd[name] for rd in rounds), key=lambda r: r.rate)
        mid = rs[len(rs) // 2]
        ratio = "-"
        if "inproc-stock" in names:
            ratio = f"{statistics.median(rd[name].rate / rd['inproc-stock'].rate for rd in rounds):.2f}"
        cpu = [
            statistics.median(getattr(rd[name].cpu, f) * 1000 / rd[name].runs for rd in rounds)
            for f in ("graph", "postgres", "client")
        ]
        print(
            f"| {name} | {mid.rate:.1f} | {rs[-1].rate:.1f} | {mid.pct(50):.0f} | {mid.pct(99):.0f} | {ratio} "
            f"| {cpu[0]:.1f} / {cpu[1]:.1f} / {cpu[2]:.1f} |"
        )


if __name__ == "__main__":
    asyncio.run(main())
