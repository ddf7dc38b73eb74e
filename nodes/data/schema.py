"""Schema knowledge of a user's database: introspection, its cache, and the tables relevant to a question.

:func:`introspect` reads, through SQLAlchemy's inspector (read-only session, see :mod:`nodes.data.connect`),
every table of the connection's schema (or only the allow-listed ones): columns with types, nullability and
comments, primary key, foreign keys, the table comment, a row estimate (PostgreSQL ``pg_class.reltuples``,
MySQL ``information_schema.tables.table_rows``, SQLite an exact ``count(*)`` capped at 1,000,000 rows) and up
to :data:`SAMPLES` distinct sample values per column from the first rows. The result is cached in
``data_connections.schema_cache`` and read from there until a refresh is asked for (or the connection
changes).

:func:`rank_tables` scores each table against the question with BM25 over clew's one tokenizer
(:func:`providers.offline.tokens.terms`: words, plurals folded, CJK bigrams) on its name, column names,
comments and sample values, and keeps the best ones plus the tables their foreign keys point to.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from typing import Any

import sqlalchemy as sa
from sqlalchemy import inspect

from nodes.data.connect import ConnectionSpec, engine_for, error_text
from nodes.data.results import json_value
from persistence import connections as repo
from providers.offline.tokens import terms as tokenize
from retrieval.sparse import K1, B

SAMPLES = 3
SAMPLE_ROWS = 20
MAX_TABLES = 300
SQLITE_COUNT_CAP = 1_000_000


class SchemaUnavailable(RuntimeError):
    """The database could not be introspected (unreachable, no permission); the message says why."""


def _row_estimate(sync_conn: Any, spec: ConnectionSpec, name: str) -> int | None:
    # Catalog queries of the user's database (not clew's): built with SQLAlchemy constructs.
    try:
        if spec.driver == "postgresql":
            cls = sa.table("pg_class", sa.column("reltuples"), sa.column("oid"), schema="pg_catalog")
            regclass = sa.func.to_regclass(f'"{spec.schema}"."{name}"' if spec.schema else f'"{name}"')
            value = sync_conn.execute(sa.select(cls.c.reltuples).where(cls.c.oid == regclass)).scalar()
            return max(int(value), 0) if value is not None and value >= 0 else None
        if spec.driver == "mysql":
            tables = sa.table("tables", sa.column("table_rows"), sa.column("table_schema"), sa.column("table_name"),
                              schema="information_schema")
            value = sync_conn.execute(
                sa.select(tables.c.table_rows).where(tables.c.table_schema == spec.database, tables.c.table_name == name)
            ).scalar()
            return int(value) if value is not None else None
        inner = sa.select(sa.literal(1)).select_from(sa.table(name)).limit(SQLITE_COUNT_CAP).subquery()
        return int(sync_conn.execute(sa.select(sa.func.count()).select_from(inner)).scalar() or 0)
    except Exception:
        return None


def _samples(sync_conn: Any, spec: ConnectionSpec, name: str, columns: list[str]) -> dict[str, list[Any]]:
    try:
        tbl = sa.table(name, *(sa.column(c) for c in columns), schema=spec.schema if spec.driver == "postgresql" else None)
        rows = sync_conn.execute(sa.select(tbl).limit(SAMPLE_ROWS)).fetchall()
    except Exception:
        return {}
    out: dict[str, list[Any]] = {}
    for i, col in enumerate(columns):
        seen: list[Any] = []
        for row in rows:
            v = json_value(row[i])
            if v is None or v in seen:
                continue
            if isinstance(v, str) and len(v) > 60:
                v = v[:60] + "…"
            seen.append(v)
            if len(seen) >= SAMPLES:
                break
        out[col] = seen
    return out


def _introspect_sync(sync_conn: Any, spec: ConnectionSpec) -> dict[str, Any]:
    insp = inspect(sync_conn)
    schema = spec.schema if spec.driver == "postgresql" else None
    names = sorted(insp.get_table_names(schema=schema)) + sorted(insp.get_view_names(schema=schema))
    if spec.allowed_tables is not None:
        allowed = set(spec.allowed_tables)
        names = [n for n in names if n.lower() in allowed or f"{schema}.{n}".lower() in allowed]
    tables = []
    for name in names[:MAX_TABLES]:
        try:
            cols = insp.get_columns(name, schema=schema)
        except Exception:
            continue
        try:
            pk = set(insp.get_pk_constraint(name, schema=schema).get("constrained_columns") or [])
        except Exception:
            pk = set()
        try:
            fks = [
                {
                    "columns": fk.get("constrained_columns") or [],
                    "references_table": fk.get("referred_table"),
                    "references_columns": fk.get("referred_columns") or [],
                }
                for fk in insp.get_foreign_keys(name, schema=schema)
            ]
        except Exception:
            fks = []
        try:
            comment = (insp.get_table_comment(name, schema=schema) or {}).get("text")
        except Exception:
            comment = None
        col_names = [str(c["name"]) for c in cols]
        samples = _samples(sync_conn, spec, name, col_names)
        tables.append(
            {
                "name": name,
                "schema": schema,
                "comment": comment,
                "row_estimate": _row_estimate(sync_conn, spec, name),
                "columns": [
                    {
                        "name": str(c["name"]),
                        "type": str(c["type"]),
                        "nullable": bool(c.get("nullable", True)),
                        "primary_key": str(c["name"]) in pk,
                        "comment": c.get("comment"),
                        "samples": samples.get(str(c["name"]), []),
                    }
                    for c in cols
                ],
                "foreign_keys": fks,
            }
        )
    return {"driver": spec.driver, "database": spec.database, "schema": schema, "tables": tables}


async def introspect(spec: ConnectionSpec) -> dict[str, Any]:
    """Read the schema of ``spec``'s database (see module docstring); raise :class:`SchemaUnavailable`."""
    engine = await engine_for(spec)
    try:
        async with engine.connect() as conn:
            try:
                return await conn.run_sync(_introspect_sync, spec)
            finally:
                await conn.rollback()
    except Exception as exc:
        raise SchemaUnavailable(error_text(exc)) from None


