"""A chat model that adds retries, a fallback model and shared rate limits around any LangChain chat model.

:class:`ResilientChatModel` is itself a ``BaseChatModel``, so graphs use it like any model (``ainvoke``,
``astream``, ``bind_tools``, ``with_structured_output``) and LangGraph's ``messages`` stream sees its tokens.
Each call:

1. waits for the provider's process-wide rate limits (``providers.ratelimit``);
2. calls the primary model, retrying transient failures with exponential backoff and jitter, at most
   ``max_retries`` times (one tenacity loop, :func:`providers.retry.model_retry_policy`);
3. if the primary still fails (any error), calls the fallback model the same way;
4. stamps ``response_metadata["clew_model"]`` with the model that answered (usage accounting reads it).

A stream is retried or handed to the fallback only while nothing has reached the caller yet (a stream's
attempt ends at its first chunk); a failure in the middle of a stream is raised, since repeating the start
would duplicate tokens. The inner models run with no callbacks, so a call is traced and streamed once, as
this model's. The wrapped SDK clients should have their own retries off (``max_retries=0``) so attempts do
not multiply. The sync API retries and falls back too but
does not rate-limit and does not stream (clew is async; the limiter is per event loop).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from typing import Any

import structlog
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.language_models.base import LangSmithParams
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import ConfigDict
from tenacity import AsyncRetrying, Retrying

from providers.ratelimit import ProviderLimits, limits_for
from providers.retry import model_retry_policy
from providers.usage import CHARS_PER_TOKEN, message_text, quick_estimate

log = structlog.get_logger("clew.providers")

# Inner calls run without callbacks: the wrapper's own run is what tracing and LangGraph streaming see.
_ISOLATED: RunnableConfig = {"callbacks": []}


class ResilientChatModel(BaseChatModel):
    """Retries, fallback and rate limits around ``primary`` (and ``fallback``)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    primary: BaseChatModel
    fallback: BaseChatModel | None = None
    model_name: str
    fallback_model_name: str | None = None
    provider: str = ""
    limiter_key: str = ""
    max_retries: int = 3
    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    retry_initial_seconds: float = 0.5
    retry_max_seconds: float = 20.0
    tool_binding: dict[str, Any] | None = None

    @property
    def _llm_type(self) -> str:
        return "clew-resilient"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {
            "model_name": self.model_name,
            "fallback_model_name": self.fallback_model_name,
            "provider": self.provider,
        }

    def _get_ls_params(self, stop: list[str] | None = None, **kwargs: Any) -> LangSmithParams:
        params = LangSmithParams(ls_provider=self.provider or "openai", ls_model_type="chat")
        params["ls_model_name"] = self.model_name
        if stop:
            params["ls_stop"] = stop
        return params

    def bind_tools(
        self,
        tools: Sequence[dict[str, Any] | type | Callable[..., Any] | BaseTool],
        *,
        tool_choice: str | None = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools to the primary and the fallback alike; the result keeps retries and fallback."""
        binding = {"tools": list(tools), "tool_choice": tool_choice, **kwargs}
        return self.model_copy(update={"tool_binding": binding})

    # -- internals ---------------------------------------------------------------------------------------

    def _targets(self) -> list[tuple[str, Runnable[Any, Any]]]:
        out: list[tuple[str, Runnable[Any, Any]]] = []
        for name, model in ((self.model_name, self.primary), (self.fallback_model_name, self.fallback)):
            if model is None or name is None:
                continue
            out.append((name, model.bind_tools(**self.tool_binding) if self.tool_binding else model))
        return out

    def _limits(self) -> ProviderLimits | None:
        if self.requests_per_minute <= 0 and self.tokens_per_minute <= 0:
            return None
        return limits_for(self.limiter_key, self.requests_per_minute, self.tokens_per_minute)

    async def _throttle(self, messages: list[BaseMessage]) -> ProviderLimits | None:
        limits = self._limits()
        if limits is not None:
            prompt = sum(quick_estimate(message_text(m)) for m in messages)
            await limits.acquire_request(prompt)
        return limits

    @staticmethod
    async def _charge_output(limits: ProviderLimits | None, message: BaseMessage) -> None:
        if limits is None or limits.tokens is None:
            return
        usage = getattr(message, "usage_metadata", None)
        out = int(usage.get("output_tokens", 0)) if usage else quick_estimate(message_text(message))
        await limits.acquire_tokens(out)

    def _retry_policy(self, name: str, what: str) -> dict[str, Any]:
        return model_retry_policy(
            name,
            what=what,
            max_retries=self.max_retries,
            initial=self.retry_initial_seconds,
            maximum=self.retry_max_seconds,
        )

    def _retrying(self, name: str, what: str) -> AsyncRetrying:
        return AsyncRetrying(**self._retry_policy(name, what))

    @staticmethod
    def _stamp(message: Any, name: str) -> Any:
        message.response_metadata = {**(message.response_metadata or {}), "clew_model": name}
        return message

    async def _ainvoke_with_retries(
        self, name: str, target: Runnable[Any, Any], messages: list[BaseMessage], stop: Any, kwargs: Any
    ) -> AIMessage:
        async def attempt() -> tuple[AIMessage, ProviderLimits | None]:
            limits = await self._throttle(messages)
            return await target.ainvoke(messages, config=_ISOLATED, stop=stop, **kwargs), limits

        result, limits = await self._retrying(name, "model call")(attempt)
        await self._charge_output(limits, result)
        return result

    async def _open_stream(
        self, name: str, target: Runnable[Any, Any], messages: list[BaseMessage], stop: Any, kwargs: Any
    ) -> tuple[AsyncIterator[Any], Any | None, ProviderLimits | None]:
        """Start a stream and take its first chunk (None: an empty stream): the part that may be retried."""

        async def attempt() -> tuple[AsyncIterator[Any], Any | None, ProviderLimits | None]:
            limits = await self._throttle(messages)
            stream = aiter(target.astream(messages, config=_ISOLATED, stop=stop, **kwargs))
            return stream, await anext(stream, None), limits

        return await self._retrying(name, "model stream")(attempt)

    # -- BaseChatModel ------------------------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        first_error: Exception | None = None
        for name, target in self._targets():
            try:
                message = await self._ainvoke_with_retries(name, target, messages, stop, kwargs)
            except Exception as exc:
                first_error = first_error or exc
                log.warning("model failed", model=name, error=repr(exc)[:300])
                continue
            return ChatResult(generations=[ChatGeneration(message=self._stamp(message, name))])
        assert first_error is not None
        raise first_error

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        first_error: Exception | None = None
        for name, target in self._targets():
            try:
                stream, chunk, limits = await self._open_stream(name, target, messages, stop, kwargs)
            except Exception as exc:
                first_error = first_error or exc
                log.warning("model failed", model=name, error=repr(exc)[:300])
                continue
            # From the first chunk on, a failure is raised: part of the answer already reached the caller.
            output_chars = 0
            output_tokens: int | None = None
            started = False
            while chunk is not None:
                if not isinstance(chunk, AIMessageChunk):
                    chunk = AIMessageChunk(content=getattr(chunk, "content", str(chunk)))
                if not started:
                    self._stamp(chunk, name)
                    started = True
                output_chars += len(message_text(chunk))
                if chunk.usage_metadata:
                    output_tokens = (output_tokens or 0) + int(chunk.usage_metadata.get("output_tokens", 0))
                yield ChatGenerationChunk(message=chunk)
                chunk = await anext(stream, None)
            if limits is not None:
                await limits.acquire_tokens(
                    output_tokens if output_tokens is not None else -(-output_chars // CHARS_PER_TOKEN)
                )
            return
        assert first_error is not None
        raise first_error

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        first_error: Exception | None = None
        for name, target in self._targets():
            retrying = Retrying(**self._retry_policy(name, "model call"))
            try:
                message = retrying(target.invoke, messages, config=_ISOLATED, stop=stop, **kwargs)
            except Exception as exc:
                first_error = first_error or exc
                log.warning("model failed", model=name, error=repr(exc)[:300])
                continue
            return ChatResult(generations=[ChatGeneration(message=self._stamp(message, name))])
        assert first_error is not None
        raise first_error
