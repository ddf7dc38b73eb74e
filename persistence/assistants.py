"""Assistants table access (tables ``assistants``, ``assistant_versions``). System assistants (user_id NULL) are
visible to all; others to their owner."""

from __future__ import annotations

from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb

from persistence.db import Conn

COLUMNS = "assistant_id, user_id, graph_id, name, description, config, context, metadata, version, created_at, updated_at"
VISIBLE = "(user_id = %s OR user_id IS NULL)"
SORTABLE = {"assistant_id", "graph_id", "name", "created_at", "updated_at"}

# a graph's system assistant (no owner), created at start-up or pointed at the graph again
UPSERT_SYSTEM = """
INSERT INTO assistants (assistant_id, user_id, graph_id, name, description, metadata)
VALUES (%s, NULL, %s, %s, %s, %s)
ON CONFLICT (assistant_id) DO UPDATE SET graph_id = EXCLUDED.graph_id
"""
GET = f"SELECT {COLUMNS} FROM assistants WHERE assistant_id = %s AND {VISIBLE}"
EXISTS_ANY = "SELECT 1 FROM assistants WHERE assistant_id = %s"
INSERT = f"""
INSERT INTO assistants (assistant_id, user_id, graph_id, name, description, config, context, metadata)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}
"""
SAVE_VERSION = """
INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING
"""
LOCK_OWNED = f"SELECT {COLUMNS} FROM assistants WHERE assistant_id = %s AND user_id = %s FOR UPDATE"
NEXT_VERSION = "SELECT coalesce(max(version), 0) + 1 AS v FROM assistant_versions WHERE assistant_id = %s"
# the assistant's fields set to a version's (a new version, or an older one made the latest)
SET_FIELDS = f"""
UPDATE assistants SET graph_id = %s, name = %s, description = %s, config = %s, context = %s,
    metadata = %s, version = %s, updated_at = now()
WHERE assistant_id = %s RETURNING {COLUMNS}
"""
OWNED_VERSION = """
SELECT v.* FROM assistant_versions v JOIN assistants a USING (assistant_id)
WHERE v.assistant_id = %s AND v.version = %s AND a.user_id = %s
"""
VERSIONS = sql.SQL("""
SELECT v.assistant_id, v.version, v.graph_id, v.name, v.description, v.config, v.context, v.metadata, v.created_at
FROM assistant_versions v JOIN assistants a USING (assistant_id) WHERE {where}
ORDER BY v.version DESC LIMIT %s OFFSET %s
""")
DELETE = "DELETE FROM assistants WHERE assistant_id = %s AND user_id = %s"
SEARCH = sql.SQL(f"SELECT {COLUMNS} FROM assistants WHERE {{where}} ORDER BY {{order}} {{direction}} LIMIT %s OFFSET %s")
COUNT = sql.SQL("SELECT count(*) AS n FROM assistants WHERE {where}")


def _fields(row: dict[str, Any], version: int, assistant_id: str) -> tuple[Any, ...]:
    return (row["graph_id"], row["name"], row["description"], Jsonb(row["config"]), Jsonb(row["context"]),
            Jsonb(row["metadata"]), version, assistant_id)


async def upsert_system(conn: Conn, assistant_id: str, graph_id: str, description: str | None) -> None:
    await conn.execute(
        UPSERT_SYSTEM, (assistant_id, graph_id, graph_id, description, Jsonb({"created_by": "system"}))
    )


