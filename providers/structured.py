"""Structured output from any chat model, including ones without a JSON mode or tool calling.

:func:`structured` asks for a JSON object matching a Pydantic model's schema, then takes the JSON out of
whatever came back -- reasoning in ``<think>`` tags, code fences, prose around it -- repairs the usual breakage
(trailing commas, single quotes, comments, unquoted keys, Python literals, a missing closing bracket) with the
``json-repair`` library, and validates it with the model. When that fails it tells the model what was wrong
and asks again, a bounded number of times, then raises :class:`StructuredOutputError`.

This works the same on every provider and every OpenAI-compatible server, which native structured output
(``with_structured_output``) does not; the cost is a schema in the prompt.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, TypeVar

import json_repair
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from pydantic import BaseModel, ValidationError

T = TypeVar("T", bound=BaseModel)

_THINK = re.compile(r"<think>.*?</think>", re.DOTALL | re.IGNORECASE)
_FENCE = re.compile(r"```[ \t]*(?:json|JSON|json5)?[ \t]*\n?(.*?)```", re.DOTALL)


class StructuredOutputError(ValueError):
    """The model did not produce valid output for the schema within the allowed attempts."""

    def __init__(self, message: str, *, last_output: str = "") -> None:
        super().__init__(message)
        self.last_output = last_output


def _balanced(text: str, start: int) -> str | None:
    """The bracketed JSON value starting at ``text[start]`` (respecting strings), or None if unclosed."""
    opening = text[start]
    closing = "}" if opening == "{" else "]"
    depth = 0
    in_string = False
    quote = ""
    escaped = False
    for i in range(start, len(text)):
        ch = text[i]
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == quote:
                in_string = False
        elif ch in "\"'":
            in_string, quote = True, ch
        elif ch == opening:
            depth += 1
        elif ch == closing:
            depth -= 1
            if depth == 0:
                return text[start : i + 1]
    return None


def extract_json(text: str) -> Any:
    """The JSON value in a model's reply, repaired if needed; raises ValueError when there is none."""
    text = _THINK.sub("", text).strip()
    candidates: list[str] = []
    fence = _FENCE.search(text)
    if fence:
        candidates.append(fence.group(1).strip())
    candidates.append(text)
    for cand in candidates:
        try:
            return json.loads(cand)
        except ValueError:
            pass
        starts = [i for i in (cand.find("{"), cand.find("[")) if i >= 0]
        if not starts:
            continue
        start = min(starts)
        body = _balanced(cand, start) or cand[start:]  # unclosed: let the repair close it
        try:
            return json.loads(body)
        except ValueError:
            pass
        repaired = json_repair.loads(body)
        if repaired not in ("", None) and isinstance(repaired, dict | list):
            return repaired
    raise ValueError("no JSON object found in the reply")


def _instruction(schema: type[BaseModel]) -> str:
    return (
        "Reply with one JSON object and nothing else: no prose, no code fences. It must conform to this JSON "
        f"Schema:\n{json.dumps(schema.model_json_schema(), ensure_ascii=False)}"
    )


def _with_instruction(messages: Sequence[BaseMessage], schema: type[BaseModel]) -> list[BaseMessage]:
    instruction = _instruction(schema)
    msgs = list(messages)
    if msgs and isinstance(msgs[0], SystemMessage) and isinstance(msgs[0].content, str):
        return [SystemMessage(content=f"{msgs[0].content}\n\n{instruction}"), *msgs[1:]]
    return [SystemMessage(content=instruction), *msgs]


def _reply_text(message: BaseMessage) -> str:
    if isinstance(message.content, str):
        return message.content
    return "".join(
        b if isinstance(b, str) else str(b.get("text", ""))
        for b in message.content
        if isinstance(b, str | dict)
    )


def parse_as(schema: type[T], text: str) -> T:
    """Validate the JSON in ``text`` against ``schema`` (a lone object in a list is unwrapped)."""
    data = extract_json(text)
    if isinstance(data, list) and len(data) == 1 and isinstance(data[0], dict):
        data = data[0]
    return schema.model_validate(data)


async def structured(
    model: BaseChatModel,
    schema: type[T],
    messages: Sequence[BaseMessage] | str,
    *,
    retries: int = 2,
    config: RunnableConfig | None = None,
) -> T:
    """Ask ``model`` for an instance of ``schema``; at most ``1 + retries`` calls.

    ``messages`` may be a plain string (one user message). ``config`` is passed to each call (callbacks,
    tags), so usage accounting and tracing see these calls like any other.
    """
    msgs: list[BaseMessage] = (
        [HumanMessage(content=messages)] if isinstance(messages, str) else list(messages)
    )
    convo = _with_instruction(msgs, schema)
    last = ""
    problem = ""
    for _ in range(retries + 1):
        reply = await model.ainvoke(convo, config=config)
        last = _reply_text(reply)
        try:
            return parse_as(schema, last)
        except ValidationError as exc:
            problem = f"The JSON did not match the schema: {str(exc.errors(include_url=False))[:1500]}"
        except ValueError as exc:
            problem = f"The reply was not valid JSON ({exc})."
        convo = [
            *convo,
            AIMessage(content=last),
            HumanMessage(content=f"{problem} Reply again with only the corrected JSON object."),
        ]
    raise StructuredOutputError(
        f"{schema.__name__}: no valid output after {retries + 1} attempts; last problem: {problem}",
        last_output=last,
    )
