"""Read-only by construction: hostile statements against real PostgreSQL, real MariaDB and SQLite.

For each dialect, at least 40 hostile statements (writes, DDL, chained statements, writable CTEs,
SELECT … INTO, locking reads, sleeps, file reads, COPY, PRAGMA, ATTACH, set_config, comment and case tricks,
unicode look-alikes, statements hidden behind string literals) are

1. all refused by the validator, before anything executes, with a table checksum equal before and after;
2. sent straight to the execution layer (validator bypassed): every statement that would modify data fails
   there, and the checksum is still equal, so the read-only transaction holds on its own.

Statements that would write a file or change the server outside the database (``INTO OUTFILE``, ``COPY …
TO``, ``SET GLOBAL``) are only checked against the validator: running them on the shared test server to
prove a point is not worth the risk, and docs/data-questions.md says which layer stops them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from nodes.data.execution import QueryFailed, QueryResult, execute_readonly
from nodes.data.sql_safety import Refused, validate
from persistence.db import Database
from tests.support.data import Target, checksum, mysql_target, postgres_target, sqlite_target
from tests.support.pg import scratch_database
from tests.support.runtime import node_runtime

ALLOWED = {"customers", "orders"}  # audit_log exists but is not allow-listed


@dataclass(frozen=True)
class Hostile:
    sql: str
    # the read-only transaction itself must refuse it (everything, refused or not, must leave the checksum
    # equal: a few statements run and are undone by the rollback, e.g. PostgreSQL's lo_create)
    writes: bool = False
    bypass: bool = True  # also sent straight to the execution layer


COMMON = [
    Hostile("DELETE FROM orders", True),
    Hostile("UPDATE orders SET amount = 0", True),
    Hostile("INSERT INTO orders (id, customer_id, amount, ordered_at, status) VALUES (999, 1, 1, '2024-01-01', 'x')", True),
    Hostile("INSERT INTO orders SELECT * FROM orders WHERE id = 1", True),
    Hostile("DROP TABLE audit_log", True),
    Hostile("CREATE TABLE clew_evil (id integer)", True),
    Hostile("ALTER TABLE orders ADD COLUMN evil integer", True),
    Hostile("CREATE INDEX clew_evil_idx ON orders (amount)", True),
    Hostile("CREATE VIEW clew_evil_v AS SELECT 1 AS x", True),
    Hostile("DELETE FROM customers WHERE id > 0", True),
    Hostile("UPDATE orders SET amount = amount * 2 WHERE id IN (SELECT id FROM orders)", True),
    # chained statements
    Hostile("SELECT 1; DELETE FROM orders", True),
    Hostile("SELECT * FROM orders; DROP TABLE customers", True),
    Hostile("select 1;\nupdate orders set amount = 0", True),
    Hostile("SELECT 1 UNION SELECT 2; DROP TABLE orders", True),
    Hostile("SELECT 1 -- a comment\n; DELETE FROM orders", True),
    # a statement hidden behind a string literal
    Hostile("SELECT * FROM orders WHERE status = ''; DELETE FROM orders; --'", True),
    Hostile("SELECT 'x' FROM orders WHERE status = 'a'';DELETE FROM orders;--'", False),
    # case and comment tricks
    Hostile("DeLeTe FrOm orders", True),
    Hostile("/* just reading */ DELETE FROM orders", True),
    Hostile("/* SELECT */ UPDATE orders SET status = 'x'", True),
    Hostile("  \n\tdelete\n  from orders  ", True),
    # writable CTEs, INTO, locking
    Hostile("WITH d AS (DELETE FROM orders RETURNING *) SELECT * FROM d", True),
    Hostile("WITH u AS (UPDATE orders SET amount = 0 RETURNING id) SELECT count(*) FROM u", True),
    Hostile("SELECT * INTO clew_evil FROM orders", True),
    Hostile("SELECT * FROM orders FOR UPDATE"),
    Hostile("SELECT * FROM orders WHERE id = 1 FOR UPDATE SKIP LOCKED"),
    # not a SELECT
    Hostile("VALUES (1)"),
    Hostile("BEGIN"),
    Hostile("COMMIT"),
    Hostile("ROLLBACK"),
    Hostile("TRUNCATE TABLE orders", True),
    # tables outside the allowed set, system catalogs
    Hostile("SELECT * FROM audit_log"),
    Hostile("SELECT o.id FROM orders o JOIN audit_log a ON a.id = o.id"),
    Hostile("SELECT * FROM information_schema.tables"),
    # unicode look-alikes (fullwidth letters, Cyrillic e, a fullwidth semicolon)
    Hostile("ＤＥＬＥＴＥ FROM orders", True),
    Hostile("DELETE FROM ord\u0435rs", True),
    Hostile("SELECT * FROM orders WHERE id = 1 \uff1b DELETE FROM orders", True),
    Hostile("S\u0415LECT * FROM orders"),
]

POSTGRES = [
    Hostile("SELECT pg_sleep(30)"),
    Hostile("SELECT PG_SLEEP(30)"),
    Hostile("SELECT pg_catalog.pg_sleep(30)"),
    Hostile("SELECT * FROM orders WHERE pg_sleep(30) IS NOT NULL"),
    Hostile("SELECT pg_sleep_for('30 seconds')"),
    Hostile("SELECT pg_read_file('/etc/hostname')"),
    Hostile("SELECT pg_read_binary_file('/etc/hostname')"),
    Hostile("SELECT * FROM pg_ls_dir('.')"),
    Hostile("SELECT lo_import('/etc/hostname')"),  # allowed read-only; undone by the rollback
    Hostile("SELECT lo_create(0)"),  # allowed read-only; undone by the rollback
    Hostile("COPY orders FROM '/etc/hostname'", True),
    Hostile("COPY orders TO '/tmp/clew_evil.csv'", bypass=False),
    Hostile("COPY (SELECT 1) TO PROGRAM 'true'", bypass=False),
    Hostile("SELECT set_config('default_transaction_read_only', 'off', false)"),
    Hostile("SELECT set_config('statement_timeout', '0', false)"),
    Hostile("SET SESSION CHARACTERISTICS AS TRANSACTION READ WRITE"),
    Hostile("SET default_transaction_read_only = off"),
    Hostile("SELECT pg_terminate_backend(pg_backend_pid())"),
    Hostile("SELECT nextval('orders_id_seq')", True),
    Hostile("SELECT setval('orders_id_seq', 1000)", True),
    Hostile("SELECT pg_advisory_lock(42)"),
    Hostile("SELECT query_to_xml('DELETE FROM orders RETURNING 1', true, false, '')", True),
    Hostile("SELECT dblink_exec('dbname=postgres', 'DROP TABLE orders')", True),
    Hostile("DO $$ BEGIN DELETE FROM orders; END $$", True),
    Hostile("EXPLAIN ANALYZE DELETE FROM orders", True),
    Hostile("PREPARE p AS DELETE FROM orders"),  # prepares, runs nothing; dies with the session
    Hostile("SELECT * FROM orders FOR NO KEY UPDATE"),
    Hostile("SELECT * FROM orders FOR SHARE"),
    Hostile("LOCK TABLE orders IN ACCESS EXCLUSIVE MODE"),
    Hostile("CREATE SCHEMA clew_evil", True),
    Hostile("SELECT * FROM pg_catalog.pg_authid"),
    Hostile("NOTIFY clew_evil"),
    Hostile("SELECT pg_notify('clew_evil', 'x')"),
    Hostile("SELECT txid_current()"),  # allowed read-only (assigns an id, writes nothing)
    Hostile("VACUUM orders"),
]

MYSQL = [
    Hostile("SELECT SLEEP(30)"),
    Hostile("SELECT sleep(30) FROM orders"),
    Hostile("DO SLEEP(30)"),
    Hostile("SELECT BENCHMARK(1000000000, MD5('x'))"),
    Hostile("SELECT LOAD_FILE('/etc/hostname')"),
    Hostile("SELECT id, LOAD_FILE('/etc/passwd') FROM orders"),
    Hostile("SELECT * FROM orders INTO OUTFILE '/tmp/clew_evil.txt'", bypass=False),
    Hostile("SELECT * FROM orders INTO DUMPFILE '/tmp/clew_evil.bin'", bypass=False),
    Hostile("SELECT id INTO @x FROM orders LIMIT 1"),
    Hostile("SELECT * FROM orders LOCK IN SHARE MODE"),
    Hostile("SELECT GET_LOCK('clew_evil', 1)"),
    Hostile("LOAD DATA INFILE '/etc/hostname' INTO TABLE audit_log", True),
    Hostile("REPLACE INTO orders (id, customer_id, amount, ordered_at, status) VALUES (1, 1, 0, '2024-01-01', 'x')", True),
    Hostile("RENAME TABLE orders TO clew_evil", True),
    Hostile("CREATE USER 'clew_evil'@'localhost'", True),
    Hostile("CREATE DATABASE clew_evil", True),
    Hostile("SET SESSION TRANSACTION READ WRITE"),
    Hostile("SET GLOBAL max_connections = 5", bypass=False),
    Hostile("SELECT 1 /*!, SLEEP(30) */"),
    Hostile("SELECT 1 /*!50000 , SLEEP(30) */"),
    Hostile("/*! DELETE FROM orders */", True),
    Hostile("HANDLER orders OPEN"),
    Hostile("SHOW DATABASES"),
    Hostile("USE mysql"),
    Hostile("SELECT * FROM mysql.user"),
    Hostile("CALL mysql.clew_evil()"),
    Hostile("OPTIMIZE TABLE orders", True),
    Hostile("INSERT INTO orders (id, customer_id, amount, ordered_at, status) VALUES (998, 1, 1, '2024-01-01', 'x') ON DUPLICATE KEY UPDATE amount = 0", True),
    Hostile("UPDATE orders o JOIN customers c ON c.id = o.customer_id SET o.amount = 0", True),
    Hostile("DELETE o FROM orders o JOIN customers c ON c.id = o.customer_id", True),
]

SQLITE = [
    Hostile("PRAGMA writable_schema = 1"),
    Hostile("PRAGMA query_only = 0"),
    Hostile("PRAGMA journal_mode = DELETE"),
    Hostile("ATTACH DATABASE '{dir}/clew_evil.db' AS evil", True),
    Hostile("DETACH DATABASE main"),
    Hostile("SELECT load_extension('/tmp/clew_evil.so')"),
    Hostile("SELECT readfile('/etc/hostname')"),
    Hostile("SELECT writefile('{dir}/clew_evil.txt', 'x')", True),
    Hostile("SELECT randomblob(1000000000)"),
    Hostile("SELECT zeroblob(1000000000)"),
    Hostile("VACUUM"),
    Hostile("VACUUM INTO '{dir}/clew_evil_copy.db'", True),
    Hostile("SELECT * FROM sqlite_master"),
    Hostile("SELECT * FROM sqlite_schema"),
    Hostile("SELECT * FROM pragma_table_info('orders')"),
    Hostile("REINDEX"),
    Hostile("ANALYZE", True),
    Hostile("SAVEPOINT a"),
    Hostile("BEGIN IMMEDIATE"),
    Hostile("INSERT OR REPLACE INTO orders (id, customer_id, amount, ordered_at, status) VALUES (1, 1, 0, '2024-01-01', 'x')", True),
    Hostile("REPLACE INTO customers (id, name, city) VALUES (1, 'x', 'y')", True),
    Hostile("CREATE TEMP TABLE clew_evil (x)"),
    Hostile("CREATE TRIGGER clew_evil AFTER INSERT ON orders BEGIN DELETE FROM customers; END", True),
    Hostile("SELECT fts3_tokenizer('simple')"),
    Hostile("UPDATE orders SET amount = 0 RETURNING id", True),
]

DIALECTS = {"postgresql": POSTGRES, "mysql": MYSQL, "sqlite": SQLITE}


def statements(driver: str, directory: Path | None = None) -> list[Hostile]:
    out = []
    for h in COMMON + DIALECTS[driver]:
        out.append(Hostile(h.sql.replace("{dir}", str(directory or "/tmp")), h.writes, h.bypass))
    return out


@pytest.fixture(scope="module", params=["postgresql", "mysql", "sqlite"])
def target(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    if request.param == "postgresql":
        with postgres_target() as t:
            yield t
    elif request.param == "mysql":
        with mysql_target() as t:
            yield t
    else:
        with sqlite_target(tmp_path_factory.mktemp("sqlite-target")) as t:
            yield t


@pytest.fixture(scope="module")
async def own_db() -> AsyncIterator[Database]:
    """clew's own database for the runtime the execution layer runs under: a Postgres target is connected
    only after its server identity is compared with clew's (refused when they are the same database)."""
    async with scratch_database("clew_dq_own") as db:
        yield db


