"""The SQL validator of data questions: only one plain SELECT over allowed tables gets through.

SQL reaches this module from a model (which a prompt injected through the data itself can steer), from a
human editing it, or from a question that already is SQL; all three are treated alike. :func:`validate`
parses the text with ``sqlglot`` in the connection's dialect and refuses, with a reason a user can read:

- text that does not parse, or holds more than one statement (chained statements, a statement hidden after
  a comment);
- anything but a query: INSERT/UPDATE/DELETE/MERGE, DDL, COPY, PRAGMA, ATTACH, SET, SHOW, EXPLAIN, CALL,
  DO, GRANT, transactions, ``VALUES``… (only SELECT, set operations of SELECTs and WITH … SELECT);
- a data-modifying statement anywhere inside (writable CTEs, subqueries);
- ``SELECT … INTO`` (creates a table, or writes a file on MySQL), locking clauses (``FOR UPDATE``,
  ``FOR SHARE``, ``LOCK IN SHARE MODE``);
- a function on the deny-list (:mod:`nodes.data.denylist`);
- a table outside the allowed set (the connection's allow-list, else the tables its schema introspection
  found: system catalogs such as ``pg_catalog``, ``information_schema``, ``mysql.user`` or ``sqlite_master``
  are never among them);
- MySQL executable comments (``/*! … */``), which MySQL runs but every parser skips.

What passes is **regenerated from the parsed tree** (without comments) with a ``LIMIT`` of at most
``max_rows + 1`` (the extra row tells the executor the result was truncated), so the text executed is
exactly the statement that was checked. The executor (:mod:`nodes.data.execution`) then runs it in a
read-only transaction with a timeout, which holds even if this module were bypassed.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, TokenError

from nodes.data.denylist import denied

DIALECTS: dict[str, str] = {"postgresql": "postgres", "mysql": "mysql", "sqlite": "sqlite"}
"""clew's driver names → sqlglot dialect names."""

MAX_SQL_CHARS = 20_000

for _name in DIALECTS.values():  # load the dialects now (process start), not inside a run's first check
    sqlglot.Dialect.get_or_raise(_name)

_WRITES: tuple[type[exp.Expression], ...] = tuple(
    t
    for t in (
        getattr(exp, name, None)
        for name in (
            "Insert", "Update", "Delete", "Merge", "Create", "Drop", "Alter", "AlterColumn", "TruncateTable",
            "Copy", "Command", "Pragma", "Attach", "Detach", "Set", "Use", "Transaction", "Commit",
            "Rollback", "Grant", "Revoke", "LoadData", "Analyze", "Execute", "Describe", "Show", "Kill",
            "Refresh", "Cache", "Uncache", "Summarize", "Export", "Install",
        )
    )
    if isinstance(t, type)
)
_QUERY_ROOTS: tuple[type[exp.Expression], ...] = (exp.Select, exp.Union, exp.Intersect, exp.Except)
_EXECUTABLE_COMMENT = re.compile(r"/\*[!+]")


