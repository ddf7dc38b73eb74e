"""Data questions without a server: JSON-safe values, chart choice, CSV, table ranking, the secret box, SQL
detection and the validator's rewriting."""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from pathlib import Path

import pytest

from nodes.data.analyzing import looks_like_sql
from nodes.data.results import chart_for, column_types, json_value, to_csv
from nodes.data.schema import rank_tables
from nodes.data.sql_safety import Refused, validate
from persistence import secret_box


def _result(cols: list[tuple[str, str]], rows: list[list[object]]) -> dict[str, object]:
    columns = column_types(cols, rows)
    return {"columns": columns, "rows": [[json_value(v) for v in r] for r in rows]}


def test_json_safe_values() -> None:
    assert json_value(decimal.Decimal("12.50")) == 12.5
    assert json_value(decimal.Decimal("12")) == 12
    assert json_value(decimal.Decimal("1234567890.1234567890123")) == "1234567890.1234567890123"
    assert json_value(decimal.Decimal("NaN")) == "NaN"
    assert json_value(float("inf")) == "inf"
    assert json_value(dt.date(2024, 1, 2)) == "2024-01-02"
    assert json_value(dt.datetime(2024, 1, 2, 3, 4, 5)) == "2024-01-02T03:04:05"
    assert json_value(dt.timedelta(minutes=1)) == 60.0
    assert json_value(b"\x00\x01") == "AAE="
    assert json_value(memoryview(b"ab")) == "YWI="
    u = uuid.uuid4()
    assert json_value(u) == str(u)
    assert json_value({"a": [decimal.Decimal("1.5")]}) == {"a": [1.5]}


def test_chart_shapes() -> None:
    line = chart_for(_result([("day", "date"), ("total", "numeric")],
                             [[dt.date(2024, 1, 1), decimal.Decimal("3")], [dt.date(2024, 1, 2), decimal.Decimal("4")]]))
    assert line["type"] == "line" and line["spec"]["encoding"]["x"] == {"field": "day", "type": "temporal"}
    bar = chart_for(_result([("city", "text"), ("n", "int8")], [["Paris", 3], ["Lyon", 1]]))
    assert bar["type"] == "bar" and bar["spec"]["encoding"]["y"]["field"] == "n"
    arc = chart_for(_result([("status", "text"), ("share", "numeric")], [["paid", 0.8], ["refunded", 0.2]]))
    assert arc["type"] == "arc" and arc["spec"]["encoding"]["theta"]["field"] == "share"
    pct = chart_for(_result([("status", ""), ("pct", "")], [["a", 60], ["b", 40]]))  # SQLite: kinds from values
    assert pct["type"] == "arc"
    point = chart_for(_result([("amount", "numeric"), ("qty", "int4")], [[1, 2], [3, 4]]))
    assert point["type"] == "point"
    assert chart_for(_result([("name", "text")], [["a"]]))["type"] == "table"
    assert chart_for(_result([("a", "text"), ("b", "text")], [["x", "y"]]))["type"] == "table"
    assert chart_for(_result([("a", "text"), ("n", "int4")], []))["spec"] is None
    iso = chart_for(_result([("day", ""), ("n", "")], [["2024-01-01", 1], ["2024-01-02", 2]]))
    assert iso["type"] == "line"


def test_csv() -> None:
    text = to_csv({"columns": [{"name": "a"}, {"name": "b"}], "rows": [[1, None], ['x,"y"', 2.5]]})
    assert text == 'a,b\r\n1,\r\n"x,""y""",2.5\r\n'


def test_rank_tables() -> None:
    def table(name: str, cols: list[str], fks: list[str] = ()) -> dict[str, object]:  # type: ignore[assignment]
        return {"name": name, "columns": [{"name": c} for c in cols],
                "foreign_keys": [{"columns": ["x"], "references_table": f, "references_columns": ["id"]} for f in fks]}

    schema = {"tables": [
        table("customers", ["id", "name", "city"]),
        table("orders", ["id", "customer_id", "amount", "ordered_at"], ["customers"]),
        table("invoices", ["id", "total"]),
        table("audit_log", ["id", "action"]),
        table("shipments", ["id", "carrier"]),
    ]}
    assert rank_tables(schema, "total amount of orders", limit=1) == ["orders", "customers"]
    assert rank_tables(schema, "which carrier shipped most", limit=1, also=["invoices"]) == ["shipments", "invoices"]
    assert len(rank_tables(schema, "anything", limit=10)) == 5
    assert rank_tables(schema, "zzz unknown words", limit=2) == ["customers", "orders"]


def test_secret_box(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("CLEW_SECRET_KEY", raising=False)
    token = secret_box.encrypt(tmp_path, "hunter2")
    assert "hunter2" not in token and secret_box.decrypt(tmp_path, token) == "hunter2"
    key = tmp_path / secret_box.KEY_FILE
    assert (key.stat().st_mode & 0o777) == 0o600
    other = tmp_path / "other"
    with pytest.raises(secret_box.SecretUnreadable):
        secret_box.decrypt(other, token)
    monkeypatch.setenv("CLEW_SECRET_KEY", "a pass phrase")
    env_token = secret_box.encrypt(tmp_path, "pw")
    assert secret_box.decrypt(other, env_token) == "pw"  # the env key wins, whatever the data dir


def test_looks_like_sql() -> None:
    for text in ["SELECT 1", "  with x as (select 1) select * from x", "(select 1)", "/* c */ DELETE FROM t",
                 "-- hi\nselect 1", "DROP TABLE t", "SELECT 1; DROP TABLE t"]:
        assert looks_like_sql(text, "postgres"), text
    for text in ["How many orders?", "Select the best city for me", "show me the sales of last month"]:
        assert not looks_like_sql(text, "postgres"), text  # plain language: sent to the model


def test_validator_rewrites_what_it_checked() -> None:
    out = validate("select /* note */ a from t -- end", "postgresql", allowed_tables={"t"}, max_rows=10)
    assert out.sql == "SELECT a FROM t LIMIT 11" and out.limit_forced
    out = validate("select a from t limit 3", "mysql", allowed_tables={"t"}, max_rows=10)
    assert out.sql == "SELECT a FROM t LIMIT 3" and not out.limit_forced
    out = validate("select a from public.t", "postgresql", allowed_tables={"public.t"}, max_rows=10)
    assert out.tables == ["public.t"]
    with pytest.raises(Refused, match="not among"):
        validate("select a from other.t", "postgresql", allowed_tables={"t"}, max_rows=10)
    risky = validate("select * from big", "sqlite", allowed_tables={"big"}, max_rows=10, large_tables={"big"})
    assert risky.risks and "without a filter" in risky.risks[0]
    assert not validate("select count(*) from big", "sqlite", allowed_tables={"big"}, max_rows=10,
                        large_tables={"big"}).risks
