"""Store routes: LangGraph's long-term memory (AsyncPostgresStore), namespaces scoped to their user.

Every route goes through the caller's :class:`~engine.user_store.UserStore` (a hidden ``("users", <user_id>)``
prefix on every namespace), the same view a run of that user gets as its graph's store, so what a client puts
a graph reads and the other way round, and one user can neither read nor list another user's items.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Query, Response

from api.deps import CurrentUser, RuntimeDep
from api.errors import ApiError
from api.responses import JSON
from api.schemas import StoreDelete, StoreNamespaces, StorePut, StoreSearch
from engine.user_store import UserStore

router = APIRouter(tags=["store"])


def _check(namespace: list[str] | tuple[str, ...]) -> tuple[str, ...]:
    for part in namespace:
        if not part or "." in part or "\x00" in part:
            raise ApiError(422, "invalid", f"namespace: label {part!r} must be non-empty and contain no '.' or NUL")
    return tuple(namespace)


# the comparison operators AsyncPostgresStore understands in a search filter ({"field": {"$op": value}})
FILTER_OPERATORS = frozenset({"$eq", "$ne", "$gt", "$gte", "$lt", "$lte"})


def _check_filter(flt: dict[str, Any] | None) -> None:
    for field, cond in (flt or {}).items():
        if isinstance(cond, dict):
            unknown = sorted(set(cond) - FILTER_OPERATORS)
            if unknown:
                raise ApiError(422, "invalid", f"filter.{field}: unknown operator(s) {unknown}; "
                                               f"use one of {sorted(FILTER_OPERATORS)}")


def _item(item: Any) -> dict[str, Any]:
    out = {
        "namespace": list(item.namespace),
        "key": item.key,
        "value": item.value,
        "created_at": item.created_at,
        "updated_at": item.updated_at,
    }
    if getattr(item, "score", None) is not None:
        out["score"] = item.score
    return out


@router.put("/store/items")
async def put_item(body: StorePut, user: CurrentUser, runtime: RuntimeDep) -> Response:
    await UserStore(runtime.store, user.user_id).aput(_check(body.namespace), body.key, body.value,
                             index=body.index, ttl=body.ttl)
    return Response(status_code=204)


@router.get("/store/items")
async def get_item(user: CurrentUser, runtime: RuntimeDep, key: str, namespace: str | None = None,
                   namespace_list: list[str] | None = Query(None, alias="namespace[]")) -> Response:
    parts: list[str] = []
    if namespace_list:
        parts = namespace_list
    elif namespace:
        if namespace.startswith("["):
            try:
                parts = json.loads(namespace)
            except ValueError as exc:
                raise ApiError(422, "invalid", f"namespace: not a JSON list: {exc}") from exc
            if not isinstance(parts, list) or not all(isinstance(p, str) for p in parts):
                raise ApiError(422, "invalid", "namespace: must be a list of strings")
        else:
            parts = namespace.split(".")
    item = await UserStore(runtime.store, user.user_id).aget(_check(parts), key)
    # no such item: 200 with null, as the reference server answers (the SDK's get_item then returns None)
    return JSON(_item(item) if item is not None else None)


@router.delete("/store/items")
async def delete_item(body: StoreDelete, user: CurrentUser, runtime: RuntimeDep) -> Response:
    await UserStore(runtime.store, user.user_id).adelete(_check(body.namespace), body.key)
    return Response(status_code=204)


@router.post("/store/items/search")
async def search_items(body: StoreSearch, user: CurrentUser, runtime: RuntimeDep) -> Response:
    _check_filter(body.filter)
    items = await UserStore(runtime.store, user.user_id).asearch(
        _check(body.namespace_prefix), filter=body.filter, limit=body.limit, offset=body.offset, query=body.query,
        refresh_ttl=body.refresh_ttl)
    return JSON({"items": [_item(i) for i in items]})


@router.post("/store/namespaces")
async def list_namespaces(body: StoreNamespaces, user: CurrentUser, runtime: RuntimeDep) -> Response:
    if body.suffix:
        _check(body.suffix)  # the same rules for the suffix's labels (422)
    namespaces = await UserStore(runtime.store, user.user_id).alist_namespaces(
        prefix=_check(body.prefix) if body.prefix else None, suffix=tuple(body.suffix) if body.suffix else None,
        max_depth=body.max_depth, limit=body.limit, offset=body.offset)
    return JSON({"namespaces": [list(ns) for ns in namespaces]})