class Refused(ValueError):
    """The statement is not allowed; ``reason`` says why in words a user can act on."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Checked:
    """A statement that passed: ``sql`` is what to execute; ``tables`` the tables it reads."""

    sql: str
    original: str
    dialect: str
    tables: list[str]
    limit: int
    limit_forced: bool
    risks: list[str] = field(default_factory=list)


def dialect_of(driver: str) -> str:
    try:
        return DIALECTS[driver]
    except KeyError:
        raise Refused(f"unknown database driver {driver!r}") from None


def _parse(sql: str, dialect: str) -> exp.Expression:
    try:
        statements = [s for s in sqlglot.parse(sql, read=dialect) if s is not None]
    except (ParseError, TokenError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else "syntax error"
        raise Refused(f"the SQL does not parse as {dialect}: {first[:300]}") from None
    if not statements:
        raise Refused("the SQL is empty")
    if len(statements) > 1:
        raise Refused(f"exactly one statement is allowed, found {len(statements)}")
    return statements[0]


def _table_key(table: exp.Table) -> str:
    parts = [p for p in (table.catalog, table.db, table.name) if p]
    return ".".join(parts).lower()


def _cte_names(tree: exp.Expression) -> set[str]:
    return {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE) if cte.alias_or_name}


def _function_names(node: exp.Func) -> Iterable[str]:
    if isinstance(node, exp.Anonymous):
        yield str(node.name)
    else:
        yield node.sql_name()
        yield node.key


def _limit_value(node: exp.Expression) -> int | None:
    """The statement's own row limit (``LIMIT n`` or ``FETCH FIRST n ROWS``): None when it has none, -1
    when it is not a plain number (then it is replaced)."""
    clause = node.args.get("limit") or node.args.get("fetch")
    if clause is None:
        return None
    value = clause.args.get("expression") if isinstance(clause, exp.Limit) else clause.args.get("count")
    if isinstance(value, exp.Literal) and value.is_int:
        return int(value.this)
    return -1


def _risks(tree: exp.Expression, tables: list[str], large: set[str]) -> list[str]:
    """Why a human should look before this runs (for ``data.approval = on_risk``); empty: no risk seen."""
    out: list[str] = []
    for join in tree.find_all(exp.Join):
        select = join.find_ancestor(exp.Select)
        unconditioned = not join.args.get("on") and not join.args.get("using")
        if str(join.args.get("kind") or "").upper() == "CROSS" or (
            unconditioned and not (select is not None and select.args.get("where"))
        ):
            out.append("a join without a join condition (every row pairs with every row)")
            break
    big = sorted({t for t in tables if t in large or t.rsplit(".", 1)[-1] in large})
    if big:
        filtered = any(s.args.get("where") or s.args.get("group") for s in tree.find_all(exp.Select))
        if not filtered and next(tree.find_all(exp.AggFunc), None) is None:
            out.append(f"reads large table(s) {', '.join(big)} without a filter or aggregate")
    if len(set(tables)) > 4:
        out.append(f"reads {len(set(tables))} tables")
    return out


def validate(
    sql: str,
    driver: str,
    *,
    allowed_tables: Iterable[str],
    max_rows: int,
    large_tables: Iterable[str] = (),
) -> Checked:
    """Check ``sql`` for ``driver`` (``sqlite`` | ``postgresql`` | ``mysql``); raise :class:`Refused` or
    return the statement to execute.

    ``allowed_tables`` are lower-case names, bare (``orders``) or schema-qualified (``sales.orders``); a
    table in the statement is allowed when its qualified or bare name is among them. ``large_tables``
    feed the risk notes (``data.approval = on_risk``).
    """
    dialect = dialect_of(driver)
    text = sql.strip()
    if not text:
        raise Refused("the SQL is empty")
    if len(text) > MAX_SQL_CHARS:
        raise Refused(f"the SQL is longer than {MAX_SQL_CHARS} characters")
    if "\x00" in text:
        raise Refused("the SQL contains a NUL character")
    if dialect == "mysql" and _EXECUTABLE_COMMENT.search(text):
        raise Refused("MySQL executable comments (/*! … */, /*+ … */) are not allowed")
    tree = _parse(text, dialect)
    if not isinstance(tree, _QUERY_ROOTS):
        kind = tree.key.upper() if tree.key != "command" else str(tree.this).upper()
        raise Refused(f"only SELECT queries are allowed, not {kind}")
    for node in tree.walk():
        if isinstance(node, _WRITES):
            raise Refused(f"the query contains a {node.key.upper()} statement; only reading is allowed")
        if isinstance(node, exp.Into):
            raise Refused("SELECT … INTO is not allowed (it creates a table or writes a file)")
        if isinstance(node, exp.Lock):
            raise Refused("locking clauses (FOR UPDATE / FOR SHARE / LOCK IN SHARE MODE) are not allowed")
        if isinstance(node, exp.Func):
            for name in _function_names(node):
                reason = denied(name)
                if reason is not None:
                    raise Refused(f"the function {name.lower()}() is not allowed: {reason}")
    allowed = {t.lower() for t in allowed_tables}
    ctes = _cte_names(tree)
    tables: list[str] = []
    for table in tree.find_all(exp.Table):
        if not isinstance(table.this, exp.Identifier):
            continue  # a table function: checked by the deny-list above
        key = _table_key(table)
        bare = table.name.lower()
        if not table.db and bare in ctes:
            continue
        if key not in allowed and (table.db or bare not in allowed):
            raise Refused(f"the table {key} is not among the tables this connection may read")
        tables.append(key)
    existing = _limit_value(tree)
    cap = max_rows + 1
    forced = existing is None or existing < 0 or existing > max_rows
    limited = tree.copy()
    if limited.args.get("fetch") is not None:
        limited.set("fetch", None)  # FETCH FIRST n ROWS becomes LIMIT n (every dialect here has LIMIT)
    # set directly rather than with .limit(), which wraps a UNION in a subquery (and MySQL may then drop
    # the inner ORDER BY); a set operation's LIMIT applies to the whole result
    limit = cap if forced else int(existing or 0)
    limited.set("limit", exp.Limit(expression=exp.Literal.number(limit)))
    out = limited.sql(dialect=dialect, comments=False)
    return Checked(
        sql=out,
        original=sql,
        dialect=dialect,
        tables=sorted(set(tables)),
        limit=limit,
        limit_forced=forced,
        risks=_risks(tree, tables, {t.lower() for t in large_tables}),
    )
