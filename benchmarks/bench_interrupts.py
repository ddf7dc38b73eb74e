"""Consecutive interrupt → resume cycles over HTTP on one thread (issue 4; design doc §7.1: 1000 cycles
without an error, state save and restore < 100 ms).

Starts a real ``clew serve`` (auth off, in-process workers) on a fresh database (DATABASE_URL's server, or
the embedded one) serving the loop graph below: one node asks a typed input question, and every answer sends
the graph round to the same question again. Each cycle posts the answer (``POST /threads/T/runs/stream`` with
``command.resume``) and reads the SSE stream; it measures the time from sending the resume to the next
``interrupt`` event, and to the stream's ``end`` (the run's final status and the checkpoint are committed by
then). Any non-200 answer, ``error`` event, or cycle without exactly one interrupt counts as an error. At the
end it reads the thread state (the restore path) a few hundred times.

    uv run python benchmarks/bench_interrupts.py [--cycles 1000] [--workers 4]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from nodes.interrupts import ask_input  # noqa: E402

ANSWER_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"n": {"type": "integer"}, "stop": {"type": "boolean"}},
    "required": ["n"],
}


class LoopState(TypedDict, total=False):
    count: int
    last: int
    stop: bool


async def step(state: LoopState) -> dict[str, Any]:
    answer = ask_input("next number?", schema=ANSWER_SCHEMA, data={"count": state.get("count", 0)})
    return {"count": state.get("count", 0) + 1, "last": answer["n"], "stop": bool(answer.get("stop"))}


def _again(state: LoopState) -> str:
    return END if state.get("stop") else "step"


_loop = StateGraph(LoopState)
_loop.add_node("step", step)
_loop.add_edge(START, "step")
_loop.add_conditional_edges("step", _again, ["step", END])
loop = _loop.compile(name="interrupt_loop")


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


async def cycle(http: Any, tid: str, body: dict[str, Any]) -> tuple[float, float, str | None]:
    """One resume: (seconds to the interrupt event, seconds to end, error or None)."""
    t0 = time.perf_counter()
    t_interrupt = None
    interrupts, event, error = 0, "", None
    async with http.stream("POST", f"/threads/{tid}/runs/stream", json=body) as resp:
        if resp.status_code != 200:
            await resp.aread()
            return 0.0, 0.0, f"HTTP {resp.status_code}: {resp.text[:200]}"
        async for line in resp.aiter_lines():
            if line.startswith("event: "):
                event = line[7:]
                if event == "interrupt":
                    interrupts += 1
                    t_interrupt = t_interrupt or time.perf_counter()
                elif event == "error":
                    error = "error event"
                elif event == "end":
                    break
    t_end = time.perf_counter()
    if interrupts != 1 and not body.get("command", {}).get("resume", {}).get("stop"):
        error = error or f"{interrupts} interrupt events"
    return ((t_interrupt or t_end) - t0), (t_end - t0), error


def main(cycles: int, workers: int) -> None:
    from tests.support.pg import create_database, drop_database
    from tests.support.server import ClewProcess

    db = create_database("clew_bench_interrupts")
    data = Path(tempfile.mkdtemp(prefix="clew-bench-interrupts-"))
    config = data / "langgraph.json"
    config.write_text(json.dumps({"graphs": {"loop": f"{Path(__file__).resolve()}:loop"}}))
    server = ClewProcess(db, data, config=config, workers=workers, env={"CLEW_LOG_LEVEL": "WARNING"}).start()
    try:
        asyncio.run(measure(server.url, cycles, workers))
    finally:
        server.stop()
        drop_database(db)


async def measure(url: str, cycles: int, workers: int) -> None:
    import httpx

    to_interrupt: list[float] = []
    to_end: list[float] = []
    errors: list[str] = []
    async with httpx.AsyncClient(base_url=url, timeout=60) as http:
        tid = (await http.post("/threads", json={})).json()["thread_id"]
        _, _, err = await cycle(
            http, tid, {"assistant_id": "loop", "input": {"count": 0}, "stream_mode": ["updates"]}
        )
        assert err is None, err
        wall = time.perf_counter()
        for i in range(cycles):
            body = {"assistant_id": "loop", "command": {"resume": {"n": i}}, "stream_mode": ["updates"]}
            a, b, err = await cycle(http, tid, body)
            if err:
                errors.append(f"cycle {i}: {err}")
                continue
            to_interrupt.append(a)
            to_end.append(b)
        wall = time.perf_counter() - wall
        state = (await http.get(f"/threads/{tid}/state")).json()
        count = state["values"]["count"]
        reads = []
        for _ in range(300):
            t0 = time.perf_counter()
            r = await http.get(f"/threads/{tid}/state")
            reads.append(time.perf_counter() - t0)
            if r.status_code != 200:
                errors.append(f"state read: HTTP {r.status_code}")
    ms = 1000.0
    print(
        f"cycles: {cycles}, errors: {len(errors)}, node executions counted by the graph: {count} "
        f"(expected {cycles}), wall: {wall:.1f} s, workers: {workers}"
    )
    for e in errors[:10]:
        print("  ", e)
    print("| measure | p50 (ms) | p99 (ms) | max (ms) |\n|---|---|---|---|")
    for name, s in (
        ("resume request → next `interrupt` event", to_interrupt),
        ("resume request → stream `end` (run and checkpoint committed)", to_end),
        ("`GET /threads/T/state` (restore the state)", reads),
    ):
        if s:
            print(
                f"| {name} | {statistics.median(s) * ms:.1f} | {pct(s, 0.99) * ms:.1f} | {max(s) * ms:.1f} |"
            )


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--workers", type=int, default=4)
    args = parser.parse_args()
    main(args.cycles, args.workers)
