"""Models by role against a local OpenAI-compatible stub server: plain and streamed answers, tool calls,
retries on 429 / timeouts, fallback on 500, usage per LangGraph node, embeddings, rate-limit wiring."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import pytest
import pytest_asyncio
from langchain_core.messages import AIMessageChunk, HumanMessage
from langchain_core.tools import tool
from langgraph.graph import END, START, MessagesState, StateGraph
from pydantic import BaseModel

from providers.models import ModelConfigError, get_embeddings, get_model, has_model, model_name_for
from providers.ratelimit import limits_for, provider_key
from providers.resilient import ResilientChatModel
from providers.retry import backoff_delay, is_retryable, retry_after
from providers.usage import UsageTracker
from tests.support.openai_stub import OpenAIStub, Reply


@pytest_asyncio.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub() as server:
        yield server


def cfg(stub: OpenAIStub, model: str, **extra: Any) -> dict[str, Any]:
    return {"llm.provider": "openai", "llm.base_url": stub.base_url, "llm.default_model": model, **extra}


# -- configuration --------------------------------------------------------------------------------------


def test_no_model_means_offline() -> None:
    assert get_model(None, "smart") is None
    assert get_model({"llm.provider": "offline", "llm.default_model": "gpt-4o"}, "fast") is None
    assert get_model({"llm.provider": "openai"}, "smart") is None  # no model name
    assert not has_model({"llm.provider": "openai"})
    assert get_embeddings({"llm.provider": "openai", "llm.default_model": "m"}) is None


def test_role_model_names() -> None:
    values = {"llm.default_model": "base", "llm.fast_model": "quick", "llm.strategic_model": ""}
    assert model_name_for(values, "fast") == "quick"
    assert model_name_for(values, "smart") == "base"
    assert model_name_for(values, "strategic") == "base"
    with pytest.raises(ValueError):
        model_name_for(values, "huge")  # type: ignore[arg-type]


def test_role_models_are_distinct_and_cached(stub: OpenAIStub) -> None:
    values = cfg(stub, "base", **{"llm.fast_model": "quick", "llm.fallback_model": "spare"})
    fast = get_model(values, "fast")
    smart = get_model(values, "smart")
    assert isinstance(fast, ResilientChatModel) and isinstance(smart, ResilientChatModel)
    assert fast.model_name == "quick" and smart.model_name == "base"
    assert fast.fallback_model_name == "spare"
    assert get_model(dict(values), "fast") is fast  # equal settings, one instance


def test_unavailable_provider_is_a_clear_error() -> None:
    with pytest.raises(ModelConfigError, match="langchain-anthropic"):
        get_model({"llm.provider": "anthropic", "llm.default_model": "claude-x"}, "smart")
    with pytest.raises(ModelConfigError, match="nosuchprovider"):
        get_model({"llm.provider": "nosuchprovider", "llm.default_model": "m"}, "smart")


# -- calls against the stub -----------------------------------------------------------------------------


async def test_plain_answer_with_usage(stub: OpenAIStub) -> None:
    model = get_model(cfg(stub, "plain-1"), "smart")
    assert model is not None
    tracker = UsageTracker({"llm.prices": {"plain-1": {"input": 1.0, "output": 2.0}}})
    reply = await model.ainvoke([HumanMessage("hello there")], config={"callbacks": [tracker]})
    assert reply.content == "stub reply: hello there"
    assert reply.usage_metadata is not None and reply.usage_metadata["input_tokens"] == 10
    assert reply.response_metadata["clew_model"] == "plain-1"
    total = tracker.total()
    assert (total.calls, total.input_tokens, total.output_tokens) == (1, 10, 4)
    assert total.cost_usd == pytest.approx((10 * 1.0 + 4 * 2.0) / 1e6)
    assert not tracker.records[0].estimated


async def test_streaming_answer(stub: OpenAIStub) -> None:
    stub.script("stream-1", Reply(content="one two three four"))
    model = get_model(cfg(stub, "stream-1"), "fast")
    assert model is not None
    tracker = UsageTracker()
    chunks = [c async for c in model.astream("go", config={"callbacks": [tracker]})]
    assert len([c for c in chunks if c.content]) == 4
    assert "".join(str(c.content) for c in chunks) == "one two three four"
    assert stub.requests[-1]["stream"] is True
    record = tracker.records[0]
    assert (record.model, record.input_tokens, record.output_tokens, record.estimated) == (
        "stream-1",
        10,
        4,
        False,
    )


async def test_tool_calls_plain_and_streamed(stub: OpenAIStub) -> None:
    @tool
    def get_weather(city: str) -> str:
        """Current weather of a city."""
        return f"sunny in {city}"

    model = get_model(cfg(stub, "tools-1"), "smart")
    assert model is not None
    bound = model.bind_tools([get_weather])
    stub.script("tools-1", Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Paris"}}]))
    msg = await bound.ainvoke("weather in Paris?")
    assert msg.tool_calls[0]["name"] == "get_weather" and msg.tool_calls[0]["args"] == {"city": "Paris"}
    sent = stub.requests[-1]
    assert sent["tools"][0]["function"]["name"] == "get_weather"

    stub.script("tools-1", Reply(tool_calls=[{"name": "get_weather", "arguments": {"city": "Oslo"}}]))
    merged: AIMessageChunk | None = None
    async for chunk in bound.astream("weather in Oslo?"):
        merged = chunk if merged is None else merged + chunk
    assert merged is not None
    assert merged.tool_calls[0]["name"] == "get_weather" and merged.tool_calls[0]["args"] == {"city": "Oslo"}
    assert await get_weather.ainvoke(merged.tool_calls[0]["args"]) == "sunny in Oslo"


async def test_429_then_success_is_retried(stub: OpenAIStub) -> None:
    stub.script("limited-1", Reply(status=429, headers={"retry-after": "0"}), Reply(content="finally"))
    model = get_model(cfg(stub, "limited-1"), "smart")
    assert model is not None
    reply = await model.ainvoke("hi")
    assert reply.content == "finally"
    assert stub.calls("limited-1") == 2

    stub.script("limited-2", Reply(status=429, headers={"retry-after-ms": "0"}), Reply(content="streamed ok"))
    model2 = get_model(cfg(stub, "limited-2"), "smart")
    assert model2 is not None
    text = "".join([str(c.content) async for c in model2.astream("hi")])
    assert text == "streamed ok"
    assert stub.calls("limited-2") == 2


async def test_500_then_fallback_model(stub: OpenAIStub) -> None:
    stub.fail_always("broken-1", 500)
    stub.script("spare-1", Reply(content="the fallback answers"), Reply(content="fallback streams"))
    values = cfg(stub, "broken-1", **{"llm.fallback_model": "spare-1", "llm.max_retries": 1})
    model = get_model(values, "smart")
    assert model is not None
    tracker = UsageTracker()
    reply = await model.ainvoke("hi", config={"callbacks": [tracker]})
    assert reply.content == "the fallback answers"
    assert reply.response_metadata["clew_model"] == "spare-1"
    assert stub.calls("broken-1") == 2  # first try and one retry
    assert stub.calls("spare-1") == 1
    assert tracker.records[0].model == "spare-1"

    text = "".join([str(c.content) async for c in model.astream("hi")])
    assert text == "fallback streams"
    assert stub.calls("broken-1") == 4


async def test_client_errors_are_not_retried_and_surface_without_fallback(stub: OpenAIStub) -> None:
    stub.script("bad-request-1", Reply(status=400))
    model = get_model(cfg(stub, "bad-request-1", **{"llm.fallback_model": "spare-2"}), "smart")
    assert model is not None
    reply = await model.ainvoke("hi")
    assert stub.calls("bad-request-1") == 1
    assert reply.response_metadata["clew_model"] == "spare-2"

    stub.fail_always("down-1", 503)
    alone = get_model(cfg(stub, "down-1", **{"llm.max_retries": 0}), "smart")
    assert alone is not None
    with pytest.raises(Exception) as info:
        await alone.ainvoke("hi")
    assert getattr(info.value, "status_code", None) == 503
    assert stub.calls("down-1") == 1


async def test_timeout_is_retried(stub: OpenAIStub) -> None:
    stub.script("slow-1", Reply(content="too late", delay=2.5), Reply(content="in time"))
    model = get_model(cfg(stub, "slow-1", **{"llm.timeout_seconds": 1.0}), "smart")
    assert model is not None
    reply = await model.ainvoke("hi")
    assert reply.content == "in time"
    assert stub.calls("slow-1") == 2


async def test_langgraph_streams_tokens_once_and_usage_per_node(stub: OpenAIStub) -> None:
    stub.script("graph-1", Reply(content="alpha beta gamma"), Reply(content="delta epsilon"))
    model = get_model(cfg(stub, "graph-1"), "smart")
    assert model is not None

    async def answer(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def review(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = (
        StateGraph(MessagesState)
        .add_node("answer", answer)
        .add_node("review", review)
        .add_edge(START, "answer")
        .add_edge("answer", "review")
        .add_edge("review", END)
        .compile()
    )
    tracker = UsageTracker()
    tokens: dict[str, str] = {}
    async for chunk, meta in graph.astream(
        {"messages": [HumanMessage("start")]}, stream_mode="messages", config={"callbacks": [tracker]}
    ):
        node = meta["langgraph_node"]
        tokens[node] = tokens.get(node, "") + str(chunk.content)
    assert tokens == {"answer": "alpha beta gamma", "review": "delta epsilon"}
    by_node = tracker.by_node()
    assert by_node["answer"].output_tokens == 3 and by_node["review"].output_tokens == 2
    assert by_node["review"].input_tokens == 20  # two messages in the prompt by then
    assert tracker.total().calls == 2


async def test_embeddings_through_base_url(stub: OpenAIStub) -> None:
    emb = get_embeddings(cfg(stub, "", **{"llm.embedding_model": "embed-1"}))
    assert emb is not None
    vectors = await emb.aembed_documents(["first text", "second text"])
    assert len(vectors) == 2 and len(vectors[0]) == 8
    assert vectors[0] != vectors[1]
    assert await emb.aembed_query("first text") == pytest.approx(vectors[0])
    assert stub.requests[-1]["input"] == ["first text"]  # raw text, not tiktoken ids


# -- rate limits and retry rules ------------------------------------------------------------------------


async def test_rate_limiter_configuration(stub: OpenAIStub) -> None:
    key = provider_key("openai", stub.base_url)
    first = limits_for(key, 2, 0)
    assert limits_for(key, 2, 0) is first  # process-wide: shared
    assert first.requests is not None and first.requests.max_rate == 2 and first.tokens is None
    changed = limits_for(key, 3, 500)
    assert changed is not first and changed.tokens is not None and changed.tokens.max_rate == 500
    assert limits_for(provider_key("openai", stub.base_url + "/"), 3, 500) is changed

    values = cfg(stub, "limited-rpm", **{"llm.requests_per_minute": 2, "llm.tokens_per_minute": 100_000})
    model = get_model(values, "fast")
    assert model is not None
    await model.ainvoke("one")
    await model.ainvoke("two")
    shared = limits_for(key, 2, 100_000)
    assert shared.requests is not None and not shared.requests.has_capacity()  # both requests were taken
    assert shared.tokens is not None and not shared.tokens.has_capacity(100_000)  # tokens were charged
    unlimited = get_model(cfg(stub, "free-1"), "fast")
    assert isinstance(unlimited, ResilientChatModel) and unlimited._limits() is None


class _Resp:
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        self.status_code = status
        self.headers = headers or {}


class _HttpError(Exception):
    def __init__(self, status: int, headers: dict[str, str] | None = None) -> None:
        super().__init__(f"http {status}")
        self.response = _Resp(status, headers)


class ReadTimeout(Exception):
    pass


def test_retry_rules() -> None:
    assert is_retryable(_HttpError(429)) and is_retryable(_HttpError(503)) and is_retryable(_HttpError(408))
    assert not is_retryable(_HttpError(400)) and not is_retryable(_HttpError(401))
    assert (
        is_retryable(TimeoutError()) and is_retryable(ConnectionResetError()) and is_retryable(ReadTimeout())
    )
    assert not is_retryable(ValueError("bad"))
    assert retry_after(_HttpError(429, {"retry-after": "2"})) == 2.0
    assert retry_after(_HttpError(429, {"retry-after-ms": "250"})) == 0.25
    assert backoff_delay(0, _HttpError(429, {"retry-after": "3"})) == 3.0
    assert backoff_delay(0, _HttpError(429, {"retry-after": "999"}), maximum=20) <= 0.5  # asks too much
    for attempt in range(8):
        d = backoff_delay(attempt, initial=0.5, maximum=20.0)
        assert 0.25 <= d <= min(20.0, 0.5 * 2**attempt)


async def test_broken_stream_is_not_replayed(stub: OpenAIStub) -> None:
    stub.script("cut-1", Reply(content="first second third fourth", break_after=2))
    model = get_model(cfg(stub, "cut-1", **{"llm.fallback_model": "spare-3"}), "smart")
    assert model is not None
    received: list[str] = []
    with pytest.raises(Exception):  # noqa: B017 - whatever the transport raises for a cut connection
        async for chunk in model.astream("hi"):
            received.append(str(chunk.content))
    assert "".join(received) == "first second"  # what arrived is not repeated, nothing is appended
    assert stub.calls("cut-1") == 1 and stub.calls("spare-3") == 0


async def test_native_structured_output_and_sync_api(stub: OpenAIStub) -> None:
    class Answer(BaseModel):
        verdict: str
        confidence: float

    model = get_model(cfg(stub, "native-1"), "smart")
    assert model is not None
    stub.script(
        "native-1", Reply(tool_calls=[{"name": "Answer", "arguments": {"verdict": "yes", "confidence": 0.9}}])
    )
    result = await model.with_structured_output(Answer).ainvoke("is it?")
    assert result == Answer(verdict="yes", confidence=0.9)

    stub.script("native-1", Reply(status=429, headers={"retry-after": "0"}), Reply(content="sync works"))
    reply = await asyncio.to_thread(model.invoke, "hi")
    assert reply.content == "sync works" and stub.calls("native-1") == 3
