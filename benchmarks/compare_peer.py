"""clew against LangGraph's own in-memory dev server and the in-process ceiling, side by side (issue 18).

One command: creates (once) a throwaway virtualenv OUTSIDE the repository with ``langgraph-cli[inmem]`` from
PyPI (``--peer-venv``, default ``/tmp/clew-peer-venv``; nothing from it is imported here or enters clew), then
for each of ``--rounds`` paired rounds, on loopback ports:

- **peer**: ``langgraph dev --no-browser --no-reload`` (in-memory, its default jobs per worker);
- **clew**: ``clew serve --workers N`` (default 4 run slots; ``--servers …,clew@10`` adds clew with 10 slots), durable on Postgres (``DATABASE_URL``'s server
  — default the local one, as ``bench_runs.py`` — a fresh database per round) at its default durability;
- **ceiling** (chain10 only): bare LangGraph ``graph.ainvoke`` in this process with the lock-free Postgres
  saver (``bench_runs.py``'s ``inproc-lockfree``).

Both servers serve the same graphs (a generated ``langgraph.json``): ``steps10`` from
``tests/graphs/scripted.py`` (the graph of ``bench_runs.py``) and ``loop`` / ``ticker`` from
``benchmarks/peer_graphs.py``; both are driven the same way through the official ``langgraph-sdk``:

- ``chain10``: ``--runs`` runs (200) of ``steps10`` at ``--concurrency`` (20), each
  ``runs.wait(<new thread>, if_not_exists="create")``, after a warm-up of ``--concurrency`` runs: runs/s;
- ``resume``: ``--cycles`` interrupt → resume cycles on one thread of ``loop``
  (``runs.stream(command={"resume": n}, stream_mode="updates")``): ms from sending the resume to the
  ``updates`` chunk carrying ``__interrupt__``;
- ``sse``: 20 ``ticker`` runs streaming at once (``stream_mode="custom"``), each node emitting 20 events
  20 ms apart: ms from ``time.time()`` in the node to the client receiving the event.

Medians over the rounds and the median of the per-round ratios clew / peer and clew / ceiling are printed.

Options (clew only; the peer cannot import clew's research graphs):

- ``--state-turns 300``: a ``loop`` thread with that many turns, then 300 ``GET /threads/T/state`` reads;
- ``--config-reads``: runs ``benchmarks/bench_config.py`` (cached configuration read percentiles);
- ``--scale 200``: that many ``research`` runs at once (standard research, local source, every model call
  answered by a scripted OpenAI-compatible stub after ``--model-delay`` 0.2 s): all complete?, throughput,
  p50/p99, peak RSS of the clew process, Postgres connections of its database.

    uv run python benchmarks/compare_peer.py [--rounds 3] [--only chain10,resume,sse] [--state-turns 300]
        [--config-reads] [--scale 200]

Every loop is bounded; only 127.0.0.1 is contacted.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import psutil

BENCH = Path(__file__).resolve().parent
ROOT = BENCH.parent
sys.path.insert(0, str(BENCH))
sys.path.insert(0, str(ROOT))

from bench_runs import CpuMeter, drive, inproc, machine  # noqa: E402  (sets the DATABASE_URL default)
from langgraph_sdk import get_client  # noqa: E402

from tests.support.pg import create_database, drop_database  # noqa: E402
from tests.support.server import ClewProcess, free_port  # noqa: E402

WORKLOADS = ("chain10", "resume", "sse")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- the peer ------------------------------------------------------------------------------------------------
def ensure_peer_venv(venv: Path) -> str:
    """Create ``venv`` with ``langgraph-cli[inmem]`` unless it exists; the installed langgraph-api version."""
    if ROOT in venv.resolve().parents:
        raise SystemExit(f"--peer-venv must be outside the repository: {venv}")
    py = venv / "bin" / "python"
    if not (venv / "bin" / "langgraph").exists():
        uv = shutil.which("uv") or "uv"
        subprocess.run([uv, "venv", "-q", "-p", "3.11", str(venv)], check=True, timeout=300)
        subprocess.run([uv, "pip", "install", "-q", "-p", str(py), "langgraph-cli[inmem]"], check=True, timeout=900)
    out = subprocess.run([str(py), "-c", "from importlib.metadata import version as v; "
                          "print(v('langgraph-api'), v('langgraph-runtime-inmem'), v('langgraph'))"],
                         capture_output=True, text=True, check=True, timeout=60)
    api, inmem, lg = out.stdout.split()
    return f"langgraph-api {api}, langgraph-runtime-inmem {inmem}, langgraph {lg}"


class PeerProcess:
    """``langgraph dev`` from the throwaway virtualenv, on a loopback port."""

    def __init__(self, venv: Path, config: Path, data: Path) -> None:
        self.venv, self.config, self.data = venv, config, data
        self.port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> PeerProcess:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("CLEW_", "LANGSMITH", "LANGCHAIN"))}
        env.update({"LANGSMITH_TRACING": "false", "LANGGRAPH_CLI_NO_ANALYTICS": "1", "PYTHONUNBUFFERED": "1",
                    "PATH": f"{self.venv / 'bin'}:{env.get('PATH', '')}", "VIRTUAL_ENV": str(self.venv)})
        env.pop("DATABASE_URL", None)
        log = open(self.data / "peer.log", "ab")  # noqa: SIM115 - closed with the process
        self.proc = subprocess.Popen(
            [str(self.venv / "bin" / "langgraph"), "dev", "--no-browser", "--no-reload", "--host", "127.0.0.1",
             "--port", str(self.port), "--config", str(self.config), "--server-log-level", "WARNING"],
            cwd=self.config.parent, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"langgraph dev exited:\n{(self.data / 'peer.log').read_text()[-3000:]}")
            with contextlib.suppress(httpx.HTTPError):
                if httpx.get(self.url + "/ok", timeout=1.0).status_code == 200:
                    return self
            time.sleep(0.2)
        self.stop()
        raise TimeoutError(f"langgraph dev did not start:\n{(self.data / 'peer.log').read_text()[-3000:]}")

    def pids(self) -> list[int]:
        if self.proc is None:
            return []
        with contextlib.suppress(psutil.Error):
            p = psutil.Process(self.proc.pid)
            return [p.pid, *(c.pid for c in p.children(recursive=True))]
        return []

    def stop(self) -> None:
        if self.proc is None or self.proc.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.proc.pid, 15)  # its own session: the CLI and the server it runs
        try:
            self.proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, 9)
            self.proc.wait(10)


def write_config(data: Path) -> Path:
    config = data / "langgraph.json"
    config.write_text(json.dumps({
        "dependencies": ["."],
        "graphs": {
            "steps10": f"{ROOT / 'tests' / 'graphs' / 'scripted.py'}:steps10",
            "loop": f"{BENCH / 'peer_graphs.py'}:loop",
            "ticker": f"{BENCH / 'peer_graphs.py'}:ticker",
        },
    }))
    return config


@contextlib.contextmanager
def server(kind: str, args: argparse.Namespace, config: Path, data: Path) -> Iterator[tuple[str, list[int], str]]:
    """(url, server pids, database or "") of a started peer or clew; stopped (and its database dropped) after."""
    if kind == "peer":
        peer = PeerProcess(args.peer_venv, config, data).start()
        try:
            yield peer.url, peer.pids(), ""
        finally:
            peer.stop()
        return
    slots = int(kind.split("@", 1)[1]) if "@" in kind else args.clew_workers  # "clew@10": 10 run slots
    db = create_database("clew_bench_peer")
    clew = ClewProcess(db, data, config=config, workers=slots,
                       env={"CLEW_LOG_LEVEL": "WARNING", **dict(e.split("=", 1) for e in args.clew_env)}).start()
    try:
        assert clew.proc is not None
        yield clew.url, [clew.proc.pid], db
    finally:
        clew.stop()
        drop_database(db)


# --- workloads -----------------------------------------------------------------------------------------------
async def chain10(url: str, pids: list[int], args: argparse.Namespace) -> dict[str, float]:
    client = get_client(url=url, timeout=120)
    try:
        async def one() -> None:
            out = await client.runs.wait(str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create")
            assert isinstance(out, dict) and out.get("count") == 10, out

        await drive(one, args.concurrency, args.concurrency)  # warm-up
        meter = CpuMeter(pids)
        meter.start()
        seconds, lat = await drive(one, args.runs, args.concurrency)
        cpu = meter.stop()
    finally:
        await client.http.client.aclose()
    return {"runs/s": args.runs / seconds, "p50 ms": pct(lat, 0.5) * 1000, "p99 ms": pct(lat, 0.99) * 1000,
            "server CPU ms/run": cpu.graph * 1000 / args.runs, "Postgres CPU ms/run": cpu.postgres * 1000 / args.runs}


async def _resume_cycles(client: Any, tid: str, cycles: int, first: int = 0) -> list[float]:
    """``cycles`` resumes on thread ``tid`` (already stopped at the loop's interrupt); seconds to each interrupt."""
    out: list[float] = []
    for i in range(first, first + cycles):
        t0 = time.perf_counter()
        seen = None
        async for part in client.runs.stream(tid, "loop", command={"resume": i}, stream_mode="updates"):
            if part.event == "error":
                raise RuntimeError(f"resume {i}: {part.data}")
            if seen is None and part.event.startswith("updates") and isinstance(part.data, dict) \
                    and "__interrupt__" in part.data:
                seen = time.perf_counter() - t0
        if seen is None:
            raise RuntimeError(f"resume {i}: no interrupt on the stream")
        out.append(seen)
    return out


async def _loop_thread(client: Any) -> str:
    tid = (await client.threads.create())["thread_id"]
    async for part in client.runs.stream(tid, "loop", input={"count": 0}, stream_mode="updates"):
        if part.event == "error":
            raise RuntimeError(f"loop start: {part.data}")
    return str(tid)


async def resume(url: str, pids: list[int], args: argparse.Namespace) -> dict[str, float]:
    client = get_client(url=url, timeout=120)
    try:
        tid = await _loop_thread(client)
        await _resume_cycles(client, tid, 3)  # warm-up
        lat = await _resume_cycles(client, tid, args.cycles, first=3)
    finally:
        await client.http.client.aclose()
    return {"resume p50 ms": pct(lat, 0.5) * 1000, "resume p99 ms": pct(lat, 0.99) * 1000}


async def sse(url: str, pids: list[int], args: argparse.Namespace) -> dict[str, float]:
    client = get_client(url=url, timeout=120)
    lat: list[float] = []
    counts: list[int] = []

    async def one() -> None:
        n = 0
        async for part in client.runs.stream(str(uuid.uuid4()), "ticker", input={"ticks": 20, "gap": 0.02},
                                             stream_mode="custom", if_not_exists="create"):
            if part.event == "error":
                raise RuntimeError(f"ticker: {part.data}")
            if part.event.startswith("custom") and isinstance(part.data, dict) and "t" in part.data:
                lat.append(time.time() - float(part.data["t"]))
                n += 1
        counts.append(n)

    try:
        await asyncio.gather(*(one() for _ in range(2)))  # warm-up
        lat.clear()
        counts.clear()
        await asyncio.gather(*(one() for _ in range(args.streams)))
    finally:
        await client.http.client.aclose()
    if sum(counts) != 20 * args.streams:
        raise RuntimeError(f"sse: {sum(counts)} events received, {20 * args.streams} sent")
    return {"sse p50 ms": pct(lat, 0.5) * 1000, "sse p99 ms": pct(lat, 0.99) * 1000}


async def ceiling(args: argparse.Namespace) -> dict[str, float]:
    db = create_database("clew_bench_peer_ceiling")
    try:
        seconds, lat, cpu = await inproc(False, args.runs, args.concurrency, db)
    finally:
        drop_database(db)
    return {"runs/s": args.runs / seconds, "p50 ms": pct(lat, 0.5) * 1000, "p99 ms": pct(lat, 0.99) * 1000,
            "server CPU ms/run": cpu.graph * 1000 / args.runs, "Postgres CPU ms/run": cpu.postgres * 1000 / args.runs}


RUNNERS: dict[str, Callable[..., Any]] = {"chain10": chain10, "resume": resume, "sse": sse}


# --- clew-only options ---------------------------------------------------------------------------------------
async def state_reads(url: str, turns: int) -> dict[str, float]:
    client = get_client(url=url, timeout=120)
    try:
        tid = await _loop_thread(client)
        await _resume_cycles(client, tid, turns)
        reads: list[float] = []
        async with httpx.AsyncClient(base_url=url, timeout=60) as http:
            for _ in range(300):
                t0 = time.perf_counter()
                r = await http.get(f"/threads/{tid}/state")
                reads.append(time.perf_counter() - t0)
                r.raise_for_status()
            count = r.json()["values"]["count"]
    finally:
        await client.http.client.aclose()
    assert count == turns, (count, turns)
    return {"state p50 ms": pct(reads, 0.5) * 1000, "state p95 ms": pct(reads, 0.95) * 1000,
            "state p99 ms": pct(reads, 0.99) * 1000}


def _rounds_table(rounds: list[dict[str, dict[str, dict[str, float]]]], names: list[str]) -> None:
    """Medians per server and measure, and the medians of the per-round ratios."""
    servers = [s for s in ("peer", *sorted({w for rd in rounds for v in rd.values() for w in v if w.startswith("clew")}),
                           "ceiling")]
    clews = [s for s in servers if s.startswith("clew")]
    pairs = [(c, o) for c in clews for o in ("peer", "ceiling")]
    print("\n| workload | measure | " + " | ".join(servers) + " | " + " | ".join(f"{c} / {o}" for c, o in pairs) + " |")
    print("|---|---|" + "---|" * (len(servers) + len(pairs)))
    for w in names:
        measures: list[str] = []
        for rd in rounds:
            for who in rd.get(w, {}).values():
                measures += [m for m in who if m not in measures]
        for m in measures:
            cells = []
            for who in servers:
                vals = [rd[w][who][m] for rd in rounds if who in rd.get(w, {}) and m in rd[w][who]]
                cells.append(f"{statistics.median(vals):.1f}" if vals else "–")
            ratios = []
            for clew, other in pairs:
                rs = [rd[w][clew][m] / rd[w][other][m] for rd in rounds
                      if clew in rd.get(w, {}) and other in rd[w] and m in rd[w][other] and rd[w][other][m]]
                ratios.append(f"{statistics.median(rs):.2f}" if rs else "–")
            print(f"| {w} | {m} | " + " | ".join(cells + ratios) + " |")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--only", default=",".join(WORKLOADS))
    parser.add_argument("--servers", default="peer,clew,ceiling",
                        help="peer, clew (--clew-workers slots), clew@N (N slots), ceiling")
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=20)
    parser.add_argument("--cycles", type=int, default=30, help="resume cycles per round (the peer is slow)")
    parser.add_argument("--streams", type=int, default=20)
    parser.add_argument("--clew-workers", type=int, default=4)
    parser.add_argument("--clew-env", action="append", default=[], help="NAME=value for clew serve (repeatable)")
    parser.add_argument("--peer-venv", type=Path, default=Path("/tmp/clew-peer-venv"))
    parser.add_argument("--state-turns", type=int, default=0)
    parser.add_argument("--config-reads", action="store_true")
    parser.add_argument("--scale", type=int, default=0)
    parser.add_argument("--scale-workers", type=int, default=200, help="clew run slots for --scale")
    parser.add_argument("--model-delay", type=float, default=0.2)
    args = parser.parse_args()
    names = [n for n in args.only.split(",") if n]
    servers = [s for s in args.servers.split(",") if s]
    if set(names) - set(WORKLOADS):
        parser.error(f"unknown workloads; choose from {WORKLOADS}")
    peer_version = ensure_peer_venv(args.peer_venv) if "peer" in servers else "not run"
    print(f"machine: {machine()}, load average {os.getloadavg()[0]:.1f}")
    print(f"peer: langgraph dev ({peer_version}); clew serve --workers {args.clew_workers} {args.clew_env}")
    data = Path(tempfile.mkdtemp(prefix="clew-bench-peer-"))
    config = write_config(data)
    rounds: list[dict[str, dict[str, dict[str, float]]]] = []
    for r in range(args.rounds):
        rd: dict[str, dict[str, dict[str, float]]] = {w: {} for w in names}
        order = servers if r % 2 == 0 else list(reversed(servers))  # alternate who goes first
        for who in order:
            if who == "ceiling":
                if "chain10" in names:
                    rd["chain10"]["ceiling"] = await ceiling(args)
                    print(f"round {r + 1} ceiling chain10: "
                          + ", ".join(f"{k} {v:.1f}" for k, v in rd["chain10"]["ceiling"].items())
                          + f" (load {os.getloadavg()[0]:.1f})", flush=True)
                continue
            with server(who, args, config, data) as (url, pids, _db):
                for w in names:
                    rd[w][who] = await RUNNERS[w](url, pids, args)
                    print(f"round {r + 1} {who} {w}: " + ", ".join(f"{k} {v:.1f}" for k, v in rd[w][who].items())
                          + f" (load {os.getloadavg()[0]:.1f})", flush=True)
        rounds.append(rd)
    if rounds and names:
        _rounds_table(rounds, names)
    if args.state_turns:
        with server("clew", args, config, data) as (url, _pids, _db):
            res = await state_reads(url, args.state_turns)
        print(f"\nclew GET /threads/T/state, thread of {args.state_turns} turns, 300 reads: "
              + ", ".join(f"{k} {v:.2f}" for k, v in res.items()))
    if args.config_reads:
        print("\nbench_config.py (cached configuration reads):", flush=True)
        await asyncio.to_thread(subprocess.run, [sys.executable, str(BENCH / "bench_config.py"), "--users", "200",
                                "--iterations", "20000", "--db-iterations", "200"], check=True, timeout=900)
    if args.scale:
        from bench_scale import scale  # noqa: PLC0415 - clew's research graphs only load here

        await scale(args, data)


if __name__ == "__main__":
    asyncio.run(main())
