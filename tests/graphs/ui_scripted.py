"""Scripted graphs for the browser tests of the web UI (served through tests/langgraph.json).

``slow_chat`` answers every message with a fixed text streamed one word at a time, with a pause between
words (one chunk per word and per space), so a test can reload the page or kill the server while tokens are still arriving. The message id is
derived from the conversation, so a rerun of the node after a crash streams the same message again.

``chart_demo`` returns a fixed query result and the Vega-Lite chart the data mode chooses for it
(``nodes.data.results.chart_for``), so the page's chart rendering is tested with the server's own specs.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGenerationChunk
from langgraph.graph import END, START, MessagesState, StateGraph
from typing_extensions import TypedDict

from nodes.data.results import chart_for

SLOW_ANSWER = (
    "Clew keeps every session on a thread you can always get back to, "
    "so a reload or a restart never loses a word of this answer."
)
WORD_DELAY = 0.12  # seconds before each streamed chunk (words and the spaces between them)


class SlowFakeChatModel(GenericFakeChatModel):
    """GenericFakeChatModel that waits ``delay`` seconds before each streamed chunk."""

    delay: float = WORD_DELAY

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        async for chunk in super()._astream(messages, stop=stop, run_manager=run_manager, **kwargs):
            await asyncio.sleep(self.delay)
            yield chunk


async def _reply(state: MessagesState) -> dict[str, Any]:
    turn = sum(1 for m in state["messages"] if m.type == "human")
    model = SlowFakeChatModel(messages=iter([AIMessage(content=SLOW_ANSWER, id=f"slow-answer-{turn}")]))
    chunks = [chunk async for chunk in model.astream(state["messages"])]
    msg = chunks[0]
    for c in chunks[1:]:
        msg = msg + c
    return {"messages": [AIMessage(content=msg.content, id=f"slow-answer-{turn}")]}


_g = StateGraph(MessagesState)
_g.add_node("reply", _reply)
_g.add_edge(START, "reply")
_g.add_edge("reply", END)
slow_chat = _g.compile()


# --- chart_demo: a query result and the chart the data mode would choose for it --------------------------
class ChartState(TypedDict, total=False):
    question: str
    result: dict[str, Any]
    chart: dict[str, Any]


CHART_RESULT: dict[str, Any] = {
    "columns": [{"name": "keeper", "kind": "nominal"}, {"name": "rescues", "kind": "quantitative"}],
    "rows": [["Ada Brennholt", 11], ["Jon Tarr", 4], ["Mira Selk", 7]],
}


async def _result(state: ChartState) -> dict[str, Any]:
    return {"result": CHART_RESULT, "chart": chart_for(CHART_RESULT, title=state.get("question") or "")}


_c = StateGraph(ChartState)
_c.add_node("result", _result)
_c.add_edge(START, "result")
_c.add_edge("result", END)
chart_demo = _c.compile()
