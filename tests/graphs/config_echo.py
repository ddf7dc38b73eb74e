"""A graph that echoes its run context, so tests can see which configuration a run received.

``keys`` names the context keys to record; the ``before`` node records them at the start, ``wait`` pauses
(an interrupt when ``pause`` is set, a sleep when ``delay`` is set), and ``after`` records them again, so a
resumed run shows the configuration it continued with.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import interrupt
from typing_extensions import TypedDict


class EchoState(TypedDict, total=False):
    keys: list[str]
    pause: bool
    delay: float
    seen: Annotated[list[dict[str, Any]], operator.add]


def _record(state: EchoState, runtime: Runtime[Any]) -> dict[str, Any]:
    ctx = runtime.context or {}
    return {"seen": [{k: ctx.get(k) for k in state.get("keys") or []}]}


async def _before(state: EchoState, runtime: Runtime[Any]) -> dict[str, Any]:
    return _record(state, runtime)


async def _wait(state: EchoState) -> dict[str, Any]:
    if state.get("delay"):
        await asyncio.sleep(float(state["delay"]))
    if state.get("pause"):
        interrupt({"question": "continue?"})
    return {}


async def _after(state: EchoState, runtime: Runtime[Any]) -> dict[str, Any]:
    return _record(state, runtime)


_g = StateGraph(EchoState)
_g.add_node("before", _before)
_g.add_node("wait", _wait)
_g.add_node("after", _after)
_g.add_edge(START, "before")
_g.add_edge("before", "wait")
_g.add_edge("wait", "after")
_g.add_edge("after", END)
graph = _g.compile()
