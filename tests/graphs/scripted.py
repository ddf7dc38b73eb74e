"""Scripted graphs the tests serve through a real clew server (see tests/langgraph.json).

Models are LangChain fake chat models, so every token and every state is known in advance.
"""

from __future__ import annotations

import asyncio
import operator
from typing import Annotated, Any

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage
from langgraph.config import get_stream_writer
from langgraph.graph import END, START, MessagesState, StateGraph
from langgraph.graph.message import add_messages
from langgraph.types import Send, interrupt
from typing_extensions import TypedDict

ANSWER = "The quick brown fox jumps over the lazy dog"


# --- chat: streams tokens of a fixed answer -------------------------------------------------------------
async def _reply(state: MessagesState) -> dict[str, Any]:
    model = GenericFakeChatModel(messages=iter([AIMessage(content=ANSWER)]))
    msg = await model.ainvoke(state["messages"])
    return {"messages": [msg]}


_chat = StateGraph(MessagesState)
_chat.add_node("reply", _reply)
_chat.add_edge(START, "reply")
_chat.add_edge("reply", END)
chat = _chat.compile()


# --- steps: a counter through N nodes, optional delay, optional custom events -----------------------------
class StepState(TypedDict, total=False):
    count: int
    log: Annotated[list[str], operator.add]
    delay: float
    fail: bool


def _step(name: str) -> Any:
    async def node(state: StepState) -> dict[str, Any]:
        delay = state.get("delay") or 0.0
        if delay:
            await asyncio.sleep(delay)
        if state.get("fail"):
            raise RuntimeError(f"scripted failure in {name}")
        get_stream_writer()({"node": name, "count": state.get("count", 0) + 1})
        return {"count": state.get("count", 0) + 1, "log": [name]}

    return node


def _steps(n: int) -> Any:
    g = StateGraph(StepState)
    prev = START
    for i in range(n):
        name = f"n{i + 1}"
        g.add_node(name, _step(name))
        g.add_edge(prev, name)
        prev = name
    g.add_edge(prev, END)
    return g.compile()


steps3 = _steps(3)
steps10 = _steps(10)


# --- named_events: clew's named custom events from an async node, a subgraph's sync node and after both ----------
class NamedState(TypedDict, total=False):
    count: int


def _named(n: int) -> Any:
    def emit(state: NamedState) -> dict[str, Any]:
        get_stream_writer()({"node": n})  # a plain custom chunk: sent only with the `custom` mode
        get_stream_writer()({"event": "todo", "data": {"n": n, "seen": state.get("count", 0)}})
        return {"count": state.get("count", 0) + 1}

    async def aemit(state: NamedState) -> dict[str, Any]:
        return emit(state)

    return emit if n == 2 else aemit  # n2 is a sync node: LangGraph runs it in a thread


_named_inner = StateGraph(NamedState)
_named_inner.add_node("n2", _named(2))
_named_inner.add_edge(START, "n2")
_named_outer = StateGraph(NamedState)
_named_outer.add_node("n1", _named(1))
_named_outer.add_node("inner", _named_inner.compile())
_named_outer.add_node("n3", _named(3))
_named_outer.add_edge(START, "n1")
_named_outer.add_edge("n1", "inner")
_named_outer.add_edge("inner", "n3")
named_events = _named_outer.compile()


# --- approval: a strong interrupt in the middle -------------------------------------------------------
class ApprovalState(TypedDict, total=False):
    topic: str
    plan: str
    decision: Any
    log: Annotated[list[str], operator.add]


async def _plan(state: ApprovalState) -> dict[str, Any]:
    return {"plan": f"plan for {state.get('topic', '?')}", "log": ["plan"]}


async def _ask(state: ApprovalState) -> dict[str, Any]:
    answer = interrupt({"question": "approve?", "plan": state["plan"]})
    return {"decision": answer, "log": ["ask"]}


async def _finish(state: ApprovalState) -> dict[str, Any]:
    return {"log": ["finish"]}


_appr = StateGraph(ApprovalState)
_appr.add_node("plan", _plan)
_appr.add_node("ask", _ask)
_appr.add_node("finish", _finish)
_appr.add_edge(START, "plan")
_appr.add_edge("plan", "ask")
_appr.add_edge("ask", "finish")
_appr.add_edge("finish", END)
approval = _appr.compile()


# --- nested: a subgraph, for namespaced events -------------------------------------------------------
class NestState(TypedDict, total=False):
    messages: Annotated[list[AnyMessage], add_messages]
    note: str


async def _inner(state: NestState) -> dict[str, Any]:
    return {"note": "inner done"}


_sub = StateGraph(NestState)
_sub.add_node("inner", _inner)
_sub.add_edge(START, "inner")
_sub.add_edge("inner", END)

_outer = StateGraph(NestState)
_outer.add_node("child", _sub.compile())
_outer.add_edge(START, "child")
_outer.add_edge("child", END)
nested = _outer.compile()


# --- fanout: Send branches ----------------------------------------------------------------------------
class FanState(TypedDict, total=False):
    items: list[str]
    results: Annotated[list[str], operator.add]
    delay: float


async def _work(arg: dict[str, Any]) -> dict[str, Any]:
    if arg.get("delay"):
        await asyncio.sleep(arg["delay"])
    return {"results": [arg["item"].upper()]}


def _route(state: FanState) -> list[Send]:
    return [Send("work", {"item": i, "delay": state.get("delay", 0)}) for i in state.get("items", [])]


_fan = StateGraph(FanState)
_fan.add_node("work", _work)
_fan.add_conditional_edges(START, _route, ["work"])
_fan.add_edge("work", END)
fanout = _fan.compile()
