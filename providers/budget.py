"""Per-user daily spending limits: refuse new runs and stop running ones once a user's budget is spent.

``budget.daily_usd`` (0 = unlimited) is compared with what the user's model calls cost since the start of the
UTC day (``persistence.usage.spent_today``). The run engine calls :func:`check_budget` before it starts a run
(the error becomes the API's answer) and before each node (the run ends with that error). A call already in
flight finishes; the budget is enforced at the next check, so a user can go over by at most one node's calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from api.errors import ApiError
from config_schema.access import setting
from persistence.usage import spent_today


class BudgetExceeded(ApiError):
    """The user's daily model budget is spent (HTTP 429, error code ``budget_exceeded``)."""

    def __init__(self, user_id: str, spent_usd: float, limit_usd: float) -> None:
        super().__init__(
            429,
            "budget_exceeded",
            f"daily model budget exhausted: spent ${spent_usd:.4f} of ${limit_usd:.2f} today (UTC); "
            "it resets at midnight UTC or when an administrator raises budget.daily_usd",
            spent_usd=round(spent_usd, 6),
            limit_usd=limit_usd,
        )
        self.user_id = user_id
        self.spent_usd = spent_usd
        self.limit_usd = limit_usd


async def check_budget(pool: Any, user_id: str, values: Mapping[str, Any] | None) -> float | None:
    """Raise :class:`BudgetExceeded` when ``user_id`` has spent its ``budget.daily_usd`` today.

    ``pool`` is a psycopg pool or connection (or ``persistence.db.Database``). Returns the USD left today, or
    None when the budget is unlimited (then the database is not queried).
    """
    limit = float(setting(values, "budget.daily_usd") or 0.0)
    if limit <= 0:
        return None
    spent = await spent_today(pool, user_id)
    if spent >= limit:
        raise BudgetExceeded(user_id, spent, limit)
    return limit - spent
