"""Query results as JSON, a chart chosen from their shape, and CSV.

Values become JSON-safe (:func:`json_value`): decimals become numbers when a double holds them exactly
enough (15 significant digits), else strings; dates and times ISO 8601 strings; intervals seconds; bytes
base64; UUIDs, IPs and anything else their text. Each column gets a kind (``temporal``, ``quantitative``,
``nominal``) from its database type or, when the driver gives none (SQLite), from its values.

:func:`chart_for` picks a Vega-Lite v5 spec (https://vega.github.io/vega-lite/docs/) from the shape:
time + number → line; category + number → bar, or arc when the numbers are shares of a whole; two numbers
→ point; anything else → a table (no spec).
"""

from __future__ import annotations

import base64
import csv
import datetime as dt
import decimal
import io
import math
import re
import uuid
from collections.abc import Sequence
from typing import Any

VEGA_LITE_SCHEMA = "https://vega.github.io/schema/vega-lite/v5.json"
CHART_ROWS = 500
_ISO_DATE = re.compile(r"^\d{4}-\d{2}(-\d{2})?([ T]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:?\d{2}|Z)?)?$")
_SHARE_NAMES = re.compile(r"share|percent|pct|ratio|proportion|fraction|占比|比例")

_TEMPORAL_TYPES = ("date", "time", "timestamp", "datetime", "year", "interval")
_NUMBER_TYPES = ("int", "numeric", "decimal", "float", "double", "real", "money", "newdecimal", "long", "short",
                 "tiny", "int24", "longlong", "serial")


def json_value(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(value)
    if isinstance(value, decimal.Decimal):
        if not value.is_finite():
            return str(value)
        if value == value.to_integral_value() and abs(value) < 2**53:
            return int(value)
        return float(value) if len(value.normalize().as_tuple().digits) <= 15 else str(value)
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, bytes | bytearray | memoryview):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, dict):
        return {str(k): json_value(v) for k, v in value.items()}
    if isinstance(value, list | tuple | set):
        return [json_value(v) for v in value]
    return str(value)


def json_row(row: Sequence[Any]) -> list[Any]:
    return [json_value(v) for v in row]


def _kind_of_type(type_name: str) -> str | None:
    t = type_name.lower()
    if not t:
        return None
    if any(k in t for k in _TEMPORAL_TYPES):
        return "temporal"
    if t in ("bool", "boolean", "bit"):
        return "nominal"
    if any(k in t for k in _NUMBER_TYPES):
        return "quantitative"
    return "nominal"


def _kind_of_values(values: Sequence[Any]) -> str:
    present = [v for v in values if v is not None]
    if not present:
        return "nominal"
    if all(isinstance(v, int | float | decimal.Decimal) and not isinstance(v, bool) for v in present):
        return "quantitative"
    if all(isinstance(v, dt.date | dt.datetime) for v in present):
        return "temporal"
    if all(isinstance(v, str) and _ISO_DATE.match(v) for v in present):
        return "temporal"
    return "nominal"


def column_types(cols: Sequence[tuple[str, str]], rows: Sequence[Sequence[Any]]) -> list[dict[str, str]]:
    """``[{"name", "type", "kind"}]`` from the driver's ``(name, type name)`` pairs and the raw rows."""
    out = []
    for i, (name, type_name) in enumerate(cols):
        kind = _kind_of_type(type_name) or _kind_of_values([r[i] for r in rows[:200]])
        out.append({"name": str(name), "type": type_name or kind, "kind": kind})
    return out


def _is_share(name: str, values: list[Any]) -> bool:
    nums = [v for v in values if isinstance(v, int | float)]
    if not nums or len(nums) != len(values) or len(nums) > 12 or any(v < 0 for v in nums):
        return False
    if _SHARE_NAMES.search(name.lower()):
        return True
    total = sum(nums)
    return math.isclose(total, 100.0, abs_tol=0.5) or math.isclose(total, 1.0, abs_tol=0.005)


def chart_for(result: dict[str, Any], title: str = "") -> dict[str, Any]:
    """``{"type": "line" | "bar" | "arc" | "point" | "table", "x", "y", "spec": Vega-Lite spec | None}``."""
    columns = result.get("columns") or []
    rows = result.get("rows") or []
    kinds = [c["kind"] for c in columns]
    names = [c["name"] for c in columns]
    table = {"type": "table", "x": None, "y": None, "spec": None}
    if not rows or len(columns) < 2:
        return table
    temporal = [i for i, k in enumerate(kinds) if k == "temporal"]
    numbers = [i for i, k in enumerate(kinds) if k == "quantitative"]
    nominal = [i for i, k in enumerate(kinds) if k == "nominal"]
    values = [dict(zip(names, r, strict=False)) for r in rows[:CHART_ROWS]]
    if temporal and numbers:
        x, y, mark = temporal[0], numbers[0], "line"
    elif nominal and numbers:
        x, y = nominal[0], numbers[0]
        mark = "arc" if _is_share(names[y], [r[y] for r in rows]) else "bar"
    elif len(numbers) >= 2:
        x, y, mark = numbers[0], numbers[1], "point"
    else:
        return table
    spec: dict[str, Any] = {"$schema": VEGA_LITE_SCHEMA, "data": {"values": values}}
    if title:
        spec["title"] = title[:200]
    if mark == "arc":
        spec["mark"] = {"type": "arc", "tooltip": True}
        spec["encoding"] = {
            "theta": {"field": names[y], "type": "quantitative", "stack": True},
            "color": {"field": names[x], "type": "nominal"},
        }
    else:
        spec["mark"] = {"type": mark, "tooltip": True, **({"point": True} if mark == "line" else {})}
        spec["encoding"] = {
            "x": {"field": names[x], "type": kinds[x], **({"sort": None} if mark == "bar" else {})},
            "y": {"field": names[y], "type": "quantitative"},
        }
    return {"type": mark, "x": names[x], "y": names[y], "spec": spec}


def to_csv(result: dict[str, Any]) -> str:
    """The result as CSV (RFC 4180, header row first)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow([c["name"] for c in result.get("columns") or []])
    for row in result.get("rows") or []:
        writer.writerow(["" if v is None else v for v in row])
    return out.getvalue()
