"""Per-user daily spending limits: refuse new runs and stop running ones once a user's budget is spent.

``budget.daily_usd`` (0 = unlimited) is compared with what the user's model calls cost since the start of the
UTC day (``persistence.usage.spent_today``). The run engine calls :func:`check_budget` before it starts a run
(the error becomes the API's answer) and before each node (the run ends with that error). A call already in
flight finishes; the budget is enforced at the next check, so a user can go over by at most one node's calls.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config_schema.access import setting
from domain.errors import BudgetExceeded
from persistence.usage import spent_today

__all__ = ["BudgetExceeded", "check_budget", "daily_limit"]


def daily_limit(values: Mapping[str, Any] | None) -> float | None:
    """The ``budget.daily_usd`` of these configuration values, or None when unlimited."""
    limit = float(setting(values, "budget.daily_usd") or 0.0)
    return limit if limit > 0 else None


async def check_budget(pool: Any, user_id: str, values: Mapping[str, Any] | None) -> float | None:
    """Raise :class:`BudgetExceeded` when ``user_id`` has spent its ``budget.daily_usd`` today.

    ``pool`` is a psycopg pool or connection (or ``persistence.db.Database``). Returns the USD left today, or
    None when the budget is unlimited (then the database is not queried).
    """
    limit = daily_limit(values)
    if limit is None:
        return None
    spent = await spent_today(pool, user_id)
    if spent >= limit:
        raise BudgetExceeded(user_id, spent, limit)
    return limit - spent
