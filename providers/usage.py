"""Token usage and cost of model calls: read from responses, estimated when absent, priced, summed.

:class:`UsageTracker` is a LangChain async callback handler. Attach one per run (``config["callbacks"]``);
it records every chat-model call with the LangGraph node it ran in (``metadata["langgraph_node"]``), and the
run engine reads :meth:`UsageTracker.total` and :meth:`UsageTracker.by_node` at the end, or passes a ``sink``
that stores each record as it happens (``persistence.usage.record_usage``) so budgets see spending at once.

Tokens come from the response's ``usage_metadata`` (or the provider's ``token_usage``). When a server reports
none, they are estimated with tiktoken -- but only from an encoding file already in tiktoken's cache, checked
against its known hash, because tiktoken fetches a missing file from the internet (and deletes and re-fetches
a corrupt one), which offline would fail or hang. Without a cached encoding the estimate is the documented
rule of thumb of one token per 4 characters (:data:`CHARS_PER_TOKEN`). To get exact counts offline, copy the
encoding files into ``TIKTOKEN_CACHE_DIR``.

Cost is tokens times the ``llm.prices`` table (USD per million tokens); unknown models cost 0.
"""

from __future__ import annotations

import asyncio
import hashlib
import math
import os
import tempfile
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any
from uuid import UUID

import structlog
from langchain_core.callbacks import AsyncCallbackHandler
from langchain_core.messages import BaseMessage
from langchain_core.outputs import ChatGeneration, LLMResult

from config_schema.access import setting
from domain.usage import UsageRecord, UsageSink, UsageTotals

log = structlog.get_logger("clew.providers")

CHARS_PER_TOKEN = 4
"""Fallback estimate: about 4 characters of English text per token (OpenAI's published rule of thumb)."""
MESSAGE_OVERHEAD_TOKENS = 4
"""Tokens a chat format adds around each message (role and separators), for estimates."""

_ENCODING_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
# sha256 of the encoding files tiktoken downloads (the hashes tiktoken itself checks).
_ENCODING_SHA256 = {
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
}
_DEFAULT_ENCODING = "o200k_base"


def _tiktoken_cache_dir() -> str:
    """The directory tiktoken reads cached encodings from (same rules as ``tiktoken.load``)."""
    if "TIKTOKEN_CACHE_DIR" in os.environ:
        return os.environ["TIKTOKEN_CACHE_DIR"]
    if "DATA_GYM_CACHE_DIR" in os.environ:
        return os.environ["DATA_GYM_CACHE_DIR"]
    return os.path.join(tempfile.gettempdir(), "data-gym-cache")


def _encoding_name(model: str | None) -> str:
    from tiktoken.model import encoding_name_for_model  # a dictionary lookup, no I/O

    if model:
        try:
            name = encoding_name_for_model(model.split(":", 1)[-1])
        except KeyError:
            name = _DEFAULT_ENCODING
        if name in _ENCODING_SHA256:
            return name
    return _DEFAULT_ENCODING


@lru_cache(maxsize=8)
def _load_encoding(name: str) -> Any:
    """The tiktoken encoding ``name`` if its file is cached locally and intact, else None (never downloads)."""
    cache_dir = _tiktoken_cache_dir()
    if not cache_dir:
        return None  # caching disabled: tiktoken would always download
    url = _ENCODING_URL.format(name=name)
    path = os.path.join(cache_dir, hashlib.sha1(url.encode()).hexdigest())
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    if hashlib.sha256(data).hexdigest() != _ENCODING_SHA256.get(name):
        return None  # tiktoken would delete it and download again
    try:
        import tiktoken

        return tiktoken.get_encoding(name)
    except Exception:  # pragma: no cover - defensive: any failure means "estimate by characters"
        log.warning("tiktoken encoding failed to load", encoding=name, exc_info=True)
        return None


def count_tokens(text: str, model: str | None = None) -> int:
    """Tokens in ``text``: tiktoken when its encoding is cached locally, else ``ceil(len / 4)``.

    May read an encoding file on first use; async callers run it in a worker thread.
    """
    if not text:
        return 0
    enc = _load_encoding(_encoding_name(model))
    if enc is not None:
        return len(enc.encode(text, disallowed_special=()))
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def quick_estimate(text: str) -> int:
    """The cheap ``ceil(len / 4)`` estimate (no I/O), for rate limiting before a call."""
    return math.ceil(len(text) / CHARS_PER_TOKEN) if text else 0


def message_text(message: BaseMessage) -> str:
    """The text a message sends: string content, text blocks, and tool-call arguments."""
    content = message.content
    if isinstance(content, str):
        parts = [content]
    else:
        parts = []
        for block in content:
            if isinstance(block, str):
                parts.append(block)
            elif isinstance(block, dict) and isinstance(block.get("text"), str):
                parts.append(block["text"])
    for call in getattr(message, "tool_calls", None) or []:
        parts.append(str(call.get("name", "")))
        parts.append(str(call.get("args", "")))
    return "\n".join(p for p in parts if p)


def count_message_tokens(messages: Sequence[BaseMessage], model: str | None = None) -> int:
    """Estimated prompt tokens of a message list (content plus a fixed per-message overhead)."""
    return sum(count_tokens(message_text(m), model) + MESSAGE_OVERHEAD_TOKENS for m in messages)


# ---------------------------------------------------------------------------------------------------------
# prices


