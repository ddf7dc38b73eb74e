"""Request dependencies: who is calling (identity) and the process runtime.

Every route takes ``user: CurrentUser``; every query it makes filters by ``user.user_id``. Credentials come as
``x-api-key`` (what langgraph-sdk's ``api_key=`` sends), ``Authorization: Bearer <api key>``, or
``Authorization: Bearer <JWT>`` (HS256 or RS256). With auth off every request is the one local user, and
``clew serve`` then binds to loopback only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

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
    user = await authenticate(get_runtime(request), request.headers)
    request.state.user = user
    return user


async def admin_user(user: Annotated[User, Depends(current_user)]) -> User:
    if not user.is_admin:
        raise ApiError(403, "forbidden", "this route needs an administrator")
    return user


CurrentUser = Annotated[User, Depends(current_user)]
AdminUser = Annotated[User, Depends(admin_user)]
RuntimeDep = Annotated["Runtime", Depends(get_runtime)]
