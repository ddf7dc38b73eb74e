"""The per-user cap on queued runs (``CLEW_MAX_QUEUED_RUNS``), checked and kept in the run-creation transaction.

Counting before the insert in another transaction would let a burst of concurrent creations (on several
processes) all see room and exceed the cap. Here the count runs under a per-user transaction-level advisory lock
(``persistence.rate_limits.lock_and_count_pending_runs``) taken at the start of the transaction that inserts the
run, so creations by one user are decided one at a time and the cap is exact. Over the cap: ``LimitExceeded``
(429 with ``Retry-After``, ``route_class`` ``queued_runs``), nothing written.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from domain.errors import LimitExceeded
from engine.metrics import RATE_LIMITED
from persistence import rate_limits as repo

if TYPE_CHECKING:
    from config_schema.settings import RuntimeSettings
    from persistence.db import Conn

# a queued run starts as soon as a worker slot is free: a few seconds is a sensible first retry
RETRY_AFTER_SECONDS = 5


def queued_runs_cap(settings: RuntimeSettings) -> int | None:
    """The cap on a user's queued runs in force, None when there is none."""
    cap = settings.max_queued_runs
    return cap if settings.rate_limits_enabled and cap > 0 else None


async def check_queued_runs(conn: Conn, settings: RuntimeSettings, user_id: str) -> None:
    """Refuse a new run when ``user_id`` has ``max_queued_runs`` pending runs (call first in the creating transaction)."""
    cap = settings.max_queued_runs
    if not settings.rate_limits_enabled or cap <= 0:
        return
    pending = await repo.lock_and_count_pending_runs(conn, user_id)
    if pending < cap:
        return
    RATE_LIMITED.labels("queued_runs").inc()
    raise LimitExceeded(f"{pending} runs are already queued for this user (the cap is {cap}): wait for some to start",
                        retry_after=RETRY_AFTER_SECONDS, route_class="queued_runs")