async def get(conn: Conn, user_id: str, assistant_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(GET, (assistant_id, user_id))
    return await cur.fetchone()


async def exists_any(conn: Conn, assistant_id: str) -> bool:
    cur = await conn.execute(EXISTS_ANY, (assistant_id,))
    return await cur.fetchone() is not None


async def insert(conn: Conn, user_id: str, assistant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        INSERT,
        (assistant_id, user_id, data["graph_id"], data["name"], data.get("description"),
         Jsonb(data.get("config") or {}), Jsonb(data.get("context") or {}), Jsonb(data.get("metadata") or {})),
    )
    row = await cur.fetchone()
    assert row is not None
    await save_version(conn, row)
    return row


async def save_version(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        SAVE_VERSION,
        (row["assistant_id"], row["version"], row["graph_id"], row["name"], row["description"],
         Jsonb(row["config"]), Jsonb(row["context"]), Jsonb(row["metadata"])),
    )


async def update(conn: Conn, user_id: str, assistant_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """A new version with ``changes`` applied; only the owner's (non-system) assistants can change."""
    cur = await conn.execute(LOCK_OWNED, (assistant_id, user_id))
    row = await cur.fetchone()
    if row is None:
        return None
    vcur = await conn.execute(NEXT_VERSION, (assistant_id,))
    vrow = await vcur.fetchone()
    new = {**row, **{k: v for k, v in changes.items() if v is not None}, "version": vrow["v"] if vrow else 1}
    if changes.get("metadata") is not None:
        new["metadata"] = {**(row["metadata"] or {}), **changes["metadata"]}
    cur = await conn.execute(SET_FIELDS, _fields(new, new["version"], assistant_id))
    out = await cur.fetchone()
    assert out is not None
    await save_version(conn, out)
    return out


async def set_latest(conn: Conn, user_id: str, assistant_id: str, version: int) -> dict[str, Any] | None:
    cur = await conn.execute(OWNED_VERSION, (assistant_id, version, user_id))
    v = await cur.fetchone()
    if v is None:
        return None
    cur = await conn.execute(SET_FIELDS, _fields(v, version, assistant_id))
    return await cur.fetchone()


async def versions(conn: Conn, user_id: str, assistant_id: str, metadata: dict[str, Any] | None,
                   limit: int, offset: int) -> list[dict[str, Any]]:
    where = [sql.SQL("v.assistant_id = %s AND (a.user_id = %s OR a.user_id IS NULL)")]
    params: list[Any] = [assistant_id, user_id]
    if metadata:
        where.append(sql.SQL("v.metadata @> %s"))
        params.append(Jsonb(metadata))
    cur = await conn.execute(VERSIONS.format(where=sql.SQL(" AND ").join(where)), (*params, limit, offset))
    return await cur.fetchall()


async def delete(conn: Conn, user_id: str, assistant_id: str) -> bool:
    cur = await conn.execute(DELETE, (assistant_id, user_id))
    return bool(cur.rowcount)


def _filters(user_id: str, metadata: dict[str, Any] | None, graph_id: str | None, name: str | None
             ) -> tuple[sql.Composable, list[Any]]:
    where = [sql.SQL(VISIBLE)]
    params: list[Any] = [user_id]
    if metadata:
        where.append(sql.SQL("metadata @> %s"))
        params.append(Jsonb(metadata))
    if graph_id:
        where.append(sql.SQL("graph_id = %s"))
        params.append(graph_id)
    if name:
        where.append(sql.SQL("name ILIKE %s"))
        params.append(f"%{name}%")
    return sql.SQL(" AND ").join(where), params


async def search(conn: Conn, user_id: str, *, metadata: dict[str, Any] | None, graph_id: str | None,
                 name: str | None, limit: int, offset: int, sort_by: str, sort_order: str) -> list[dict[str, Any]]:
    where, params = _filters(user_id, metadata, graph_id, name)
    order = sort_by if sort_by in SORTABLE else "created_at"
    direction = sql.SQL("ASC" if sort_order == "asc" else "DESC")
    cur = await conn.execute(
        SEARCH.format(where=where, order=sql.Identifier(order), direction=direction), (*params, limit, offset)
    )
    return await cur.fetchall()


async def count(conn: Conn, user_id: str, *, metadata: dict[str, Any] | None, graph_id: str | None,
                name: str | None) -> int:
    where, params = _filters(user_id, metadata, graph_id, name)
    cur = await conn.execute(COUNT.format(where=where), params)
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