async def get_schema(db: Any, spec: ConnectionSpec, *, refresh: bool = False) -> dict[str, Any]:
    """The cached schema of ``spec`` (introspected and stored when missing or when ``refresh``)."""
    if not refresh:
        async with db.connection() as conn:
            row = await repo.cached_schema(conn, spec.user_id, spec.connection_id)
        if row and row.get("schema_cache"):
            return dict(row["schema_cache"])
    schema = await introspect(spec)
    async with db.connection() as conn:
        cached_at = await repo.store_schema(conn, spec.user_id, spec.connection_id, schema)
    schema["cached_at"] = cached_at.isoformat() if cached_at is not None else None
    return schema


def allowed_tables(schema: dict[str, Any], spec: ConnectionSpec) -> set[str]:
    """Names a statement may read: the allow-list, else every introspected table (bare and qualified)."""
    if spec.allowed_tables is not None:
        return set(spec.allowed_tables)
    out: set[str] = set()
    for t in schema.get("tables") or []:
        out.add(str(t["name"]).lower())
        if t.get("schema"):
            out.add(f"{t['schema']}.{t['name']}".lower())
    return out


def large_tables(schema: dict[str, Any], threshold: int) -> set[str]:
    return {str(t["name"]).lower() for t in schema.get("tables") or [] if (t.get("row_estimate") or 0) >= threshold}


def _table_text(table: dict[str, Any]) -> list[str]:
    parts = [str(table["name"]), str(table.get("comment") or "")]
    for c in table.get("columns") or []:
        parts += [str(c["name"]), str(c.get("comment") or "")]
        parts += [str(s) for s in c.get("samples") or [] if isinstance(s, str)]
    # the table's own name counts twice: a question naming it should find it first
    return tokenize(" ".join(parts)) + tokenize(str(table["name"]))


def rank_tables(schema: dict[str, Any], question: str, *, limit: int, also: Iterable[str] = ()) -> list[str]:
    """Names of the tables most relevant to ``question`` (BM25 over :func:`_table_text`), best first, at
    most ``limit``, then the tables their foreign keys reference and the tables named in ``also`` (earlier
    turns); all tables when there are no more than ``limit``."""
    tables = list(schema.get("tables") or [])
    names = [str(t["name"]) for t in tables]
    if len(tables) <= limit:
        return names
    docs = [Counter(_table_text(t)) for t in tables]
    avg = sum(sum(d.values()) for d in docs) / max(len(docs), 1) or 1.0
    terms = set(tokenize(question))
    df = {term: sum(1 for d in docs if term in d) for term in terms}
    scores = []
    for i, doc in enumerate(docs):
        length = sum(doc.values())
        score = 0.0
        for term in terms:
            tf = doc.get(term, 0)
            if not tf:
                continue
            idf = math.log(1 + (len(docs) - df[term] + 0.5) / (df[term] + 0.5))
            score += idf * tf * (K1 + 1) / (tf + K1 * (1 - B + B * length / avg))
        scores.append((score, i))
    ranked = [names[i] for s, i in sorted(scores, key=lambda p: (-p[0], p[1])) if s > 0][:limit]
    if not ranked:
        ranked = names[:limit]
    by_name = {str(t["name"]).lower(): t for t in tables}
    extra: list[str] = []
    for name in list(ranked):
        for fk in by_name[name.lower()].get("foreign_keys") or []:
            ref = str(fk.get("references_table") or "")
            if ref.lower() in by_name and ref not in ranked and ref not in extra:
                extra.append(ref)
    for name in also:
        key = name.rsplit(".", 1)[-1].lower()
        if key in by_name and by_name[key]["name"] not in ranked + extra:
            extra.append(by_name[key]["name"])
    return ranked + extra


def describe(schema: dict[str, Any], tables: Iterable[str]) -> str:
    """The chosen tables as compact DDL-like text for a prompt (types, keys, samples, row estimates)."""
    wanted = {t.lower() for t in tables}
    lines: list[str] = []
    for t in schema.get("tables") or []:
        if str(t["name"]).lower() not in wanted:
            continue
        qualified = f"{t['schema']}.{t['name']}" if t.get("schema") else t["name"]
        head = f"TABLE {qualified}"
        if t.get("row_estimate") is not None:
            head += f"  -- about {t['row_estimate']} rows"
        if t.get("comment"):
            head += f"; {t['comment']}"
        lines.append(head)
        for c in t.get("columns") or []:
            bits = [f"  {c['name']} {c['type']}"]
            if c.get("primary_key"):
                bits.append("PRIMARY KEY")
            if c.get("comment"):
                bits.append(f"-- {c['comment']}")
            if c.get("samples"):
                bits.append(f"e.g. {', '.join(repr(s) for s in c['samples'])}")
            lines.append(" ".join(bits))
        for fk in t.get("foreign_keys") or []:
            lines.append(
                f"  FOREIGN KEY ({', '.join(fk['columns'])}) REFERENCES {fk['references_table']}"
                f"({', '.join(fk['references_columns'])})"
            )
    return "\n".join(lines)
