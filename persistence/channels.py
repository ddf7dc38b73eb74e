"""Every cross-process signal clew sends through Postgres, in one place: NOTIFY channel names and advisory-lock
ids, with the statements that send, listen to, take and release them.

A NOTIFY only says "look again" (events live in ``run_events``, runs in ``runs``); ``engine/broker.py`` relays
them to in-process waiters. An advisory lock serialises one job across processes (schema set-up, migrations,
the retention pass, the first account). The lock ids spell "cle" plus a letter in ASCII, so they are easy to
recognise in ``pg_locks``; each must stay unique.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from psycopg import sql

if TYPE_CHECKING:
    from persistence.db import Conn

# ---------------------------------------------------------------- NOTIFY channels (payload in the comment)
EVENTS_CHANNEL = "clew_events"  # run_id: a run has new stream events
RUNS_CHANNEL = "clew_runs"  # run_id: a run became claimable (created, handed back, retried)
CANCEL_CHANNEL = "clew_cancel"  # run_id: a cancel was asked for
CONFIG_CHANNEL = "clew_config"  # free-form JSON or empty: configuration changed
TODOS_CHANNEL = "clew_todos"  # user_id: the user's todos changed
HELLO_CHANNEL = "clew_hello"  # a LISTEN connection's backend pid: a process started listening
LISTENED = (EVENTS_CHANNEL, RUNS_CHANNEL, CANCEL_CHANNEL, CONFIG_CHANNEL, TODOS_CHANNEL, HELLO_CHANNEL)  # every process
# Every process's LISTEN connection carries this application_name, so a process can see whether any other clew
# process listens on its database (engine/broker.py: the hot paths send their NOTIFYs only then).
LISTENER_APP = "clew-listener"

# ---------------------------------------------------------------- advisory-lock ids
MIGRATIONS_LOCK = 0x636C6577  # "clew": schema migrations (transaction lock, persistence/migrations.py)
SETUP_LOCK = 0x636C6578  # "clex": LangGraph's checkpointer/store set-up (session lock, engine/runtime.py)
CONFIG_MIGRATION_LOCK = 0x636C6563  # "clec": configuration definition migrations (transaction lock)
RETENTION_LOCK = 0x636C6572  # "cler": one retention pass at a time (session lock)
FIRST_ACCOUNT_LOCK = 0x636C6561  # "clea": the first password account becomes admin (transaction lock)
# The two-int4 form of advisory locks is a key space of its own (the ids above take one bigint): "clew" and a
# user's hash name that user's queued-runs lock (persistence/rate_limits.py; a hash collision only makes two
# users wait on each other).
USER_QUEUE_LOCKS = 0x636C6577

NOTIFY = "SELECT pg_notify(%s, %s)"
LISTEN = sql.SQL("LISTEN {}")
TRY_LOCK = "SELECT pg_try_advisory_lock(%s) AS ok"
UNLOCK = "SELECT pg_advisory_unlock(%s)"
XACT_LOCK = "SELECT pg_advisory_xact_lock(%s)"
XACT_LOCK_KEYED = "SELECT pg_advisory_xact_lock(%s::int4, hashtext(%s))"
# the LISTEN connections of other clew processes on this database (``application_name`` is visible to every role)
OTHER_LISTENERS = """
SELECT count(*) AS n FROM pg_stat_activity
WHERE datname = current_database() AND application_name = %s AND pid <> %s
"""
# who holds an advisory lock (a start-up waiting on it says so)
LOCK_HOLDERS = """
SELECT a.pid, a.application_name, a.state, a.backend_start::text AS since
FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid
WHERE l.locktype = 'advisory' AND l.objid::bigint = %s AND l.granted
"""


async def notify(conn: Conn, channel: str, payload: str) -> None:
    """NOTIFY ``channel``; inside a transaction it goes out on commit."""
    await conn.execute(NOTIFY, (channel, payload))


async def other_listeners(conn: Conn, own_pid: int) -> int:
    """How many LISTEN connections of clew processes other than the one of backend ``own_pid`` are open here."""
    cur = await conn.execute(OTHER_LISTENERS, (LISTENER_APP, own_pid))
    row = await cur.fetchone()
    return int(row["n"]) if row else 0


async def listen(conn: Conn, channel: str) -> None:
    await conn.execute(LISTEN.format(sql.Identifier(channel)))


async def try_lock(conn: Conn, key: int) -> bool:
    """Take the session-level lock ``key`` if it is free; True when taken."""
    cur = await conn.execute(TRY_LOCK, (key,))
    row = await cur.fetchone()
    return bool(row and row["ok"])


async def unlock(conn: Conn, key: int) -> None:
    await conn.execute(UNLOCK, (key,))


async def xact_lock(conn: Conn, key: int) -> None:
    """Wait for the transaction-level lock ``key`` (released on commit or rollback)."""
    await conn.execute(XACT_LOCK, (key,))


async def xact_lock_keyed(conn: Conn, space: int, key: str) -> None:
    """Wait for the transaction-level lock of ``key`` (hashed) in the two-int4 key ``space``."""
    await conn.execute(XACT_LOCK_KEYED, (space, key))


async def lock_holders(conn: Conn, key: int) -> list[dict[str, Any]]:
    cur = await conn.execute(LOCK_HOLDERS, (key,))
    return await cur.fetchall()
