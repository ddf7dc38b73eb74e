"""A user's view of LangGraph's store: every namespace lives under a hidden ``("users", <user_id>)`` prefix.

The API's store routes and the graphs a run executes (``runtime.store`` / ``get_store()``) both go through this
view, so a graph reads and writes the same items the user's client sees over ``/store/items``, and neither can
reach another user's items. The prefix is added to every operation's namespace on the way in and stripped from
every item and namespace on the way out, so neither side ever sees it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langgraph.store.base import (
    BaseStore,
    GetOp,
    Item,
    ListNamespacesOp,
    MatchCondition,
    Op,
    PutOp,
    Result,
    SearchItem,
    SearchOp,
)

USERS = "users"


def user_prefix(user_id: str) -> tuple[str, str]:
    return (USERS, user_id)


class UserStore(BaseStore):
    """``base`` as seen by ``user_id`` (namespaces relative to the user's prefix)."""

    def __init__(self, base: BaseStore, user_id: str) -> None:
        self.base = base
        self.prefix = user_prefix(user_id)
        self.supports_ttl = base.supports_ttl
        self.ttl_config = base.ttl_config

    def _in(self, op: Op) -> Op:
        if isinstance(op, GetOp | PutOp):
            return op._replace(namespace=(*self.prefix, *op.namespace))
        if isinstance(op, SearchOp):
            return op._replace(namespace_prefix=(*self.prefix, *op.namespace_prefix))
        if isinstance(op, ListNamespacesOp):
            conditions = list(op.match_conditions or ())
            prefixed = False
            for i, cond in enumerate(conditions):
                if cond.match_type == "prefix":
                    conditions[i] = MatchCondition("prefix", (*self.prefix, *cond.path))
                    prefixed = True
            if not prefixed:
                conditions.insert(0, MatchCondition("prefix", self.prefix))
            depth = op.max_depth + len(self.prefix) if op.max_depth is not None else None
            return op._replace(match_conditions=tuple(conditions), max_depth=depth)
        raise TypeError(f"unknown store operation {type(op).__name__}")

    def _out(self, result: Result) -> Result:
        n = len(self.prefix)
        if isinstance(result, SearchItem):
            return SearchItem(result.namespace[n:], result.key, result.value, result.created_at, result.updated_at,
                              result.score)
        if isinstance(result, Item):
            return Item(value=result.value, key=result.key, namespace=result.namespace[n:],
                        created_at=result.created_at, updated_at=result.updated_at)
        if isinstance(result, list):
            return [self._out(r) if isinstance(r, Item) else tuple(r[n:]) for r in result]  # type: ignore[misc]
        return result

    def batch(self, ops: Iterable[Op]) -> list[Result]:
        return [self._out(r) for r in self.base.batch([self._in(op) for op in ops])]

    async def abatch(self, ops: Iterable[Op]) -> list[Result]:
        return [self._out(r) for r in await self.base.abatch([self._in(op) for op in ops])]

    def __getattr__(self, name: str) -> Any:  # index configuration and the like, read from the base store
        return getattr(self.base, name)
