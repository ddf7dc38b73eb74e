"""The ``data_connections`` table: a user's databases for data questions, their encrypted password and the
cached schema introspection. Every function filters by ``user_id``: another user's connection does not
exist. The password column holds a Fernet token only (:mod:`persistence.secret_box`); no function returns it
except :func:`get_secret`, which the executor uses to open the connection.
"""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from persistence.db import Conn

PUBLIC_COLUMNS = (
    "connection_id, user_id, name, driver, host, port, database, username, options, allowed_tables, is_default, "
    "(password_enc IS NOT NULL) AS has_password, schema_cached_at, created_at, updated_at"
)

SELECT_ONE = f"SELECT {PUBLIC_COLUMNS} FROM data_connections WHERE connection_id = %s AND user_id = %s"
SELECT_SECRET = "SELECT password_enc FROM data_connections WHERE connection_id = %s AND user_id = %s"
SELECT_DEFAULT = f"SELECT {PUBLIC_COLUMNS} FROM data_connections WHERE user_id = %s AND is_default"
LIST = f"SELECT {PUBLIC_COLUMNS} FROM data_connections WHERE user_id = %s ORDER BY created_at, connection_id"
CLEAR_DEFAULT = "UPDATE data_connections SET is_default = false WHERE user_id = %s AND is_default AND connection_id <> %s"
INSERT = f"""
INSERT INTO data_connections (connection_id, user_id, name, driver, host, port, database, username, password_enc,
                              options, allowed_tables, is_default)
VALUES (%(connection_id)s, %(user_id)s, %(name)s, %(driver)s, %(host)s, %(port)s, %(database)s, %(username)s,
        %(password_enc)s, %(options)s, %(allowed_tables)s, %(is_default)s)
RETURNING {PUBLIC_COLUMNS}
"""
# Any change to where or how to connect drops the cached schema (it may describe another database now).
UPDATE = f"""
UPDATE data_connections SET
    name = %(name)s, driver = %(driver)s, host = %(host)s, port = %(port)s, database = %(database)s,
    username = %(username)s, password_enc = %(password_enc)s, options = %(options)s,
    allowed_tables = %(allowed_tables)s, is_default = %(is_default)s,
    schema_cache = CASE WHEN %(reconnect)s THEN NULL ELSE schema_cache END,
    schema_cached_at = CASE WHEN %(reconnect)s THEN NULL ELSE schema_cached_at END,
    updated_at = now()
WHERE connection_id = %(connection_id)s AND user_id = %(user_id)s
RETURNING {PUBLIC_COLUMNS}
"""
DELETE = "DELETE FROM data_connections WHERE connection_id = %s AND user_id = %s"
SELECT_SCHEMA = (
    "SELECT schema_cache, schema_cached_at FROM data_connections WHERE connection_id = %s AND user_id = %s"
)
# One database of one running server, whatever name or address reached it (see nodes/data/reach.py).
SERVER_IDENTITY = "SELECT current_database() AS db, pg_postmaster_start_time()::text AS started"
STORE_SCHEMA = (
    "UPDATE data_connections SET schema_cache = %s, schema_cached_at = now() "
    "WHERE connection_id = %s AND user_id = %s RETURNING schema_cached_at"
)


async def get(conn: Conn, user_id: str, connection_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(SELECT_ONE, (connection_id, user_id))
    return await cur.fetchone()


async def get_secret(conn: Conn, user_id: str, connection_id: str) -> str | None:
    """The encrypted password token (None when the connection has no password or does not exist)."""
    cur = await conn.execute(SELECT_SECRET, (connection_id, user_id))
    row = await cur.fetchone()
    return row["password_enc"] if row else None


async def get_default(conn: Conn, user_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(SELECT_DEFAULT, (user_id,))
    return await cur.fetchone()


async def list_for_user(conn: Conn, user_id: str) -> list[dict[str, Any]]:
    cur = await conn.execute(LIST, (user_id,))
    return list(await cur.fetchall())


def _params(values: dict[str, Any]) -> dict[str, Any]:
    out = dict(values)
    out["options"] = Jsonb(values.get("options") or {})
    allowed = values.get("allowed_tables")
    out["allowed_tables"] = Jsonb(allowed) if allowed is not None else None
    return out


async def insert(conn: Conn, values: dict[str, Any]) -> dict[str, Any]:
    """Insert a connection (``values`` has every column of :data:`INSERT`); a new default clears the old one
    first (the unique index ``data_connections_one_default`` allows one default per user). Call inside a
    transaction so that the cleared default comes back if the insert fails."""
    if values["is_default"]:
        await conn.execute(CLEAR_DEFAULT, (values["user_id"], values["connection_id"]))
    row = await (await conn.execute(INSERT, _params(values))).fetchone()
    assert row is not None
    return row


async def update(conn: Conn, values: dict[str, Any], *, reconnect: bool) -> dict[str, Any] | None:
    """Replace a connection's fields; ``reconnect`` drops the cached schema. Call inside a transaction."""
    if values["is_default"]:
        await conn.execute(CLEAR_DEFAULT, (values["user_id"], values["connection_id"]))
    cur = await conn.execute(UPDATE, {**_params(values), "reconnect": reconnect})
    return await cur.fetchone()


async def delete(conn: Conn, user_id: str, connection_id: str) -> bool:
    cur = await conn.execute(DELETE, (connection_id, user_id))
    return bool(cur.rowcount)


async def cached_schema(conn: Conn, user_id: str, connection_id: str) -> dict[str, Any] | None:
    """``{"schema_cache": …, "schema_cached_at": …}`` or None when the connection does not exist."""
    cur = await conn.execute(SELECT_SCHEMA, (connection_id, user_id))
    return await cur.fetchone()


async def store_schema(conn: Conn, user_id: str, connection_id: str, schema: dict[str, Any]) -> Any:
    cur = await conn.execute(STORE_SCHEMA, (Jsonb(schema), connection_id, user_id))
    row = await cur.fetchone()
    return row["schema_cached_at"] if row else None


async def server_identity(conn: Any) -> tuple[str, str]:
    """``(current_database(), pg_postmaster_start_time())`` of any psycopg async connection (clew's own or a
    user's data connection; tuple or dict rows)."""
    cur = await conn.execute(SERVER_IDENTITY)
    row = await cur.fetchone()
    if isinstance(row, dict):
        return str(row["db"]), str(row["started"])
    assert row is not None
    return str(row[0]), str(row[1])
