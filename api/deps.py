"""Request dependencies: who is calling (identity) and the process runtime.

Every route takes ``user: CurrentUser``; every query it makes filters by ``user.user_id``. Credentials come as
``x-api-key`` (what langgraph-sdk's ``api_key=`` sends), ``Authorization: Bearer <api key>``, or
``Authorization: Bearer <JWT>`` (HS256 or RS256). With auth off every request is the one local user, and
``clew serve`` then binds to loopback only. Identifying the caller also counts the request against its
per-user rate limit (``api/rate_limits.py``) and binds ``user_id`` to the request's log lines.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import structlog
from fastapi import Depends, Request

from api.auth import User, authenticate
from api.errors import ApiError

if TYPE_CHECKING:
    from engine.runtime import Runtime


def get_runtime(request: Request) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


async def current_user(request: Request) -> User:
    cached = getattr(request.state, "user", None)
    if isinstance(cached, User):
        return cached
    runtime = get_runtime(request)
    user = await authenticate(runtime, request.headers)
    request.state.user = user
    structlog.contextvars.bind_contextvars(user_id=user.user_id)
    # per-user rate limits by route class (api/rate_limits.py): counted once the caller is known
    from api.rate_limits import limiter

    await limiter(runtime).check_request(user.user_id, request.method, request.url.path,
                                         request.headers.get("content-type", ""))
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "this route needs an administrator")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
RuntimeDep = Annotated["Runtime", Depends(get_runtime)]
