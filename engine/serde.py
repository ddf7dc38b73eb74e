"""JSON encoding of graph output for the API and the event log.

Graph state holds LangChain messages, LangGraph ``Interrupt``/``Send``/``Command`` objects, Pydantic models
and dataclasses. The Agent Server protocol sends messages as their ``model_dump()`` dicts and interrupts as
``{"value", "id"}``; :func:`dumps` applies the same rules everywhere so a replayed event is byte-identical
to the live one.
"""

from __future__ import annotations

import base64
import dataclasses
from collections.abc import Mapping
from typing import Any

import orjson
from langgraph.types import Command, Interrupt, Send
from pydantic import BaseModel

_OPTS = orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY


def _default(obj: Any) -> Any:
    if isinstance(obj, Interrupt):
        return {"value": obj.value, "id": obj.id}
    if isinstance(obj, BaseModel):
        return obj.model_dump(mode="python")
    if isinstance(obj, Send):
        return {"node": obj.node, "arg": obj.arg}
    if isinstance(obj, Command):
        return {k: v for k, v in dataclasses.asdict(obj).items() if v not in (None, (), {})}
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: getattr(obj, f.name) for f in dataclasses.fields(obj)}
    if isinstance(obj, set | frozenset | tuple):
        return list(obj)
    if isinstance(obj, bytes):
        return base64.b64encode(obj).decode()
    if isinstance(obj, Mapping):
        return dict(obj)
    if hasattr(obj, "to_json") and callable(obj.to_json):
        return obj.to_json()
    return str(obj)


def dumps(obj: Any) -> str:
    return orjson.dumps(obj, default=_default, option=_OPTS).decode()


def dumpb(obj: Any) -> bytes:
    return orjson.dumps(obj, default=_default, option=_OPTS)


def loads(data: str | bytes) -> Any:
    return orjson.loads(data)


def to_jsonable(obj: Any) -> Any:
    """Round-trip through JSON: plain dicts/lists/scalars only."""
    return orjson.loads(dumpb(obj))
