"""Assistants table access. System assistants (user_id NULL) are visible to all; others to their owner."""

from __future__ import annotations

from typing import Any

from psycopg.types.json import Jsonb

from persistence.db import Conn

COLUMNS = "assistant_id, user_id, graph_id, name, description, config, context, metadata, version, created_at, updated_at"
VISIBLE = "(user_id = %s OR user_id IS NULL)"

# a graph's system assistant (no owner), created at start-up or pointed at the graph again
UPSERT_SYSTEM = """
INSERT INTO assistants (assistant_id, user_id, graph_id, name, description, metadata)
VALUES (%s, NULL, %s, %s, %s, %s)
ON CONFLICT (assistant_id) DO UPDATE SET graph_id = EXCLUDED.graph_id
"""


async def upsert_system(conn: Conn, assistant_id: str, graph_id: str, description: str | None) -> None:
    await conn.execute(
        UPSERT_SYSTEM, (assistant_id, graph_id, graph_id, description, Jsonb({"created_by": "system"}))
    )


async def get(conn: Conn, user_id: str, assistant_id: str) -> dict[str, Any] | None:
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM assistants WHERE assistant_id = %s AND {VISIBLE}", (assistant_id, user_id)
    )
    return await cur.fetchone()


async def exists_any(conn: Conn, assistant_id: str) -> bool:
    cur = await conn.execute("SELECT 1 FROM assistants WHERE assistant_id = %s", (assistant_id,))
    return await cur.fetchone() is not None


async def insert(conn: Conn, user_id: str, assistant_id: str, data: dict[str, Any]) -> dict[str, Any]:
    cur = await conn.execute(
        f"""INSERT INTO assistants (assistant_id, user_id, graph_id, name, description, config, context, metadata)
            VALUES (%s, %s, %s, %s, %s, %s, %s, %s) RETURNING {COLUMNS}""",
        (assistant_id, user_id, data["graph_id"], data["name"], data.get("description"),
         Jsonb(data.get("config") or {}), Jsonb(data.get("context") or {}), Jsonb(data.get("metadata") or {})),
    )
    row = await cur.fetchone()
    assert row is not None
    await save_version(conn, row)
    return row


async def save_version(conn: Conn, row: dict[str, Any]) -> None:
    await conn.execute(
        """INSERT INTO assistant_versions (assistant_id, version, graph_id, name, description, config, context, metadata)
           VALUES (%s, %s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING""",
        (row["assistant_id"], row["version"], row["graph_id"], row["name"], row["description"],
         Jsonb(row["config"]), Jsonb(row["context"]), Jsonb(row["metadata"])),
    )


async def update(conn: Conn, user_id: str, assistant_id: str, changes: dict[str, Any]) -> dict[str, Any] | None:
    """A new version with ``changes`` applied; only the owner's (non-system) assistants can change."""
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM assistants WHERE assistant_id = %s AND user_id = %s FOR UPDATE",
        (assistant_id, user_id),
    )
    row = await cur.fetchone()
    if row is None:
        return None
    vcur = await conn.execute(
        "SELECT coalesce(max(version), 0) + 1 AS v FROM assistant_versions WHERE assistant_id = %s", (assistant_id,)
    )
    vrow = await vcur.fetchone()
    new = {**row, **{k: v for k, v in changes.items() if v is not None}, "version": vrow["v"] if vrow else 1}
    if changes.get("metadata") is not None:
        new["metadata"] = {**(row["metadata"] or {}), **changes["metadata"]}
    cur = await conn.execute(
        f"""UPDATE assistants SET graph_id = %s, name = %s, description = %s, config = %s, context = %s,
                metadata = %s, version = %s, updated_at = now()
            WHERE assistant_id = %s RETURNING {COLUMNS}""",
        (new["graph_id"], new["name"], new["description"], Jsonb(new["config"]), Jsonb(new["context"]),
         Jsonb(new["metadata"]), new["version"], assistant_id),
    )
    out = await cur.fetchone()
    assert out is not None
    await save_version(conn, out)
    return out


async def set_latest(conn: Conn, user_id: str, assistant_id: str, version: int) -> dict[str, Any] | None:
    cur = await conn.execute(
        "SELECT v.* FROM assistant_versions v JOIN assistants a USING (assistant_id) "
        "WHERE v.assistant_id = %s AND v.version = %s AND a.user_id = %s",
        (assistant_id, version, user_id),
    )
    v = await cur.fetchone()
    if v is None:
        return None
    cur = await conn.execute(
        f"""UPDATE assistants SET graph_id = %s, name = %s, description = %s, config = %s, context = %s,
                metadata = %s, version = %s, updated_at = now() WHERE assistant_id = %s RETURNING {COLUMNS}""",
        (v["graph_id"], v["name"], v["description"], Jsonb(v["config"]), Jsonb(v["context"]),
         Jsonb(v["metadata"]), version, assistant_id),
    )
    return await cur.fetchone()


async def versions(conn: Conn, user_id: str, assistant_id: str, metadata: dict[str, Any] | None,
                   limit: int, offset: int) -> list[dict[str, Any]]:
    where = "v.assistant_id = %s AND (a.user_id = %s OR a.user_id IS NULL)"
    params: list[Any] = [assistant_id, user_id]
    if metadata:
        where += " AND v.metadata @> %s"
        params.append(Jsonb(metadata))
    cur = await conn.execute(
        "SELECT v.assistant_id, v.version, v.graph_id, v.name, v.description, v.config, v.context, v.metadata, "
        f"v.created_at FROM assistant_versions v JOIN assistants a USING (assistant_id) WHERE {where} "
        "ORDER BY v.version DESC LIMIT %s OFFSET %s",
        (*params, limit, offset),
    )
    return await cur.fetchall()


async def delete(conn: Conn, user_id: str, assistant_id: str) -> bool:
    cur = await conn.execute("DELETE FROM assistants WHERE assistant_id = %s AND user_id = %s", (assistant_id, user_id))
    return bool(cur.rowcount)


def _filters(user_id: str, metadata: dict[str, Any] | None, graph_id: str | None, name: str | None
             ) -> tuple[str, list[Any]]:
    where = [VISIBLE]
    params: list[Any] = [user_id]
    if metadata:
        where.append("metadata @> %s")
        params.append(Jsonb(metadata))
    if graph_id:
        where.append("graph_id = %s")
        params.append(graph_id)
    if name:
        where.append("name ILIKE %s")
        params.append(f"%{name}%")
    return " AND ".join(where), params


async def search(conn: Conn, user_id: str, *, metadata: dict[str, Any] | None, graph_id: str | None,
                 name: str | None, limit: int, offset: int, sort_by: str, sort_order: str) -> list[dict[str, Any]]:
    where, params = _filters(user_id, metadata, graph_id, name)
    direction = "ASC" if sort_order == "asc" else "DESC"
    cur = await conn.execute(
        f"SELECT {COLUMNS} FROM assistants WHERE {where} ORDER BY {sort_by} {direction} LIMIT %s OFFSET %s",
        (*params, limit, offset),
    )
    return await cur.fetchall()


async def count(conn: Conn, user_id: str, *, metadata: dict[str, Any] | None, graph_id: str | None,
                name: str | None) -> int:
    where, params = _filters(user_id, metadata, graph_id, name)
    cur = await conn.execute(f"SELECT count(*) AS n FROM assistants WHERE {where}", params)
    row = await cur.fetchone()
    return int(row["n"]) if row else 0
