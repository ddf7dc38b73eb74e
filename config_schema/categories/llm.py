"""Settings for chat and embedding models (category ``llm``).

Which server and key a process talks to is an administrator's decision (system scope; the key is a secret no
user can read back). Which model answers in each role is the user's choice, and sampling knobs may change per
session. With ``llm.provider = "offline"`` or no model name, clew has no model and uses its offline
extractive engine (``providers.offline``) instead.
"""

from __future__ import annotations

from config_schema.definitions import Setting

# USD per one million tokens; a model missing here costs 0 (its tokens are still counted). Looked up by exact
# name, then by the longest key the model name starts with (so dated snapshots match their family).
DEFAULT_PRICES: dict[str, dict[str, float]] = {
    "gpt-4o": {"input": 2.50, "output": 10.00},
    "gpt-4o-mini": {"input": 0.15, "output": 0.60},
    "gpt-4.1": {"input": 2.00, "output": 8.00},
    "gpt-4.1-mini": {"input": 0.40, "output": 1.60},
    "gpt-4.1-nano": {"input": 0.10, "output": 0.40},
    "text-embedding-3-small": {"input": 0.02, "output": 0.0},
    "text-embedding-3-large": {"input": 0.13, "output": 0.0},
}

_MODEL_NAME = r"[^\s]{0,200}"

SETTINGS: list[Setting] = [
    Setting(
        key="llm.provider",
        category="llm",
        type="string",
        default="offline",
        pattern=r"[a-z][a-z0-9_\-]{0,40}",
        scope="system",
        description=(
            "Model provider: 'offline' (no model, the built-in extractive engine), 'openai' (OpenAI or any "
            "OpenAI-compatible server via llm.base_url: vLLM, Ollama, llama.cpp, LiteLLM), or any provider "
            "LangChain's init_chat_model knows (e.g. 'anthropic') when its package is installed."
        ),
    ),
    Setting(
        key="llm.base_url",
        category="llm",
        type="string",
        default="",
        scope="system",
        description="Base URL of an OpenAI-compatible server (e.g. http://localhost:8000/v1); empty for the provider's own.",
    ),
    Setting(
        key="llm.api_key",
        category="llm",
        type="string",
        default="",
        scope="system",
        secret=True,
        user_readable=False,
        description="API key for the provider; empty uses the provider's environment variable (e.g. OPENAI_API_KEY).",
    ),
    Setting(
        key="llm.default_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Model used by every role without its own model; empty means no model (offline engine).",
    ),
    Setting(
        key="llm.fallback_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Model (same provider) that answers when the role's model still fails after its retries.",
    ),
    Setting(
        key="llm.fast_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Model for quick, cheap steps (query planning, tool selection); empty uses llm.default_model.",
    ),
    Setting(
        key="llm.smart_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Model for summaries and report writing; empty uses llm.default_model.",
    ),
    Setting(
        key="llm.strategic_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Model for planning and review of a whole research; empty uses llm.default_model.",
    ),
    Setting(
        key="llm.embedding_model",
        category="llm",
        type="string",
        default="",
        pattern=_MODEL_NAME,
        scope="user",
        description="Embedding model for dense vectors; empty means sparse (BM25-style) retrieval only.",
    ),
    Setting(
        key="llm.temperature",
        category="llm",
        type="number",
        default=None,
        minimum=0.0,
        maximum=2.0,
        scope="session",
        description="Sampling temperature; null leaves the provider's default (some reasoning models accept no other).",
    ),
    Setting(
        key="llm.max_tokens",
        category="llm",
        type="integer",
        default=None,
        minimum=1,
        maximum=1_000_000,
        scope="session",
        description="Upper bound on tokens a model may generate per call; null leaves the provider's default.",
    ),
    Setting(
        key="llm.max_retries",
        category="llm",
        type="integer",
        default=3,
        minimum=0,
        maximum=10,
        scope="system",
        description="Retries (exponential backoff with jitter) on 429, 5xx, timeouts and connection errors.",
    ),
    Setting(
        key="llm.timeout_seconds",
        category="llm",
        type="number",
        default=120.0,
        minimum=1.0,
        maximum=3600.0,
        scope="system",
        description="Timeout of one model request, in seconds.",
    ),
    Setting(
        key="llm.requests_per_minute",
        category="llm",
        type="integer",
        default=0,
        minimum=0,
        maximum=1_000_000,
        scope="system",
        description="Process-wide request limit per provider and base URL; 0 means unlimited.",
    ),
    Setting(
        key="llm.tokens_per_minute",
        category="llm",
        type="integer",
        default=0,
        minimum=0,
        maximum=1_000_000_000,
        scope="system",
        description="Process-wide token limit (input and output) per provider and base URL; 0 means unlimited.",
    ),
    Setting(
        key="llm.prices",
        category="llm",
        type="json",
        default=DEFAULT_PRICES,
        scope="system",
        description=(
            'Price table: {"model": {"input": USD per 1M input tokens, "output": USD per 1M output tokens}}. '
            "Matched exactly, then by the longest prefix; unknown models cost 0."
        ),
    ),
]
