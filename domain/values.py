"""JSON values clew can store and read back, and the per-field limits of request fields that end up in a row.

Used by the request-limits middleware (``api/limits.py``: every JSON body is checked before any route runs)
and by the request models (``api/schemas.py``, ``engine/run_models.py``: threads', runs' and assistants'
``metadata``, store namespaces and keys). Written here rather than taken from a library because the checks
are about what Postgres, psycopg and orjson accept, which no generic validator knows.
"""

from __future__ import annotations

import json
import math
from typing import Annotated, Any

from pydantic import AfterValidator

MIN_INT, MAX_INT = -(2**63), 2**64 - 1  # orjson's integer range (JSON responses are written with orjson)
MAX_DEPTH = 100

# per-field limits of values that end up in a row
MAX_METADATA_KEYS = 512
MAX_METADATA_BYTES = 64 * 1024
MAX_KEY_CHARS = 256  # a metadata key, a store namespace label
MAX_STORE_KEY_CHARS = 1024


class InvalidValue(ValueError):
    """A JSON value clew refuses to store; ``where`` is its path in the body (``metadata.n``)."""

    def __init__(self, where: str, problem: str) -> None:
        super().__init__(f"{where or 'body'}: {problem}")
        self.where = where


def _path(where: str, key: object) -> str:
    return f"{where}.{key}" if where else str(key)


def _check_str(value: str, where: str) -> None:
    if "\x00" in value:
        raise InvalidValue(where, "text may not contain the NUL character (\\u0000)")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidValue(where, "text contains an unpaired UTF-16 surrogate") from None


# An integer literal too long for any allowed value: kept as this marker while parsing (Python refuses to
# convert one of over 4300 digits, which would fail the whole body without naming the field).
_LONG_INT = object()
_MAX_INT_DIGITS = 40


def _parse_int(text: str) -> Any:
    return int(text) if len(text) <= _MAX_INT_DIGITS else _LONG_INT


def check_value(value: Any, where: str = "", depth: int = 0) -> None:
    """Raise :class:`InvalidValue` if ``value`` (parsed JSON) holds something clew cannot store and read back."""
    if depth > MAX_DEPTH:
        raise InvalidValue(where, f"nested more than {MAX_DEPTH} levels deep")
    if value is _LONG_INT:
        raise InvalidValue(where, f"integer out of range (allowed: {MIN_INT} to {MAX_INT})")
    if isinstance(value, str):
        _check_str(value, where)
    elif isinstance(value, bool) or value is None:
        return
    elif isinstance(value, int):
        if not MIN_INT <= value <= MAX_INT:
            raise InvalidValue(where, f"integer out of range (allowed: {MIN_INT} to {MAX_INT})")
    elif isinstance(value, float):
        if not math.isfinite(value):
            raise InvalidValue(where, "number is not finite (NaN, Infinity or too large)")
        if value.is_integer() and not MIN_INT <= value <= MAX_INT:
            # jsonb keeps 1e300 as the integer 1000…0, which reads back as a Python int orjson cannot write
            raise InvalidValue(where, f"number out of range (allowed: {MIN_INT} to {MAX_INT} for whole numbers)")
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_str(key, _path(where, key[:40]))
            check_value(item, _path(where, key[:40]), depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_value(item, _path(where, i), depth + 1)


def _constant(name: str) -> float:
    raise InvalidValue("", f"{name} is not a JSON number")


def parse_json(body: bytes) -> Any:
    """Parse a JSON body like the route will, refusing ``NaN``/``Infinity``; raises ``ValueError`` on bad JSON
    and :class:`InvalidValue` on a value clew refuses."""
    try:
        value = json.loads(body, parse_constant=_constant, parse_int=_parse_int)
    except RecursionError:
        raise InvalidValue("", f"nested more than {MAX_DEPTH} levels deep") from None
    check_value(value)
    return value


# --- per-field limits (pydantic annotated types for the request models) -------------------------------------

def _metadata(value: dict[str, Any]) -> dict[str, Any]:
    if len(value) > MAX_METADATA_KEYS:
        raise ValueError(f"at most {MAX_METADATA_KEYS} keys (got {len(value)})")
    for key in value:
        if len(key) > MAX_KEY_CHARS:
            raise ValueError(f"key {key[:40]!r}…: at most {MAX_KEY_CHARS} characters")
    size = len(json.dumps(value, ensure_ascii=False, default=str).encode("utf-8", "replace"))
    if size > MAX_METADATA_BYTES:
        raise ValueError(f"at most {MAX_METADATA_BYTES} bytes as JSON (got {size})")
    return value


def _label(value: str) -> str:
    if len(value) > MAX_KEY_CHARS:
        raise ValueError(f"at most {MAX_KEY_CHARS} characters")
    _check_str(value, "")
    return value


def _store_key(value: str) -> str:
    if len(value) > MAX_STORE_KEY_CHARS:
        raise ValueError(f"at most {MAX_STORE_KEY_CHARS} characters")
    _check_str(value, "")
    return value


Metadata = Annotated[dict[str, Any], AfterValidator(_metadata)]
Label = Annotated[str, AfterValidator(_label)]
StoreKey = Annotated[str, AfterValidator(_store_key)]