def price_for(prices: Mapping[str, Any] | None, model: str) -> tuple[float, float] | None:
    """``(input, output)`` USD per million tokens for ``model``: exact key, else the longest prefix key.

    A ``provider:`` prefix on the model name is ignored; malformed entries are skipped.
    """
    if not prices or not model:
        return None
    names = [model]
    if ":" in model:
        names.append(model.split(":", 1)[1])
    for name in names:
        entry = prices.get(name)
        if entry is None:
            keys = sorted((k for k in prices if isinstance(k, str) and k and name.startswith(k)), key=len)
            entry = prices[keys[-1]] if keys else None
        if isinstance(entry, Mapping):
            try:
                return float(entry.get("input", 0.0) or 0.0), float(entry.get("output", 0.0) or 0.0)
            except (TypeError, ValueError):
                log.warning("malformed price entry", model=name)
                return None
    return None


def cost_usd(prices: Mapping[str, Any] | None, model: str, input_tokens: int, output_tokens: int) -> float:
    """The cost of one call in USD (0 for a model without a price)."""
    p = price_for(prices, model)
    if p is None:
        return 0.0
    return (input_tokens * p[0] + output_tokens * p[1]) / 1_000_000


# ---------------------------------------------------------------------------------------------------------
# accounting




def _usage_from_generation(gen: Any, llm_output: Mapping[str, Any] | None) -> tuple[int, int] | None:
    if isinstance(gen, ChatGeneration):
        um = getattr(gen.message, "usage_metadata", None)
        if um:
            return int(um.get("input_tokens", 0) or 0), int(um.get("output_tokens", 0) or 0)
    if llm_output:
        tu = llm_output.get("token_usage") or llm_output.get("usage")
        if isinstance(tu, Mapping) and ("prompt_tokens" in tu or "completion_tokens" in tu):
            return int(tu.get("prompt_tokens", 0) or 0), int(tu.get("completion_tokens", 0) or 0)
    return None


def _model_from_generation(gen: Any, llm_output: Mapping[str, Any] | None) -> str | None:
    if isinstance(gen, ChatGeneration):
        md = gen.message.response_metadata or {}
        for key in ("clew_model", "model_name", "model"):
            if isinstance(md.get(key), str) and md[key]:
                return str(md[key])
    if llm_output and isinstance(llm_output.get("model_name"), str):
        return str(llm_output["model_name"])
    return None


class UsageTracker(AsyncCallbackHandler):
    """Accumulates usage of every model call of a run, per LangGraph node and in total.

    ``values`` is the run's resolved configuration (for ``llm.prices``); ``sink`` (optional) receives each
    :class:`UsageRecord` as soon as its call ends, e.g. to store it for budget checks.

    It only listens to model calls: LangChain skips it for chain, agent and retriever events, and awaits it
    inline instead of gathering it as a task of its own — every run carries one, and each node's start and end
    cost a task per async handler otherwise (a tenth of LangGraph's CPU for a ten-node chain).
    """

    run_inline = True
    ignore_chain = True
    ignore_agent = True
    ignore_retriever = True
    ignore_custom_event = True

    def __init__(self, values: Mapping[str, Any] | None = None, *, sink: UsageSink | None = None) -> None:
        super().__init__()
        self.prices: Mapping[str, Any] = setting(values, "llm.prices") or {}
        self.sink = sink
        self.records: list[UsageRecord] = []
        self._pending: dict[UUID, tuple[str, str, list[BaseMessage]]] = {}

    # -- LangChain callbacks ------------------------------------------------------------------------------

    async def on_chat_model_start(
        self,
        serialized: dict[str, Any],
        messages: list[list[BaseMessage]],
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        md = metadata or {}
        params = kwargs.get("invocation_params") or {}
        model = str(md.get("ls_model_name") or params.get("model") or params.get("model_name") or "")
        self._pending[run_id] = (str(md.get("langgraph_node", "")), model, messages[0] if messages else [])

    async def on_llm_error(self, error: BaseException, *, run_id: UUID, **kwargs: Any) -> None:
        self._pending.pop(run_id, None)

    async def on_llm_end(self, response: LLMResult, *, run_id: UUID, **kwargs: Any) -> None:
        pending = self._pending.pop(run_id, None)
        if pending is None:
            return  # not a chat model this tracker saw start (e.g. a completion LLM)
        node, model, prompt = pending
        gen = response.generations[0][0] if response.generations and response.generations[0] else None
        model = _model_from_generation(gen, response.llm_output) or model
        usage = _usage_from_generation(gen, response.llm_output)
        estimated = usage is None or usage == (0, 0)
        if estimated:
            output_text = (
                message_text(gen.message) if isinstance(gen, ChatGeneration) else (gen.text if gen else "")
            )
            usage = await asyncio.to_thread(
                lambda: (count_message_tokens(prompt, model), count_tokens(output_text, model))
            )
        assert usage is not None
        record = UsageRecord(
            node=node,
            model=model,
            input_tokens=usage[0],
            output_tokens=usage[1],
            cost_usd=cost_usd(self.prices, model, usage[0], usage[1]),
            estimated=estimated,
        )
        self.records.append(record)
        if self.sink is not None:
            await self.sink(record)

    # -- reading ------------------------------------------------------------------------------------------

    def total(self) -> UsageTotals:
        totals = UsageTotals()
        for r in self.records:
            totals.add(r)
        return totals

    def by_node(self) -> dict[str, UsageTotals]:
        out: dict[str, UsageTotals] = {}
        for r in self.records:
            out.setdefault(r.node, UsageTotals()).add(r)
        return out

    def by_model(self) -> dict[str, UsageTotals]:
        out: dict[str, UsageTotals] = {}
        for r in self.records:
            out.setdefault(r.model, UsageTotals()).add(r)
        return out

    def summary(self) -> dict[str, Any]:
        """A JSON-ready summary: totals, per node and per model."""
        return {
            "total": self.total().model_dump(),
            "by_node": {k: v.model_dump() for k, v in self.by_node().items()},
            "by_model": {k: v.model_dump() for k, v in self.by_model().items()},
        }