async def _execute(own_db: Database, spec: object, sql: str, *, timeout_s: float, max_rows: int) -> QueryResult:
    """``execute_readonly`` as a node runs it: inside a run, with clew's runtime current."""
    with node_runtime(db=own_db):
        return await execute_readonly(spec, sql, timeout_s=timeout_s, max_rows=max_rows)  # type: ignore[arg-type]


def _dir(target: Target) -> Path | None:
    return Path(target.fields["database"]).parent if target.driver == "sqlite" else None


def test_at_least_forty_per_dialect() -> None:
    for driver in DIALECTS:
        assert len(statements(driver)) >= 40, driver


def test_validator_refuses_every_hostile_statement(target: Target) -> None:
    before = checksum(target)
    accepted = []
    for h in statements(target.driver, _dir(target)):
        try:
            checked = validate(h.sql, target.driver, allowed_tables=ALLOWED, max_rows=100)
        except Refused as exc:
            assert exc.reason  # a reason a user can read
            continue
        accepted.append((h.sql, checked.sql))
    # the literal that only looks like a statement is a legitimate SELECT of a string: accepted, and harmless
    assert accepted == [(
        "SELECT 'x' FROM orders WHERE status = 'a'';DELETE FROM orders;--'",
        accepted[0][1] if accepted else None,
    )]
    assert checksum(target) == before


