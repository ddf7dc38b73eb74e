"""Usage and cost: token counts from responses or offline estimates, prices, per-node sums, stored usage,
per-user daily sums and the budget check (against a real Postgres scratch database)."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import psycopg
import pytest
import pytest_asyncio
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage
from langgraph.graph import END, START, MessagesState, StateGraph
from psycopg.rows import dict_row

import providers.usage as usage_mod
from api.errors import status_of
from config_schema.categories.llm import DEFAULT_PRICES
from engine.budget import BudgetExceeded, check_budget
from persistence.migrations import migrate
from persistence.usage import (
    record_many,
    record_usage,
    run_usage,
    spent_today,
    thread_usage,
    usage_sink,
    user_usage_today,
)
from providers.usage import (
    CHARS_PER_TOKEN,
    UsageRecord,
    UsageTracker,
    cost_usd,
    count_message_tokens,
    count_tokens,
    price_for,
)
from tests.support.pg import create_database, drop_database
from tests.support.providers import tokenizer_available

# -- prices and token estimates --------------------------------------------------------------------------


def test_price_lookup_and_cost() -> None:
    prices = {
        "gpt-4o": {"input": 2.5, "output": 10},
        "gpt-4o-mini": {"input": 0.15, "output": 0.6},
        "bad": "x",
    }
    assert price_for(prices, "gpt-4o") == (2.5, 10.0)
    assert price_for(prices, "gpt-4o-mini-2024-07-18") == (0.15, 0.6)  # longest prefix wins
    assert price_for(prices, "openai:gpt-4o") == (2.5, 10.0)
    assert price_for(prices, "llama3") is None and price_for(prices, "bad") is None
    assert cost_usd(prices, "gpt-4o", 1_000_000, 100_000) == pytest.approx(3.5)
    assert cost_usd(prices, "unknown", 10, 10) == 0.0
    assert price_for(DEFAULT_PRICES, "gpt-4.1-mini") == (0.4, 1.6)


def test_token_estimate_without_cached_encoding_never_downloads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import tiktoken.load

    def no_network(*args: Any, **kwargs: Any) -> bytes:
        raise AssertionError("tiktoken tried to fetch an encoding")

    monkeypatch.setattr(tiktoken.load, "read_file", no_network)
    monkeypatch.setenv("TIKTOKEN_CACHE_DIR", str(tmp_path))
    usage_mod._load_encoding.cache_clear()
    try:
        assert not tokenizer_available("gpt-4o")
        assert count_tokens("x" * 41, "gpt-4o") == 11 == -(-41 // CHARS_PER_TOKEN)
        assert count_tokens("", "gpt-4o") == 0
        # A corrupt cached file is ignored too (tiktoken would delete it and download again).
        url = usage_mod._ENCODING_URL.format(name="o200k_base")
        (tmp_path / hashlib.sha1(url.encode()).hexdigest()).write_bytes(b"garbage")
        usage_mod._load_encoding.cache_clear()
        assert not tokenizer_available("gpt-4o")
        msgs = [HumanMessage("abcdefgh"), HumanMessage("abcd")]
        assert count_message_tokens(msgs) == 2 + 1 + 2 * usage_mod.MESSAGE_OVERHEAD_TOKENS
    finally:
        usage_mod._load_encoding.cache_clear()


async def test_tracker_estimates_when_server_reports_nothing_and_sums_per_node() -> None:
    model = FakeListChatModel(responses=["a" * 40, "b" * 8])

    async def plan(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    async def write(state: MessagesState) -> dict[str, Any]:
        return {"messages": [await model.ainvoke(state["messages"])]}

    graph = (
        StateGraph(MessagesState)
        .add_node("plan", plan)
        .add_node("write", write)
        .add_edge(START, "plan")
        .add_edge("plan", "write")
        .add_edge("write", END)
        .compile()
    )
    seen: list[UsageRecord] = []

    async def sink(record: UsageRecord) -> None:
        seen.append(record)

    tracker = UsageTracker({"llm.prices": {"": {"input": 1.0, "output": 1.0}}}, sink=sink)
    await graph.ainvoke({"messages": [HumanMessage("q" * 16)]}, config={"callbacks": [tracker]})
    nodes = tracker.by_node()
    assert set(nodes) == {"plan", "write"}
    assert all(r.estimated for r in tracker.records)
    assert nodes["plan"].output_tokens == count_tokens("a" * 40)
    assert nodes["write"].output_tokens == count_tokens("b" * 8)
    assert nodes["write"].input_tokens > nodes["plan"].input_tokens  # the prompt grew by one answer
    assert seen == tracker.records
    summary = tracker.summary()
    assert summary["total"]["calls"] == 2 and set(summary["by_node"]) == {"plan", "write"}


# -- stored usage and budgets ------------------------------------------------------------------------------


@pytest_asyncio.fixture(scope="module")
async def db() -> AsyncIterator[str]:
    """A migrated scratch database for this module (swap for a shared fixture when one exists)."""
    url = create_database("clew_usage")
    try:
        async with await psycopg.AsyncConnection.connect(url, autocommit=True) as conn:
            await migrate(conn)
            assert await migrate(conn) == []  # idempotent
        yield url
    finally:
        drop_database(url)


@pytest_asyncio.fixture
async def conn(db: str) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
    async with await psycopg.AsyncConnection.connect(db, autocommit=True, row_factory=dict_row) as c:
        yield c


async def test_record_and_sum_usage(conn: psycopg.AsyncConnection[Any]) -> None:
    user = f"u-{uuid.uuid4().hex[:6]}"
    run, thread = uuid.uuid4(), uuid.uuid4()
    await record_usage(
        conn,
        user_id=user,
        run_id=run,
        thread_id=thread,
        node="plan",
        model="m",
        input_tokens=100,
        output_tokens=20,
        cost_usd=0.25,
    )
    await record_many(
        conn,
        [
            UsageRecord(node="write", model="m", input_tokens=50, output_tokens=30, cost_usd=0.5),
            UsageRecord(
                node="write", model="n", input_tokens=5, output_tokens=5, cost_usd=0.0, estimated=True
            ),
        ],
        user_id=user,
        run_id=run,
        thread_id=thread,
    )
    yesterday = datetime.now(UTC) - timedelta(days=1, hours=1)
    await record_usage(conn, user_id=user, thread_id=thread, model="m", cost_usd=9.0, created_at=yesterday)
    await record_usage(conn, user_id="someone-else", cost_usd=7.0)

    assert await spent_today(conn, user) == pytest.approx(0.75)
    by_node = await run_usage(conn, run)
    assert set(by_node) == {"plan", "write"}
    assert (by_node["write"].calls, by_node["write"].input_tokens, by_node["write"].output_tokens) == (
        2,
        55,
        35,
    )
    total = await thread_usage(conn, thread)
    assert total.calls == 4 and total.cost_usd == pytest.approx(9.75)
    today = await user_usage_today(conn, user)
    assert today["m"].cost_usd == pytest.approx(0.75) and today["n"].calls == 1
    assert await spent_today(conn, "nobody") == 0.0


async def test_budget_refuses_when_spent(db: str) -> None:
    from psycopg_pool import AsyncConnectionPool

    user = f"b-{uuid.uuid4().hex[:6]}"
    async with AsyncConnectionPool(db, min_size=1, max_size=2, kwargs={"autocommit": True}) as pool:
        assert await check_budget(pool, user, None) is None  # unlimited by default: no query needed
        values = {"budget.daily_usd": 1.0}
        assert await check_budget(pool, user, values) == pytest.approx(1.0)
        tracker = UsageTracker(
            {"llm.prices": {"fake": {"input": 0.0, "output": 250_000.0}}},
            sink=usage_sink(pool, user_id=user, run_id=uuid.uuid4()),
        )
        model = FakeListChatModel(responses=["x" * 8])  # 2 estimated output tokens = $0.50
        await model.ainvoke("hi", config={"callbacks": [tracker], "metadata": {"ls_model_name": "fake"}})
        assert tracker.records[0].cost_usd == pytest.approx(0.5)
        assert await check_budget(pool, user, values) == pytest.approx(0.5)
        await model.ainvoke("hi", config={"callbacks": [tracker], "metadata": {"ls_model_name": "fake"}})
        with pytest.raises(BudgetExceeded) as info:
            await check_budget(pool, user, values)
        err = info.value
        assert status_of(err) == 429 and err.code == "budget_exceeded"
        assert err.body()["limit_usd"] == 1.0 and err.body()["spent_usd"] == pytest.approx(1.0)
        assert "budget" in err.detail
        assert await check_budget(pool, user, {"budget.daily_usd": 0}) is None  # 0 = unlimited
        assert await check_budget(pool, user, {"budget.daily_usd": 5.0}) == pytest.approx(4.0)
