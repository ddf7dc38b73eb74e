"""A chat graph with a (slow) tool call, for rollback and cancel tests of the runtime core.

``agent`` answers a human message with an AI message that calls the ``lookup`` tool; ``tool`` sleeps for the
state's ``delay`` and answers the call; ``agent`` then streams a final answer through a fake chat model. A run
stopped while the tool sleeps leaves an AI message with an unanswered tool call in the checkpoints: exactly
what a rollback must remove.
"""

from __future__ import annotations

import asyncio
from typing import Any, NotRequired

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, AnyMessage, ToolMessage
from langgraph.graph import END, START, MessagesState, StateGraph


class ToolChatState(MessagesState):
    delay: NotRequired[float]


def _last(messages: list[AnyMessage]) -> AnyMessage | None:
    return messages[-1] if messages else None


async def _agent(state: ToolChatState) -> dict[str, Any]:
    last = _last(state["messages"])
    if isinstance(last, ToolMessage):
        model = GenericFakeChatModel(messages=iter([AIMessage(content=f"Found: {last.content}")]))
        return {"messages": [await model.ainvoke(state["messages"])]}
    question = str(last.content) if last is not None else ""
    call_id = f"call_{len(state['messages'])}"
    return {"messages": [AIMessage(content="", tool_calls=[{"name": "lookup", "args": {"q": question}, "id": call_id}])]}


async def _tool(state: ToolChatState) -> dict[str, Any]:
    last = _last(state["messages"])
    assert isinstance(last, AIMessage) and last.tool_calls
    delay = state.get("delay") or 0.0
    if delay:
        await asyncio.sleep(delay)
    call = last.tool_calls[0]
    return {"messages": [ToolMessage(content=f"result for {call['args']['q']}", tool_call_id=call["id"])]}


def _route(state: ToolChatState) -> str:
    last = _last(state["messages"])
    return "tool" if isinstance(last, AIMessage) and last.tool_calls else END


_g = StateGraph(ToolChatState)
_g.add_node("agent", _agent)
_g.add_node("tool", _tool)
_g.add_edge(START, "agent")
_g.add_conditional_edges("agent", _route, ["tool", END])
_g.add_edge("tool", "agent")
toolchat = _g.compile()
