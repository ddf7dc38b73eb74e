"""When and how long to wait before retrying a model request, and the one retry loop that applies it.

A request is retried on HTTP 429, 408 and 5xx, on timeouts and on connection failures -- the transient
failures -- and on nothing else (a 400 or 401 will not get better). The wait grows exponentially with full
jitter so clients that failed together do not retry together, is capped, and honours a server's
``Retry-After`` / ``retry-after-ms`` header when it asks for a wait within the cap.

The loop is tenacity's (``AsyncRetrying``, ``Retrying`` for the sync API), configured from these rules by
:func:`model_retry_policy`. A caller retries one attempt function with it; a stream's attempt ends at its first chunk, so a stream
is retried only until something has reached the caller. Errors are recognised by their ``status_code`` /
``response.status_code`` attributes and class names, so every provider SDK works without being imported
here.
"""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime
from time import time
from typing import Any

import structlog
from tenacity import RetryCallState, retry_if_exception, stop_after_attempt

log = structlog.get_logger("clew.providers")

RETRY_INITIAL_SECONDS = 0.5
RETRY_MAX_SECONDS = 20.0

_TRANSIENT_NAMES = (
    "Timeout",
    "TimeoutError",
    "TimeoutException",
    "ConnectionError",
    "ConnectError",
    "NetworkError",
    "RemoteProtocolError",
    "ServiceUnavailableError",
    "OverloadedError",
)


def status_code(exc: BaseException) -> int | None:
    """The HTTP status an SDK error carries, if any."""
    code = getattr(exc, "status_code", None)
    if not isinstance(code, int):
        code = getattr(getattr(exc, "response", None), "status_code", None)
    return code if isinstance(code, int) else None


def is_retryable(exc: BaseException) -> bool:
    """Whether ``exc`` is a transient failure worth another attempt."""
    code = status_code(exc)
    if code is not None:
        return code in (408, 429) or 500 <= code <= 599
    if isinstance(exc, TimeoutError | ConnectionError):
        return True
    return any(cls.__name__.endswith(_TRANSIENT_NAMES) for cls in type(exc).__mro__)


def retry_after(exc: BaseException) -> float | None:
    """Seconds the server asked to wait (``retry-after-ms`` or ``Retry-After``: seconds or an HTTP date)."""
    headers = getattr(getattr(exc, "response", None), "headers", None)
    if headers is None:
        return None
    try:
        ms = headers.get("retry-after-ms")
        if ms is not None:
            return max(0.0, float(ms) / 1000)
        value = headers.get("retry-after")
        if value is None:
            return None
        try:
            return max(0.0, float(value))
        except ValueError:
            return max(0.0, parsedate_to_datetime(value).timestamp() - time())
    except (TypeError, ValueError, AttributeError):
        return None


def backoff_delay(
    attempt: int,
    exc: BaseException | None = None,
    *,
    initial: float = RETRY_INITIAL_SECONDS,
    maximum: float = RETRY_MAX_SECONDS,
) -> float:
    """Seconds to wait before retry number ``attempt + 1`` (``attempt`` counts from 0).

    The server's requested wait when it gave one within ``maximum``; else full jitter:
    uniform in ``[initial / 2, min(maximum, initial * 2**attempt)]``.
    """
    if exc is not None:
        asked = retry_after(exc)
        if asked is not None and asked <= maximum:
            return asked
    ceiling = min(maximum, initial * (2**attempt))
    return random.uniform(min(initial / 2, ceiling), ceiling)


def model_retry_policy(
    model: str,
    *,
    what: str = "model call",
    max_retries: int,
    initial: float = RETRY_INITIAL_SECONDS,
    maximum: float = RETRY_MAX_SECONDS,
) -> dict[str, Any]:
    """The retry loop for requests to ``model``, as arguments of tenacity's ``AsyncRetrying`` / ``Retrying``:
    at most ``max_retries`` retries of a transient failure, waits from :func:`backoff_delay`, each retry
    logged as "``what`` failed, retrying"; the last error is raised as it is."""

    def wait(state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome is not None else None
        return backoff_delay(state.attempt_number - 1, exc, initial=initial, maximum=maximum)

    def before_sleep(state: RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome is not None else None
        delay = state.next_action.sleep if state.next_action is not None else 0.0
        log.warning(
            f"{what} failed, retrying",
            model=model,
            attempt=state.attempt_number,
            delay=round(delay, 3),
            error=repr(exc)[:300],
        )

    return {
        "stop": stop_after_attempt(max_retries + 1),
        "wait": wait,
        "retry": retry_if_exception(is_retryable),
        "before_sleep": before_sleep,
        "reraise": True,
    }
