"""Graphs for the Agent Server protocol tests: static interrupts, an output schema, an interrupted subgraph,
a graph that echoes its configurable, a graph factory, and one that reads and writes the store.

Each is small and deterministic, so every status, body and event sequence is known in advance.
"""

from __future__ import annotations

import asyncio
import operator
from dataclasses import dataclass
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage
from langchain_core.runnables import RunnableConfig
from langgraph.config import get_store
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.types import interrupt
from typing_extensions import TypedDict


class Count(TypedDict, total=False):
    count: int
    log: Annotated[list[str], operator.add]
    delay: float


def _step(name: str) -> Any:
    async def node(state: Count) -> dict[str, Any]:
        if state.get("delay"):
            await asyncio.sleep(float(state["delay"]))
        return {"count": state.get("count", 0) + 1, "log": [name]}

    return node


def counter(n: int, **compile_kwargs: Any) -> Any:
    g = StateGraph(Count)
    prev = START
    for i in range(n):
        g.add_node(f"n{i + 1}", _step(f"n{i + 1}"))
        g.add_edge(prev, f"n{i + 1}")
        prev = f"n{i + 1}"
    g.add_edge(prev, END)
    return g.compile(**compile_kwargs)


# compiled with a static interrupt before its second node
static_before = counter(3, interrupt_before=["n2"])


# --- an output schema narrower than the state -------------------------------------------------------
class TopicIn(TypedDict):
    topic: str


class PlanOut(TypedDict):
    plan: str


class PlanState(TypedDict, total=False):
    topic: str
    plan: str
    scratch: str


async def _plan(state: PlanState) -> dict[str, Any]:
    return {"plan": "plan for " + state["topic"], "scratch": "internal notes"}


_out = StateGraph(PlanState, input_schema=TopicIn, output_schema=PlanOut)
_out.add_node("plan", _plan)
_out.add_edge(START, "plan")
_out.add_edge("plan", END)
output_schema = _out.compile()


# --- an interrupt inside a subgraph -------------------------------------------------------------------
class Ask(TypedDict, total=False):
    topic: str
    answer: Any
    log: Annotated[list[str], operator.add]


async def _prepare(state: Ask) -> dict[str, Any]:
    return {"log": ["prepare"]}


async def _ask(state: Ask) -> dict[str, Any]:
    return {"answer": interrupt({"question": "which?"}), "log": ["ask"]}


async def _done(state: Ask) -> dict[str, Any]:
    return {"log": ["done"]}


_child = StateGraph(Ask)
_child.add_node("ask", _ask)
_child.add_edge(START, "ask")
_child.add_edge("ask", END)
_parent = StateGraph(Ask)
_parent.add_node("prepare", _prepare)
_parent.add_node("child", _child.compile())
_parent.add_node("done", _done)
_parent.add_edge(START, "prepare")
_parent.add_edge("prepare", "child")
_parent.add_edge("child", "done")
_parent.add_edge("done", END)
sub_interrupt = _parent.compile()


# --- the configurable the graph sees; a typed context schema (LangGraph 1.x derives the config schema from it)
@dataclass
class EchoContext:
    tone: str = "plain"
    temperature: float = 0.0


class Seen(TypedDict, total=False):
    seen: dict[str, Any]


async def _echo(state: Seen, config: RunnableConfig) -> dict[str, Any]:
    conf = config.get("configurable") or {}
    return {"seen": {k: v for k, v in conf.items() if not k.startswith("__") and isinstance(v, str | int | float)}}


_echo_g = StateGraph(Seen, context_schema=EchoContext)
_echo_g.add_node("echo", _echo)
_echo_g.add_edge(START, "echo")
_echo_g.add_edge("echo", END)
configurable_echo = _echo_g.compile()


def factory(config: RunnableConfig) -> Any:
    """A graph built per run: ``configurable.steps`` nodes (2 when not given)."""
    return counter(int((config.get("configurable") or {}).get("steps", 2)))


# --- the store a graph sees ------------------------------------------------------------------------------
class Memo(TypedDict, total=False):
    found: list[Any]
    write: str


async def _remember(state: Memo) -> dict[str, Any]:
    store = get_store()
    found = [[list(i.namespace), i.key, i.value] for i in await store.asearch(("notes",))]
    if state.get("write"):
        await store.aput(("notes",), state["write"], {"from": "graph"})
    return {"found": found}


_memo = StateGraph(Memo)
_memo.add_node("remember", _remember)
_memo.add_edge(START, "remember")
_memo.add_edge("remember", END)
memory = _memo.compile()


# --- a chat model streaming tokens, for the messages stream mode ----------------------------------------
async def _reply(state: MessagesState) -> dict[str, Any]:
    model = GenericFakeChatModel(messages=iter([AIMessage(content="hello big world", id="ai-1")]))
    return {"messages": [await model.ainvoke(state["messages"])]}


async def _sign_off(state: MessagesState) -> dict[str, Any]:
    return {"messages": [AIMessage(content="bye", id="ai-2")]}  # whole, not streamed


_talk = StateGraph(MessagesState)
_talk.add_node("reply", _reply)
_talk.add_node("sign_off", _sign_off)
_talk.add_edge(START, "reply")
_talk.add_edge("reply", "sign_off")
_talk.add_edge("sign_off", END)
talk = _talk.compile()
