"""Process-wide rate limits per provider: requests per minute and tokens per minute (aiolimiter).

Every model built for the same provider and base URL shares one pair of leaky buckets, so all runs and roles
of a process together stay under the limits an administrator configured (``llm.requests_per_minute``,
``llm.tokens_per_minute``; 0 = unlimited). Buckets are kept per event loop (an ``AsyncLimiter`` must not be
shared across loops) and are replaced when the configured rates change. Tokens are taken before a call for
the estimated prompt and after it for the output, so a burst of long answers slows the next calls down.
"""

from __future__ import annotations

import asyncio
import weakref
from dataclasses import dataclass

from aiolimiter import AsyncLimiter


@dataclass
class ProviderLimits:
    requests_per_minute: int
    tokens_per_minute: int
    requests: AsyncLimiter | None
    tokens: AsyncLimiter | None

    async def acquire_request(self, prompt_tokens: int) -> None:
        """Wait until one more request and its estimated prompt tokens fit the limits."""
        if self.requests is not None:
            await self.requests.acquire()
        await self.acquire_tokens(prompt_tokens)

    async def acquire_tokens(self, tokens: int) -> None:
        """Wait until ``tokens`` fit (a single amount above the whole minute's budget takes all of it)."""
        if self.tokens is not None and tokens > 0:
            await self.tokens.acquire(min(float(tokens), self.tokens.max_rate))


_by_loop: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, dict[str, ProviderLimits]] = (
    weakref.WeakKeyDictionary()
)


def provider_key(provider: str, base_url: str | None) -> str:
    """The identity that limits are shared under: provider plus base URL."""
    return f"{provider}|{(base_url or '').rstrip('/')}"


def limits_for(key: str, requests_per_minute: int, tokens_per_minute: int) -> ProviderLimits:
    """The shared limits of ``key`` in the running loop (created, or replaced when the rates changed)."""
    loop = asyncio.get_running_loop()
    table = _by_loop.setdefault(loop, {})
    current = table.get(key)
    if (
        current is None
        or current.requests_per_minute != requests_per_minute
        or current.tokens_per_minute != tokens_per_minute
    ):
        current = ProviderLimits(
            requests_per_minute,
            tokens_per_minute,
            AsyncLimiter(requests_per_minute, 60) if requests_per_minute > 0 else None,
            AsyncLimiter(tokens_per_minute, 60) if tokens_per_minute > 0 else None,
        )
        table[key] = current
    return current
