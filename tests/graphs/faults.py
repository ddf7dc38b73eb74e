"""A five-node graph for fault tests: each node appends ``start`` and ``end`` lines to a file, so a test can
count how often each node started and finished, across processes, whatever happened to the database.

Input: ``{"log_path": <file>, "delay": <seconds each node works>, "fail": <node that raises RuntimeError>,
"flaky": <node that raises ConnectionError on its first start>}``. A line is
``<event> <thread_id> <node> <pid> <time.time()>``; lines are short single ``write`` calls in append mode,
so concurrent writers do not interleave them.
"""

from __future__ import annotations

import asyncio
import operator
import os
import time
from pathlib import Path
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import RetryPolicy
from typing_extensions import TypedDict

NODES = ["n1", "n2", "n3", "n4", "n5"]


class FaultState(TypedDict, total=False):
    log_path: str
    delay: float
    fail: str
    flaky: str
    done: Annotated[list[str], operator.add]


def _append(path: str, line: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    try:
        os.write(fd, (line + "\n").encode())
    finally:
        os.close(fd)


def _started(path: str, thread_id: str, name: str) -> int:
    p = Path(path)
    return p.read_text().count(f"start {thread_id} {name} ") if p.exists() else 0


def _node(name: str) -> Any:
    async def node(state: FaultState, config: RunnableConfig) -> dict[str, Any]:
        thread_id = config["configurable"]["thread_id"]
        path = state["log_path"]
        started = await asyncio.to_thread(_started, path, thread_id, name)
        await asyncio.to_thread(_append, path, f"start {thread_id} {name} {os.getpid()} {time.time()}")
        await asyncio.sleep(state.get("delay", 0.0))
        if state.get("fail") == name:
            raise RuntimeError(f"deterministic failure in {name}")
        if state.get("flaky") == name and started == 0:
            raise ConnectionError(f"transient failure in {name}")
        await asyncio.to_thread(_append, path, f"end {thread_id} {name} {os.getpid()} {time.time()}")
        return {"done": [name]}

    return node


def build(retry: RetryPolicy | None = None) -> Any:
    g = StateGraph(FaultState)
    prev = START
    for name in NODES:
        g.add_node(name, _node(name), retry_policy=retry)
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile()


graph = build()
# node failures retried by LangGraph's RetryPolicy on the node (RuntimeError included), in the same attempt
retrying = build(RetryPolicy(max_attempts=2, initial_interval=0.01, retry_on=RuntimeError))


def counts(path: str | Path) -> dict[tuple[str, str, str], int]:
    """``{(event, thread_id, node): n}`` from a log file."""
    out: dict[tuple[str, str, str], int] = {}
    p = Path(path)
    if not p.exists():
        return out
    for line in p.read_text().splitlines():
        parts = line.split()
        if len(parts) == 5:
            key = (parts[0], parts[1], parts[2])
            out[key] = out.get(key, 0) + 1
    return out


def lines(path: str | Path) -> list[tuple[str, str, str, int, float]]:
    """``(event, thread_id, node, pid, time)`` per line, in file order."""
    p = Path(path)
    if not p.exists():
        return []
    out = []
    for line in p.read_text().splitlines():
        parts = line.split()
        if len(parts) == 5:
            out.append((parts[0], parts[1], parts[2], int(parts[3]), float(parts[4])))
    return out
