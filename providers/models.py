"""Chat and embedding models by role, built from the run's resolved settings through LangChain.

``get_model(values, "smart")`` returns the chat model for a role -- ``fast`` (cheap steps: query planning,
tool choice), ``smart`` (summaries, reports) or ``strategic`` (research planning, review) -- or None when no
model is configured (``llm.provider = "offline"`` or no model name), in which case callers use the offline
engine (``providers.offline``). ``get_embeddings(values)`` does the same for the embedding model.

OpenAI and every OpenAI-compatible server (vLLM, Ollama's ``/v1``, llama.cpp, LiteLLM, LM Studio) go through
``langchain-openai`` with ``llm.base_url``; any other provider name goes to LangChain's ``init_chat_model``
and needs that provider's package. The returned model is a :class:`providers.resilient.ResilientChatModel`:
retries with backoff and jitter, ``llm.fallback_model`` as fallback, process-wide rate limits per provider.
Built models are cached per configuration, so asking again per node costs nothing.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal

import structlog
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from config_schema.access import setting
from providers.ratelimit import provider_key
from providers.resilient import ResilientChatModel

log = structlog.get_logger("clew.providers")

Role = Literal["fast", "smart", "strategic"]
ROLES: tuple[Role, ...] = ("fast", "smart", "strategic")

OFFLINE = "offline"
OPENAI_COMPATIBLE = frozenset(
    {"openai", "openai_compatible", "openai-compatible", "vllm", "llamacpp", "lmstudio", "litellm"}
)
"""Provider names served by ``langchain-openai`` (with ``llm.base_url`` for anything but OpenAI itself)."""

PROVIDER_PACKAGES = {
    "anthropic": "langchain-anthropic",
    "ollama": "langchain-ollama",
    "google_genai": "langchain-google-genai",
    "google_vertexai": "langchain-google-vertexai",
    "mistralai": "langchain-mistralai",
    "groq": "langchain-groq",
    "bedrock": "langchain-aws",
    "bedrock_converse": "langchain-aws",
    "fireworks": "langchain-fireworks",
    "together": "langchain-together",
    "deepseek": "langchain-deepseek",
    "xai": "langchain-xai",
    "huggingface": "langchain-huggingface",
    "cohere": "langchain-cohere",
    "azure_openai": "langchain-openai",
}


class ModelConfigError(ValueError):
    """The model settings cannot produce a model (unknown provider package, missing key, ...)."""


@dataclass(frozen=True)
class ModelSpec:
    """Everything that determines a built chat model (hashable: the build cache key)."""

    provider: str
    model: str
    fallback: str | None
    base_url: str | None
    api_key: str | None
    temperature: float | None
    max_tokens: int | None
    max_retries: int
    timeout: float
    requests_per_minute: int
    tokens_per_minute: int


def _str(values: Mapping[str, Any] | None, key: str) -> str:
    v = setting(values, key)
    return v.strip() if isinstance(v, str) else ""


def provider_of(values: Mapping[str, Any] | None) -> str:
    """The configured provider name, normalised (``"offline"`` when unset)."""
    return _str(values, "llm.provider").lower() or OFFLINE


def model_name_for(values: Mapping[str, Any] | None, role: Role) -> str:
    """The model name a role uses: ``llm.<role>_model``, else ``llm.default_model`` ("" = none)."""
    if role not in ROLES:
        raise ValueError(f"unknown model role {role!r}; expected one of {ROLES}")
    return _str(values, f"llm.{role}_model") or _str(values, "llm.default_model")


def has_model(values: Mapping[str, Any] | None, role: Role = "smart") -> bool:
    """Whether a chat model is configured for ``role`` (else the offline engine serves it)."""
    return provider_of(values) != OFFLINE and bool(model_name_for(values, role))


def model_spec(values: Mapping[str, Any] | None, role: Role) -> ModelSpec | None:
    """The resolved specification of a role's model, or None when there is none."""
    provider = provider_of(values)
    name = model_name_for(values, role)
    if provider == OFFLINE or not name:
        return None
    fallback = _str(values, "llm.fallback_model") or None
    temperature = setting(values, "llm.temperature")
    max_tokens = setting(values, "llm.max_tokens")
    return ModelSpec(
        provider=provider,
        model=name,
        fallback=fallback if fallback != name else None,
        base_url=_str(values, "llm.base_url") or None,
        api_key=_str(values, "llm.api_key") or None,
        temperature=float(temperature) if temperature is not None else None,
        max_tokens=int(max_tokens) if max_tokens is not None else None,
        max_retries=int(setting(values, "llm.max_retries")),
        timeout=float(setting(values, "llm.timeout_seconds")),
        requests_per_minute=int(setting(values, "llm.requests_per_minute") or 0),
        tokens_per_minute=int(setting(values, "llm.tokens_per_minute") or 0),
    )


