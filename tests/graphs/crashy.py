"""A multi-node graph for crash tests: every node records an exactly-once effect, then works for a while.

Each node increments ``effect_counter(thread_id, node)`` through :func:`nodes.effects.once_in_transaction`
before it sleeps, so a test can kill the worker while a node is in flight and afterwards check that every
node's effect happened exactly once. Nodes log ``name@pid`` so a test can tell which worker ran them.
"""

from __future__ import annotations

import asyncio
import operator
import os
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from langgraph.types import Send
from typing_extensions import TypedDict

from nodes.effects import once_in_transaction


class CrashState(TypedDict, total=False):
    items: list[str]
    delay: float
    log: Annotated[list[str], operator.add]
    results: Annotated[list[str], operator.add]


async def _count(name: str, thread_id: str, config: RunnableConfig) -> None:
    async def effect(conn: Any) -> int:
        await conn.execute(
            "INSERT INTO effect_counter (thread_id, node, n) VALUES (%s, %s, 1) "
            "ON CONFLICT (thread_id, node) DO UPDATE SET n = effect_counter.n + 1",
            (thread_id, name),
        )
        return 1

    await once_in_transaction(f"count:{name}", effect, config=config)


def _node(name: str) -> Any:
    async def node(state: CrashState, config: RunnableConfig) -> dict[str, Any]:
        await _count(name, config["configurable"]["thread_id"], config)
        await asyncio.sleep(state.get("delay", 0.0))
        return {"log": [f"{name}@{os.getpid()}"]}

    return node


async def _branch(arg: dict[str, Any], config: RunnableConfig) -> dict[str, Any]:
    await _count(f"branch:{arg['item']}", config["configurable"]["thread_id"], config)
    await asyncio.sleep(arg["delay"])
    return {"results": [arg["item"].upper()]}


def _fan(state: CrashState) -> list[Send]:
    return [Send("branch", {"item": i, "delay": state.get("delay", 0.0)}) for i in state.get("items", [])]


_g = StateGraph(CrashState)
_g.add_node("a", _node("a"))
_g.add_node("b", _node("b"))
_g.add_node("branch", _branch)
_g.add_node("c", _node("c"))
_g.add_edge(START, "a")
_g.add_edge("a", "b")
_g.add_conditional_edges("b", _fan, ["branch"])
_g.add_edge("branch", "c")
_g.add_edge("c", END)
graph = _g.compile()

COUNTER_DDL = (
    "CREATE TABLE IF NOT EXISTS effect_counter (thread_id text, node text, n int NOT NULL, "
    "PRIMARY KEY (thread_id, node))"
)
