"""Structured output on models without a JSON mode: JSON in prose or code fences, repair, bounded retries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import pytest_asyncio
from langchain_core.language_models.fake_chat_models import FakeListChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from pydantic import BaseModel, Field

from providers.models import get_model
from providers.structured import StructuredOutputError, extract_json, parse_as, structured
from tests.support.openai_stub import OpenAIStub, Reply


class Plan(BaseModel):
    queries: list[str] = Field(min_length=1)
    depth: int


@pytest_asyncio.fixture(scope="module")
async def stub() -> AsyncIterator[OpenAIStub]:
    async with OpenAIStub() as server:
        yield server


@pytest.mark.parametrize(
    "reply",
    [
        '{"queries": ["a", "b"], "depth": 2}',
        'Sure! Here is the plan:\n```json\n{"queries": ["a", "b"], "depth": 2,}\n```\nHope that helps.',
        "```\n{'queries': ['a', 'b'], 'depth': 2}\n```",
        'The plan is {"queries": ["a", "b"], "depth": 2} as requested.',
        '<think>need {braces} here</think>{"queries": ["a", "b"], // two\n "depth": 2}',
        '{"queries": ["a", "b"], "depth": 2',  # unclosed
        '[{"queries": ["a", "b"], "depth": 2}]',
        '{queries: ["a", "b"], depth: 2}',
    ],
)
def test_parse_repairs_common_breakage(reply: str) -> None:
    assert parse_as(Plan, reply) == Plan(queries=["a", "b"], depth=2)


def test_extract_json_keeps_braces_inside_strings() -> None:
    assert extract_json('noise {"text": "a } b { c", "n": 1} trailing }') == {"text": "a } b { c", "n": 1}


def test_no_json_is_an_error() -> None:
    with pytest.raises(ValueError):
        extract_json("I cannot help with that.")


async def test_structured_over_stub_server_with_fenced_prose(stub: OpenAIStub) -> None:
    stub.script(
        "json-1",
        Reply(content='Of course.\n```json\n{"queries": ["lithium water use", "brine"], "depth": 3,}\n```'),
    )
    model = get_model(
        {"llm.provider": "openai", "llm.base_url": stub.base_url, "llm.default_model": "json-1"}
    )
    assert model is not None
    plan = await structured(model, Plan, [SystemMessage("You plan research."), HumanMessage("Plan lithium")])
    assert plan == Plan(queries=["lithium water use", "brine"], depth=3)
    sent = stub.requests[-1]["messages"]
    assert sent[0]["role"] == "system" and "You plan research." in sent[0]["content"]
    assert '"queries"' in sent[0]["content"]  # the schema travels in the one system message
    assert len([m for m in sent if m["role"] == "system"]) == 1


async def test_invalid_then_valid_retries_with_feedback(stub: OpenAIStub) -> None:
    stub.script(
        "json-2",
        Reply(content='{"queries": [], "depth": "deep"}'),
        Reply(content='{"queries": ["x"], "depth": 1}'),
    )
    model = get_model(
        {"llm.provider": "openai", "llm.base_url": stub.base_url, "llm.default_model": "json-2"}
    )
    assert model is not None
    plan = await structured(model, Plan, "Plan something")
    assert plan.queries == ["x"]
    assert stub.calls("json-2") == 2
    retry_messages = stub.requests[-1]["messages"]
    assert retry_messages[-2]["role"] == "assistant"
    assert "did not match the schema" in retry_messages[-1]["content"]


async def test_gives_up_after_bounded_attempts() -> None:
    model = FakeListChatModel(responses=["no json here", "still none", "nope", "never"])
    with pytest.raises(StructuredOutputError) as info:
        await structured(model, Plan, "Plan", retries=2)
    assert info.value.last_output == "nope"  # three attempts: 1 + 2 retries
