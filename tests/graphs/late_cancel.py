"""A graph whose last node files a rollback cancel on its own run, as a user's cancel would land while the run is
ending (no NOTIFY, so the executor is not told: only the run's final statement can notice). Used by
tests/test_core_cancel.py to pin down that race deterministically."""

from __future__ import annotations

import operator
from typing import Annotated, Any

from langchain_core.runnables import RunnableConfig
from langgraph.graph import END, START, StateGraph
from typing_extensions import TypedDict

from nodes.effects import once_in_transaction


class State(TypedDict, total=False):
    count: int
    log: Annotated[list[str], operator.add]
    cancel: bool


async def step(state: State) -> dict[str, Any]:
    return {"count": state.get("count", 0) + 1, "log": ["step"]}


async def last(state: State, config: RunnableConfig) -> dict[str, Any]:
    if state.get("cancel"):
        run_id = config["configurable"]["run_id"]

        async def file_cancel(conn: Any) -> bool:
            await conn.execute("UPDATE runs SET cancel_action = 'rollback' WHERE run_id = %s", (run_id,))
            return True

        await once_in_transaction("late-cancel", file_cancel, config=config)
    return {"log": ["last"]}


_g = StateGraph(State)
_g.add_node("step", step)
_g.add_node("last", last)
_g.add_edge(START, "step")
_g.add_edge("step", "last")
_g.add_edge("last", END)
graph = _g.compile()
