"""The errors clew's core raises when a caller asked for something it cannot have, below any transport.

Engine, nodes, providers, reports, retrieval and configuration raise these; the HTTP layer maps each class to
a status code in one table (``api.errors.STATUS_BY_ERROR``) and the CLI prints the message, so no module below
``api/`` knows about HTTP. Every error carries a human ``detail``, a machine ``code`` (stable: clients match
on it) and ``extra`` fields that go into the JSON body as they are.

The tree (modelled on ``httpx._exceptions``)::

    ClewError
    ├── NotFound            the thing named does not exist, or is not the caller's
    ├── Conflict            the request is valid but the current state refuses it (retry after a change)
    │   └── Expired         the thing existed and has expired
    ├── InvalidInput        the request's content is wrong (a value, a schema, a format)
    │   └── UnsupportedMedia  a file whose type clew does not read
    ├── Unauthenticated     no valid credentials
    ├── Forbidden           valid credentials, not allowed
    ├── LimitExceeded       a quota is spent; ``retry_after`` says when it resets (seconds), if known
    │   └── BudgetExceeded  the user's daily model budget is spent
    └── Unavailable         a dependency is down or busy; the same request may succeed shortly
"""

from __future__ import annotations

from typing import Any


class ClewError(Exception):
    """Base of clew's domain errors: ``detail`` (message), ``code`` (machine name) and ``extra`` (body fields)."""

    code = "error"

    # detail is positional-only so ``extra`` may carry any key (a row's ``status``, say) without a TypeError
    def __init__(self, detail: str, /, *, code: str | None = None, **extra: Any) -> None:
        super().__init__(detail)
        self.detail = detail
        if code is not None:
            self.code = code
        self.extra = extra

    def body(self) -> dict[str, Any]:
        """The JSON body: ``{"detail": ..., "error": code, **extra}`` (``detail`` as FastAPI names it)."""
        return {"detail": self.detail, "error": self.code, **self.extra}


class NotFound(ClewError):
    code = "not_found"

    @classmethod
    def of(cls, kind: str, ident: object) -> NotFound:
        """``NotFound.of("thread", tid)`` -> "thread <tid> not found"."""
        return cls(f"{kind} {ident} not found")


class Conflict(ClewError):
    code = "conflict"


class Expired(Conflict):
    code = "expired"


class InvalidInput(ClewError):
    code = "invalid"


class UnsupportedMedia(InvalidInput):
    code = "unsupported_type"


class Unauthenticated(ClewError):
    code = "unauthorized"


class Forbidden(ClewError):
    code = "forbidden"


class LimitExceeded(ClewError):
    code = "rate_limited"

    def __init__(self, detail: str, /, *, retry_after: int | None = None, code: str | None = None,
                 **extra: Any) -> None:
        super().__init__(detail, code=code, **extra)
        self.retry_after = retry_after

    def body(self) -> dict[str, Any]:
        """As :meth:`ClewError.body`, with ``retry_after`` (seconds) when it is known."""
        found = super().body()
        if self.retry_after is not None:
            found.setdefault("retry_after", self.retry_after)
        return found


class BudgetExceeded(LimitExceeded):
    """The user's daily model budget is spent (code ``budget_exceeded``); resets at midnight UTC."""

    code = "budget_exceeded"

    def __init__(self, user_id: str, spent_usd: float, limit_usd: float) -> None:
        super().__init__(
            f"daily model budget exhausted: spent ${spent_usd:.4f} of ${limit_usd:.2f} today (UTC); "
            "it resets at midnight UTC or when an administrator raises budget.daily_usd",
            spent_usd=round(spent_usd, 6),
            limit_usd=limit_usd,
        )
        self.user_id = user_id
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd


class Unavailable(ClewError):
    code = "unavailable"