def _openai_key(spec_key: str | None, base_url: str | None) -> str:
    if spec_key:
        return spec_key
    env = os.environ.get("OPENAI_API_KEY")
    if env:
        return env
    if base_url:
        return "not-needed"  # local OpenAI-compatible servers usually accept any key
    raise ModelConfigError(
        "llm.api_key is empty and OPENAI_API_KEY is not set (needed for provider 'openai')"
    )


def _missing_package(provider: str, exc: Exception) -> ModelConfigError:
    package = PROVIDER_PACKAGES.get(provider, f"the LangChain integration for {provider!r}")
    hint = (
        f"install {package}"
        if provider != "ollama"
        else (
            "install langchain-ollama, or set llm.provider to 'openai' and llm.base_url to http://HOST:11434/v1"
        )
    )
    return ModelConfigError(f"llm.provider {provider!r} is not available: {hint} ({exc})")


def _chat_model(spec: ModelSpec, model: str) -> BaseChatModel:
    """One inner model with SDK retries off (the wrapper retries)."""
    common: dict[str, Any] = {"timeout": spec.timeout, "max_retries": 0}
    if spec.temperature is not None:
        common["temperature"] = spec.temperature
    if spec.max_tokens is not None:
        common["max_tokens"] = spec.max_tokens
    if spec.provider in OPENAI_COMPATIBLE:
        from langchain_openai import ChatOpenAI

        return ChatOpenAI(
            model=model,
            base_url=spec.base_url,
            api_key=_openai_key(spec.api_key, spec.base_url),  # type: ignore[arg-type]
            stream_usage=True,
            **common,
        )
    from langchain.chat_models import init_chat_model

    if spec.api_key:
        common["api_key"] = spec.api_key
    if spec.base_url:
        common["base_url"] = spec.base_url
    try:
        chat: BaseChatModel = init_chat_model(model, model_provider=spec.provider, **common)
        return chat
    except ImportError as exc:
        raise _missing_package(spec.provider, exc) from exc
    except ValueError as exc:
        raise ModelConfigError(f"llm.provider {spec.provider!r}: {exc}") from exc


@lru_cache(maxsize=64)
def build_model(spec: ModelSpec) -> ResilientChatModel:
    """The resilient chat model for ``spec`` (cached: equal specs share one instance)."""
    return ResilientChatModel(
        primary=_chat_model(spec, spec.model),
        fallback=_chat_model(spec, spec.fallback) if spec.fallback else None,
        model_name=spec.model,
        fallback_model_name=spec.fallback,
        provider="openai" if spec.provider in OPENAI_COMPATIBLE else spec.provider,
        limiter_key=provider_key(spec.provider, spec.base_url),
        max_retries=spec.max_retries,
        requests_per_minute=spec.requests_per_minute,
        tokens_per_minute=spec.tokens_per_minute,
    )


def get_model(values: Mapping[str, Any] | None, role: Role = "smart") -> BaseChatModel | None:
    """The chat model for ``role`` from resolved settings ``values``; None means "use the offline engine".

    Raises :class:`ModelConfigError` when a model is configured but cannot be built.
    """
    spec = model_spec(values, role)
    return build_model(spec) if spec is not None else None


@lru_cache(maxsize=16)
def _build_embeddings(
    provider: str, model: str, base_url: str | None, api_key: str | None, max_retries: int, timeout: float
) -> Embeddings:
    if provider in OPENAI_COMPATIBLE:
        from langchain_openai import OpenAIEmbeddings

        return OpenAIEmbeddings(
            model=model,
            base_url=base_url,
            api_key=_openai_key(api_key, base_url),  # type: ignore[arg-type]
            # Send text, not tiktoken ids: tokenising needs an encoding download, and non-OpenAI servers
            # expect text anyway.
            check_embedding_ctx_length=False,
            max_retries=max_retries,
            timeout=timeout,
        )
    from langchain.embeddings import init_embeddings

    kwargs: dict[str, Any] = {}
    if api_key:
        kwargs["api_key"] = api_key
    if base_url:
        kwargs["base_url"] = base_url
    try:
        return init_embeddings(model, provider=provider, **kwargs)
    except ImportError as exc:
        raise _missing_package(provider, exc) from exc
    except ValueError as exc:
        raise ModelConfigError(f"llm.provider {provider!r} (embeddings): {exc}") from exc


def get_embeddings(values: Mapping[str, Any] | None) -> Embeddings | None:
    """The embedding model from ``llm.embedding_model``, or None (sparse retrieval only).

    Embedding calls use the SDK's own retries (``llm.max_retries``, backoff with jitter).
    """
    provider = provider_of(values)
    name = _str(values, "llm.embedding_model")
    if provider == OFFLINE or not name:
        return None
    return _build_embeddings(
        provider,
        name,
        _str(values, "llm.base_url") or None,
        _str(values, "llm.api_key") or None,
        int(setting(values, "llm.max_retries")),
        float(setting(values, "llm.timeout_seconds")),
    )
