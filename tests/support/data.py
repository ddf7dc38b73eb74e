"""Scratch target databases for data-question tests: the same small shop (customers, orders, audit_log) on
the machine's real PostgreSQL, real MariaDB and a SQLite file, plus checksums that prove nothing changed.

PostgreSQL: ``CLEW_TEST_TARGET_PG`` (default ``postgresql://postgres@127.0.0.1:5432/postgres``, trust auth);
MariaDB/MySQL: ``CLEW_TEST_TARGET_MYSQL`` (default ``root@127.0.0.1:3306``, no password). Each fixture makes
its own database (``clew_dq_<random>``) and drops it afterwards.
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pymysql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

PG_ADMIN = os.environ.get("CLEW_TEST_TARGET_PG", "postgresql://postgres@127.0.0.1:5432/postgres")
MYSQL_HOST = os.environ.get("CLEW_TEST_TARGET_MYSQL_HOST", "127.0.0.1")
MYSQL_PORT = int(os.environ.get("CLEW_TEST_TARGET_MYSQL_PORT", "3306"))
MYSQL_USER = os.environ.get("CLEW_TEST_TARGET_MYSQL_USER", "root")

CUSTOMERS = [(1, "Ada", "Paris"), (2, "Brook", "Lyon"), (3, "Chen", "Paris"), (4, "Dana", "Nice")]
ORDERS = [
    (1, 1, "120.50", "2024-01-05", "paid"),
    (2, 1, "80.00", "2024-01-20", "paid"),
    (3, 2, "42.25", "2024-02-02", "refunded"),
    (4, 3, "300.00", "2024-02-14", "paid"),
    (5, 4, "15.75", "2024-03-01", "paid"),
    (6, 3, "99.99", "2024-03-09", "paid"),
]
AUDIT = [(1, "login", "ok"), (2, "logout", "ok")]

DDL = {
    "postgresql": [
        "CREATE TABLE customers (id serial PRIMARY KEY, name text NOT NULL, city text NOT NULL)",
        "COMMENT ON TABLE customers IS 'people who buy'",
        "CREATE TABLE orders (id serial PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), "
        "amount numeric(10,2) NOT NULL, ordered_at date NOT NULL, status text NOT NULL)",
        "CREATE TABLE audit_log (id serial PRIMARY KEY, action text, detail text)",
    ],
    "mysql": [
        "CREATE TABLE customers (id int PRIMARY KEY, name varchar(50) NOT NULL, city varchar(50) NOT NULL)",
        "CREATE TABLE orders (id int PRIMARY KEY, customer_id int NOT NULL, amount decimal(10,2) NOT NULL, "
        "ordered_at date NOT NULL, status varchar(20) NOT NULL, FOREIGN KEY (customer_id) REFERENCES customers(id))",
        "CREATE TABLE audit_log (id int PRIMARY KEY, action varchar(50), detail varchar(50))",
    ],
    "sqlite": [
        "CREATE TABLE customers (id integer PRIMARY KEY, name text NOT NULL, city text NOT NULL)",
        "CREATE TABLE orders (id integer PRIMARY KEY, customer_id integer NOT NULL REFERENCES customers(id), "
        "amount numeric NOT NULL, ordered_at text NOT NULL, status text NOT NULL)",
        "CREATE TABLE audit_log (id integer PRIMARY KEY, action text, detail text)",
    ],
}
INSERTS = [
    ("customers", "INSERT INTO customers (id, name, city) VALUES ({p}, {p}, {p})", CUSTOMERS),
    ("orders", "INSERT INTO orders (id, customer_id, amount, ordered_at, status) VALUES ({p}, {p}, {p}, {p}, {p})",
     ORDERS),
    ("audit_log", "INSERT INTO audit_log (id, action, detail) VALUES ({p}, {p}, {p})", AUDIT),
]


@dataclass
class Target:
    """A scratch target database and how to reach it (``fields``: the connection body for the API)."""

    driver: str
    fields: dict[str, Any]
    admin: Any  # a callable giving a fresh admin connection (sync)

    def spec(self, **overrides: Any) -> Any:
        from nodes.data.connect import ConnectionSpec

        f = {**self.fields, **overrides}
        return ConnectionSpec(
            connection_id=f.get("connection_id", str(uuid.uuid4())),
            user_id="tester",
            name=f["name"],
            driver=self.driver,
            database=f["database"],
            host=f.get("host"),
            port=f.get("port"),
            username=f.get("username"),
            password=f.get("password"),
            allowed_tables=tuple(f["allowed_tables"]) if f.get("allowed_tables") else None,
        )


@contextmanager
def postgres_target() -> Iterator[Target]:
    name = f"clew_dq_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(PG_ADMIN, dbname=name)
    with psycopg.connect(url, autocommit=True) as conn:
        for stmt in DDL["postgresql"]:
            conn.execute(stmt)
        for _, sql, rows in INSERTS:
            for row in rows:
                conn.execute(sql.format(p="%s"), row)
        conn.execute("SELECT setval('orders_id_seq', 100)")
    info = conninfo_to_dict(PG_ADMIN)
    fields = {"name": "shop (postgres)", "driver": "postgresql", "host": info.get("host", "127.0.0.1"),
              "port": int(info.get("port", 5432)), "database": name, "username": info.get("user", "postgres")}
    try:
        yield Target("postgresql", fields, lambda: psycopg.connect(url, autocommit=True))
    finally:
        with psycopg.connect(PG_ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def _mysql(database: str | None = None) -> Any:
    return pymysql.connect(host=MYSQL_HOST, port=MYSQL_PORT, user=MYSQL_USER, password="", database=database,
                           autocommit=True)


@contextmanager
def mysql_target() -> Iterator[Target]:
    name = f"clew_dq_{uuid.uuid4().hex[:10]}"
    conn = _mysql()
    with conn.cursor() as cur:
        cur.execute(f"CREATE DATABASE `{name}`")
    conn.close()
    conn = _mysql(name)
    with conn.cursor() as cur:
        for stmt in DDL["mysql"]:
            cur.execute(stmt)
        for _, sql, rows in INSERTS:
            cur.executemany(sql.format(p="%s"), rows)
    conn.close()
    fields = {"name": "shop (mariadb)", "driver": "mysql", "host": MYSQL_HOST, "port": MYSQL_PORT,
              "database": name, "username": MYSQL_USER}
    try:
        yield Target("mysql", fields, lambda: _mysql(name))
    finally:
        conn = _mysql()
        with conn.cursor() as cur:
            cur.execute(f"DROP DATABASE IF EXISTS `{name}`")
            cur.execute("DROP USER IF EXISTS 'clew_evil'@'localhost'")
        conn.close()


@contextmanager
def sqlite_target(directory: Path) -> Iterator[Target]:
    path = directory / f"shop-{uuid.uuid4().hex[:8]}.db"
    conn = sqlite3.connect(path)
    for stmt in DDL["sqlite"]:
        conn.execute(stmt)
    for _, sql, rows in INSERTS:
        conn.executemany(sql.format(p="?"), rows)
    conn.commit()
    conn.close()
    fields = {"name": "shop (sqlite)", "driver": "sqlite", "database": str(path)}
    yield Target("sqlite", fields, lambda: sqlite3.connect(path))


def checksum(target: Target) -> str:
    """A digest of everything a statement could change: the tables that exist and every row of each (plus
    sequences and large objects on PostgreSQL; the files of the directory on SQLite)."""
    h = hashlib.sha256()
    if target.driver == "postgresql":
        with target.admin() as conn:
            tables = [r[0] for r in conn.execute(
                "SELECT n.nspname || '.' || c.relname || ':' || c.relkind::text FROM pg_class c "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE n.nspname NOT IN ('pg_catalog', 'information_schema', 'pg_toast') ORDER BY 1").fetchall()]
            h.update(repr(tables).encode())
            for t in ("customers", "orders", "audit_log"):
                rows = conn.execute(f"SELECT * FROM {t} ORDER BY id").fetchall()
                h.update(repr(rows).encode())
            h.update(repr(conn.execute("SELECT last_value FROM orders_id_seq").fetchall()).encode())
            h.update(repr(conn.execute("SELECT count(*) FROM pg_largeobject_metadata").fetchall()).encode())
            h.update(repr(conn.execute("SELECT current_setting('default_transaction_read_only')").fetchall()).encode())
    elif target.driver == "mysql":
        conn = target.admin()
        try:
            with conn.cursor() as cur:
                cur.execute("SHOW FULL TABLES")
                h.update(repr(sorted(cur.fetchall())).encode())
                for t in ("customers", "orders", "audit_log"):
                    cur.execute(f"SELECT * FROM {t} ORDER BY id")
                    h.update(repr(cur.fetchall()).encode())
                # only what the hostile statements would create: other tests use this server at the same time
                cur.execute("SELECT user, host FROM mysql.user WHERE user LIKE 'clew_evil%%' ORDER BY 1, 2")
                h.update(repr(cur.fetchall()).encode())
                cur.execute("SHOW DATABASES LIKE 'clew_evil%%'")
                h.update(repr(sorted(cur.fetchall())).encode())
        finally:
            conn.close()
    else:
        path = Path(target.fields["database"])
        h.update(path.read_bytes())
        h.update(repr(sorted(p.name for p in path.parent.iterdir())).encode())
    return h.hexdigest()
