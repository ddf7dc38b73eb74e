"""Scripted human-in-the-loop graphs for the tests (served through tests/langgraph.json).

- ``kinds``: one typed interrupt of the kind named in the input, routed by the answer to a node named after it.
- ``todo_gate``: files ``n`` todos (optionally sleeping ``delay`` seconds after filing, so a test can kill the
  worker mid-node), keeps working, waits at the gate, then records what the todos answered.
- ``refile``: files a todo and asks for approval in the same node, so the node runs again on resume.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any, Literal

from langgraph.graph import END, START, StateGraph
from langgraph.types import Command
from typing_extensions import TypedDict

from nodes.interrupts import ask_approval, ask_input, ask_selection
from nodes.todos import await_todos, file_todo


class KindState(TypedDict, total=False):
    kind: str
    answer: Any
    log: Annotated[list[str], operator.add]


async def _ask(
    state: KindState,
) -> Command[Literal["approved", "edited", "rejected", "answered", "red", "blue", "numbered"]]:
    kind = state.get("kind")
    if kind == "approval":
        a = ask_approval("ship it?", data={"draft": "v1"}, edit_schema={"type": "string"})
        node = {"approve": "approved", "edit": "edited", "reject": "rejected"}[a.decision]
        return Command(goto=node, update={"answer": a.model_dump(), "log": ["ask"]})
    if kind == "selection":
        choice = ask_selection("which colour?", [{"value": "red", "label": "Red"}, "blue"])
        return Command(goto=choice, update={"answer": choice, "log": ["ask"]})
    if kind == "number":
        n = ask_input("how many?", schema={"type": "integer", "minimum": 1, "maximum": 10})
        return Command(goto="numbered", update={"answer": n, "log": ["ask"]})
    text = ask_input("your name?")
    return Command(goto="answered", update={"answer": text["text"], "log": ["ask"]})


def _leaf(name: str) -> Any:
    async def node(state: KindState) -> dict[str, Any]:
        return {"log": [name]}

    return node


_k = StateGraph(KindState)
_k.add_node("ask", _ask)
for _leaf_name in ("approved", "edited", "rejected", "answered", "red", "blue", "numbered"):
    _k.add_node(_leaf_name, _leaf(_leaf_name))
    _k.add_edge(_leaf_name, END)
_k.add_edge(START, "ask")
kinds = _k.compile()


class TodoState(TypedDict, total=False):
    n: int
    delay: float
    filed: list[str]
    results: dict[str, Any]
    log: Annotated[list[str], operator.add]


KINDS = ("approval", "input", "selection")


async def _prepare(state: TodoState) -> dict[str, Any]:
    return {"log": ["prepare"]}


async def _file(state: TodoState) -> dict[str, Any]:
    filed = []
    for i in range(state.get("n", 2)):
        kind = KINDS[i % 3]
        todo = await file_todo(
            kind,  # type: ignore[arg-type]
            f"todo {i}",
            data={"i": i},
            options=["x", "y"] if kind == "selection" else None,
            key=f"t{i}",
        )
        filed.append(todo.todo_id)
    if state.get("delay"):
        await asyncio.sleep(state["delay"])  # a test kills the worker here
    return {"filed": filed, "log": ["file"]}


async def _work(state: TodoState) -> dict[str, Any]:
    return {"log": ["work"]}


async def _gate(state: TodoState) -> dict[str, Any]:
    todos = await await_todos("waiting for the todos")
    return {"results": {t.message: {"status": t.status, "result": t.result} for t in todos}, "log": ["gate"]}


_t = StateGraph(TodoState)
for _name, _fn in [("prepare", _prepare), ("file", _file), ("work", _work), ("gate", _gate)]:
    _t.add_node(_name, _fn)
_t.add_edge(START, "prepare")
_t.add_edge("prepare", "file")
_t.add_edge("file", "work")
_t.add_edge("work", "gate")
_t.add_edge("gate", END)
todo_gate = _t.compile()


class RefileState(TypedDict, total=False):
    decision: str
    log: Annotated[list[str], operator.add]


async def _file_and_ask(state: RefileState) -> dict[str, Any]:
    await file_todo("input", "note for later", data={"why": "refile"})
    a = ask_approval("go on?", options=("approve", "reject"))
    return {"decision": a.decision, "log": ["file_and_ask"]}


_r = StateGraph(RefileState)
_r.add_node("file_and_ask", _file_and_ask)
_r.add_edge(START, "file_and_ask")
_r.add_edge("file_and_ask", END)
refile = _r.compile()
