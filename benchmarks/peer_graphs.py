"""Graphs served by both servers in ``benchmarks/compare_peer.py`` (clew and ``langgraph dev``).

Only LangGraph is imported, so the peer's throwaway virtualenv can load this file as it is. The chain graph
is the ``steps10`` test graph (``tests/graphs/scripted.py``, also used by ``bench_runs.py``); these two add:

- ``loop``: one node that stops at a plain ``interrupt()`` and loops back after every resume (each resume
  is one more turn of the thread);
- ``ticker``: one node that emits ``ticks`` custom events ``{"i": n, "t": <time.time() at emission>}``,
  ``gap`` seconds apart, for measuring SSE delivery latency (client and server share one clock).
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from langgraph.config import get_stream_writer
from langgraph.graph import END, START, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class LoopState(TypedDict, total=False):
    count: int
    last: Any


async def _step(state: LoopState) -> dict[str, Any]:
    answer = interrupt({"question": "next?", "count": state.get("count", 0)})
    return {"count": state.get("count", 0) + 1, "last": answer}


_loop = StateGraph(LoopState)
_loop.add_node("step", _step)
_loop.add_edge(START, "step")
_loop.add_edge("step", "step")
loop = _loop.compile(name="loop")


class TickState(TypedDict, total=False):
    ticks: int
    gap: float
    sent: int


async def _tick(state: TickState) -> dict[str, Any]:
    write = get_stream_writer()
    n = int(state.get("ticks", 20))
    for i in range(n):
        write({"i": i, "t": time.time()})
        await asyncio.sleep(float(state.get("gap", 0.02)))
    return {"sent": n}


_ticker = StateGraph(TickState)
_ticker.add_node("tick", _tick)
_ticker.add_edge(START, "tick")
_ticker.add_edge("tick", END)
ticker = _ticker.compile(name="ticker")
