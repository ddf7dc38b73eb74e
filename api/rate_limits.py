"""Per-user rate limits by route class, and login throttling.

The per-user cap on queued runs is not here: it is checked in the run-creating transaction itself, so it is
exact under concurrent creations (``engine/queue_cap.py``).

Route classes (``classify``): ``research`` (starting a research: the seed's ``10/hour``, seed 000 §9.2),
``runs`` (creating a run), ``uploads`` (multipart bodies, knowledge-base documents) and ``other``. Each
authenticated request counts against its class for its user (``check_request``, called from the identity
dependency once the user is known); over the limit it is answered ``429`` with ``Retry-After`` (seconds) and
changes nothing.

Counting uses the ``limits`` library's fixed-window strategy. The counters are shared by every process: in
Redis when ``CLEW_RATE_LIMIT_STORAGE`` is a ``redis://`` URL (``limits``'s own async Redis storage), else in
Postgres through :class:`PostgresStorage` — our own implementation of ``limits``'s storage interface,
because the library ships none for Postgres and clew must not need Redis.
"""

from __future__ import annotations

import math
import re
import time
import weakref
from typing import TYPE_CHECKING, Any

from limits import RateLimitItem, parse
from limits.aio.storage import Storage
from limits.aio.strategies import FixedWindowRateLimiter
from limits.storage import storage_from_string

from api.errors import ApiError
from persistence import rate_limits as repo

if TYPE_CHECKING:
    from engine.runtime import Runtime
    from persistence.db import Database

RUN_CREATE = re.compile(r"^/(threads/[^/]+/)?runs(/stream|/wait)?/?$")
RESEARCH_START = re.compile(r"^/api/v1/research/start/?$")
UPLOAD = re.compile(r"/documents(/|$)|/uploads?(/|$)")


class RateLimited(ApiError):
    """429 with ``Retry-After``."""

    def __init__(self, detail: str, retry_after: float, **extra: Any) -> None:
        seconds = max(1, math.ceil(retry_after))
        super().__init__(429, "rate_limited", detail, retry_after=seconds, **extra)
        self.headers = {"Retry-After": str(seconds)}


class PostgresStorage(Storage):
    """``limits`` storage over the ``rate_limits`` table (fixed windows only)."""

    STORAGE_SCHEME = None

    def __init__(self, db: Database) -> None:
        super().__init__(None)
        self.db = db

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        import psycopg

        return psycopg.Error

    async def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        async with self.db.connection() as conn:
            return await repo.incr(conn, key, float(expiry), amount)

    async def get(self, key: str) -> int:
        async with self.db.connection() as conn:
            return await repo.get(conn, key)

    async def get_expiry(self, key: str) -> float:
        async with self.db.connection() as conn:
            at = await repo.get_expiry(conn, key)
        return at if at is not None else time.time()

    async def check(self) -> bool:
        try:
            await self.db.ping()
        except Exception:
            return False
        return True

    async def reset(self) -> int | None:
        async with self.db.connection() as conn:
            return await repo.reset(conn)

    async def clear(self, key: str) -> None:
        async with self.db.connection() as conn:
            await repo.clear(conn, key)


def classify(method: str, path: str, content_type: str = "") -> list[str]:
    """The route classes a request counts against (a research start is also a run creation)."""
    if method == "POST":
        if RESEARCH_START.match(path):
            return ["research", "runs"]
        if RUN_CREATE.match(path) or path.endswith("/chat/stream"):
            return ["runs"]
        if content_type.startswith("multipart/form-data") or UPLOAD.search(path):
            return ["uploads"]
    return ["other"]


class Limiter:
    """The process's rate limiter: limits parsed from settings over the shared storage."""

    def __init__(self, runtime: Runtime) -> None:
        s = runtime.settings
        self.enabled = s.rate_limits_enabled
        self.db = runtime.db
        self.storage: Storage
        if s.rate_limit_storage:
            uri = s.rate_limit_storage
            if uri.startswith(("redis://", "rediss://")):
                uri = "async+" + uri
            self.storage = storage_from_string(uri)
        else:
            self.storage = PostgresStorage(runtime.db)
        self.strategy = FixedWindowRateLimiter(self.storage)
        self.items: dict[str, RateLimitItem] = {
            "research": parse(s.rate_limit_research),
            "runs": parse(s.rate_limit_runs),
            "uploads": parse(s.rate_limit_uploads),
            "other": parse(s.rate_limit_other),
            "login_account": parse(s.login_attempts_per_account),
            "login_address": parse(s.login_attempts_per_address),
        }

    async def hit(self, kind: str, ident: str) -> None:
        """Count one hit of ``kind`` for ``ident``; raise :class:`RateLimited` when over the limit."""
        item = self.items[kind]
        if await self.strategy.hit(item, kind, ident):
            return
        from engine.metrics import RATE_LIMITED

        RATE_LIMITED.labels(kind).inc()
        stats = await self.strategy.get_window_stats(item, kind, ident)
        raise RateLimited(f"rate limit of {item} for {kind.replace('_', ' ')} reached: retry later",
                          stats.reset_time - time.time(), limit=str(item), route_class=kind)

    async def check_request(self, user_id: str, method: str, path: str, content_type: str) -> None:
        if not self.enabled:
            return
        classes = classify(method, path, content_type)
        for kind in classes:
            await self.hit(kind, user_id)

    async def check_login(self, username: str, address: str) -> None:
        """Login throttling (counted even when auth is off or limits are disabled: it guards passwords)."""
        await self.hit("login_account", username.strip().lower())
        await self.hit("login_address", address)


# one limiter per runtime (a process has one; tests start several)
_LIMITERS: weakref.WeakKeyDictionary[Any, Limiter] = weakref.WeakKeyDictionary()


def limiter(runtime: Runtime) -> Limiter:
    found = _LIMITERS.get(runtime)
    if found is None:
        found = _LIMITERS[runtime] = Limiter(runtime)
    return found