async def test_literal_lookalike_runs_as_a_plain_select(target: Target, own_db: Database) -> None:
    before = checksum(target)
    sql = "SELECT 'x' AS x FROM orders WHERE status = 'a'';DELETE FROM orders;--'"
    checked = validate(sql, target.driver, allowed_tables=ALLOWED, max_rows=100)
    result = await _execute(own_db, target.spec(), checked.sql, timeout_s=5, max_rows=100)
    assert result.rows == []
    assert checksum(target) == before


async def test_read_only_transaction_holds_without_the_validator(target: Target, own_db: Database) -> None:
    """The execution layer alone: every statement that would modify data fails, nothing changes."""
    spec = target.spec()
    before = checksum(target)
    not_refused = []
    for h in statements(target.driver, _dir(target)):
        if not h.bypass:
            continue
        try:
            await _execute(own_db, spec, h.sql, timeout_s=1.0, max_rows=10)
        except QueryFailed as exc:
            # refused by the database itself, not before reaching it (a missing runtime made this vacuous once)
            assert "runtime" not in str(exc), str(exc)
        else:
            if h.writes:
                not_refused.append(h.sql)
        assert checksum(target) == before, f"{h.sql!r} changed the database"
    assert not_refused == []
    if target.driver == "sqlite":
        leftovers = sorted(p.name for p in _dir(target).iterdir() if p.name.startswith("clew_evil"))  # type: ignore[union-attr]
        assert leftovers == []


async def test_statement_timeout_stops_a_long_query(target: Target, own_db: Database) -> None:
    slow = {
        "postgresql": "SELECT count(*) FROM generate_series(1, 1000000000)",
        "mysql": "SELECT count(*) FROM information_schema.columns a, information_schema.columns b, information_schema.columns c",
        "sqlite": "WITH RECURSIVE c(x) AS (SELECT 1 UNION ALL SELECT x + 1 FROM c) SELECT count(*) FROM c",
    }[target.driver]
    with pytest.raises(QueryFailed) as info:
        await _execute(own_db, target.spec(), slow, timeout_s=0.5, max_rows=10)
    assert info.value.kind == "timeout"


async def test_forced_limit_truncates(target: Target, own_db: Database) -> None:
    checked = validate("SELECT id FROM orders ORDER BY id", target.driver, allowed_tables=ALLOWED, max_rows=4)
    assert checked.limit_forced and checked.limit == 5
    result = await _execute(own_db, target.spec(), checked.sql, timeout_s=5, max_rows=4)
    assert [r[0] for r in result.rows] == [1, 2, 3, 4]
    assert result.truncated is True and result.row_count == 4
