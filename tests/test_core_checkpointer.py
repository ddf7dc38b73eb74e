"""The checkpointer: lock-free on a pool, fenced per run, strict deserialization."""

from __future__ import annotations

import asyncio
import dataclasses
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from langgraph.checkpoint.base import empty_checkpoint
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from psycopg.types.json import Jsonb

from config_schema.settings import RuntimeSettings
from persistence.checkpointer import FencedOut, FencedSaver, LockedPooledSaver, PooledSaver, strict_serde
from persistence.db import Database
from tests.support.pg import create_database, drop_database


@pytest.fixture(scope="module")
async def db() -> AsyncIterator[Database]:
    url = create_database("clew_ckpt")
    database = await Database.open(RuntimeSettings(), url=url)
    await PooledSaver(database.pool).setup()
    yield database
    await database.close()
    drop_database(url)


def _cfg(thread_id: str) -> dict[str, Any]:
    return {"configurable": {"thread_id": thread_id, "checkpoint_ns": ""}}


async def _blocked_put(db: Database, saver: Any) -> tuple[asyncio.Task[Any], Any]:
    """Start an aput that blocks: another transaction holds an uncommitted row with the same key."""
    thread = str(uuid.uuid4())
    ckpt = empty_checkpoint()
    conn = await db.connect_dedicated()
    await conn.execute("BEGIN")
    await conn.execute(
        "INSERT INTO checkpoints (thread_id, checkpoint_ns, checkpoint_id, checkpoint, metadata) "
        "VALUES (%s, '', %s, %s, '{}')",
        (thread, ckpt["id"], Jsonb({})),
    )
    task = asyncio.create_task(saver.aput(_cfg(thread), ckpt, {}, {}))
    await asyncio.sleep(0.3)
    assert not task.done()
    return task, conn


async def test_pooled_saver_does_not_serialise_calls(db: Database) -> None:
    saver = PooledSaver(db.pool)
    blocked, conn = await _blocked_put(db, saver)
    # another thread's read proceeds while the first call waits on the database
    assert await asyncio.wait_for(saver.aget_tuple(_cfg(str(uuid.uuid4()))), timeout=10) is None
    assert not blocked.done()
    await conn.execute("ROLLBACK")
    await conn.close()
    await asyncio.wait_for(blocked, timeout=10)


async def test_stock_saver_serialises_calls(db: Database) -> None:
    """What the fix removes: with the stock per-instance lock the second call waits for the first."""
    saver = LockedPooledSaver(db.pool)
    blocked, conn = await _blocked_put(db, saver)
    read = asyncio.create_task(saver.aget_tuple(_cfg(str(uuid.uuid4()))))
    await asyncio.sleep(0.5)
    assert not read.done()
    await conn.execute("ROLLBACK")
    await conn.close()
    await asyncio.wait_for(asyncio.gather(blocked, read), timeout=10)


async def _run_row(db: Database, token: int, status: str = "running") -> str:
    thread_id, run_id = str(uuid.uuid4()), str(uuid.uuid4())
    async with db.transaction() as conn:
        await conn.execute("INSERT INTO threads (thread_id, user_id) VALUES (%s, 'u')", (thread_id,))
        await conn.execute(
            "INSERT INTO runs (run_id, thread_id, user_id, assistant_id, graph_id, kwargs, status, fencing_token) "
            "VALUES (%s, %s, 'u', %s, 'g', '{}', %s, %s)",
            (run_id, thread_id, str(uuid.uuid4()), status, token),
        )
    return run_id


async def test_fenced_saver_writes_only_with_current_token(db: Database) -> None:
    run_id = await _run_row(db, token=2)
    thread = str(uuid.uuid4())
    stale = FencedSaver(db.pool, run_id, 1)
    with pytest.raises(FencedOut):
        await stale.aput(_cfg(thread), empty_checkpoint(), {}, {})
    assert await stale.aget_tuple(_cfg(thread)) is None
    current = FencedSaver(db.pool, run_id, 2)
    await current.aput(_cfg(thread), empty_checkpoint(), {}, {})
    assert await current.aget_tuple(_cfg(thread)) is not None


async def test_takeover_waits_for_inflight_fenced_write(db: Database) -> None:
    """A takeover (UPDATE of the run row) and a fenced write never interleave."""
    run_id = await _run_row(db, token=5)
    async with db.transaction() as conn:
        await conn.execute("UPDATE runs SET fencing_token = 6 WHERE run_id = %s", (run_id,))
        saver = FencedSaver(db.pool, run_id, 5)
        write = asyncio.create_task(saver.aput(_cfg(str(uuid.uuid4())), empty_checkpoint(), {}, {}))
        await asyncio.sleep(0.3)
        assert not write.done()  # waits for the takeover to commit
    with pytest.raises(FencedOut):
        await asyncio.wait_for(write, timeout=10)


def test_strict_serde_blocks_unknown_types() -> None:
    @dataclasses.dataclass
    class Payload:
        x: int

    data = JsonPlusSerializer(allowed_msgpack_modules=True).dumps_typed({"v": Payload(1)})
    revived = strict_serde().loads_typed(data)
    assert revived == {"v": {"x": 1}}  # not an instance of an arbitrary class


async def _rows(db: Database, thread: str) -> dict[str, list[Any]]:
    out: dict[str, list[Any]] = {}
    queries = {
        "checkpoints": "SELECT checkpoint_ns, checkpoint_id, parent_checkpoint_id, checkpoint, metadata "
        "FROM checkpoints WHERE thread_id = %s ORDER BY 1, 2",
        "checkpoint_blobs": "SELECT checkpoint_ns, channel, version, type, blob FROM checkpoint_blobs "
        "WHERE thread_id = %s ORDER BY 1, 2, 3",
        "checkpoint_writes": "SELECT checkpoint_ns, checkpoint_id, task_id, task_path, idx, channel, type, blob "
        "FROM checkpoint_writes WHERE thread_id = %s ORDER BY 1, 2, 3, 5",
    }
    for table, sql in queries.items():
        out[table] = [tuple(r.values()) for r in await db.fetchall(sql, (thread,))]
    return out


async def test_fenced_writes_store_exactly_what_the_stock_saver_stores(db: Database) -> None:
    """FencedSaver writes with its own one-statement SQL: the rows must be the stock saver's, byte for byte."""
    from langgraph.checkpoint.base import create_checkpoint
    from langgraph.constants import INTERRUPT

    stock, stock_thread = PooledSaver(db.pool), str(uuid.uuid4())
    fenced, fenced_thread = FencedSaver(db.pool, await _run_row(db, token=1), 1), str(uuid.uuid4())
    first = empty_checkpoint()
    first["channel_values"] = {"count": 3, "name": "x", "flag": None, "items": [1, {"a": "b"}], "doc": {"k": [1.5]}}
    first["channel_versions"] = {"count": "1", "name": "1", "flag": "1", "items": "1", "doc": "1", "gone": "1"}
    second = create_checkpoint(first, None, 2)
    second["channel_values"] = {**first["channel_values"], "items": [1, 2, 3]}
    second["channel_versions"] = {**first["channel_versions"], "items": "2"}
    writes: list[tuple[str, Any]] = [("items", [4]), ("count", 4), (INTERRUPT, {"q": 1}), (INTERRUPT, {"q": 2})]
    special: list[tuple[str, Any]] = [(INTERRUPT, {"q": 1}), (INTERRUPT, {"q": 2})]
    for saver, thread in ((stock, stock_thread), (fenced, fenced_thread)):
        for ns in ("", "sub:1"):
            cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ns}}
            nxt = await saver.aput(cfg, first, {"source": "input", "step": -1}, dict(first["channel_versions"]))
            await saver.aput_writes(nxt, writes, "task-1", "path")
            await saver.aput_writes(nxt, special, "task-2")
            await saver.aput_writes(nxt, [], "task-3")
            await saver.aput(nxt, second, {"source": "loop", "step": 0}, {"items": "2"})
    assert await _rows(db, fenced_thread) == await _rows(db, stock_thread)
    assert (await _rows(db, fenced_thread))["checkpoint_writes"]  # not vacuously equal
    loaded = await fenced.aget_tuple({"configurable": {"thread_id": fenced_thread, "checkpoint_ns": ""}})
    assert loaded is not None and loaded.checkpoint["channel_values"]["items"] == [1, 2, 3]


async def test_task_writes_followed_by_their_checkpoint_ride_in_its_statement(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A task's ordinary writes handed over just before the checkpoint that closes the step (LangGraph submits
    both without waiting, a couple of loop passes apart) go in that checkpoint's one statement; the rows are
    still the stock saver's. Special writes (an interrupt) and writes with no checkpoint after them go alone."""
    from langgraph.checkpoint.base import create_checkpoint
    from langgraph.constants import INTERRUPT

    statements: list[str] = []
    real = FencedSaver._write

    async def spy(self: FencedSaver, sql: str, params: dict[str, Any]) -> None:
        statements.append("put" if "INSERT INTO checkpoints" in sql else "writes")
        await real(self, sql, params)

    monkeypatch.setattr(FencedSaver, "_write", spy)
    stock, stock_thread = PooledSaver(db.pool), str(uuid.uuid4())
    fenced, fenced_thread = FencedSaver(db.pool, await _run_row(db, token=1), 1), str(uuid.uuid4())
    first = empty_checkpoint()
    first["channel_values"] = {"count": 3, "items": [1]}
    first["channel_versions"] = {"count": "1", "items": "1"}
    second = create_checkpoint(first, None, 2)
    second["channel_values"] = {"count": 4, "items": [1, 2]}
    second["channel_versions"] = {"count": "2", "items": "2"}
    for saver, thread in ((stock, stock_thread), (fenced, fenced_thread)):
        cfg = {"configurable": {"thread_id": thread, "checkpoint_ns": ""}}
        nxt = await saver.aput(cfg, first, {"source": "input", "step": -1}, dict(first["channel_versions"]))
        statements.clear()
        await asyncio.gather(
            saver.aput_writes(nxt, [("items", [2]), ("count", 4)], "task-1", "path"),
            saver.aput_writes(nxt, [("items", [3])], "task-2", "path2"),
            saver.aput_writes(nxt, [(INTERRUPT, {"q": 1})], "task-3"),
            saver.aput(nxt, second, {"source": "loop", "step": 0}, {"count": "2", "items": "2"}),
        )
    assert sorted(statements) == ["put", "writes"]  # the interrupt alone; both tasks' writes with the checkpoint
    assert await _rows(db, fenced_thread) == await _rows(db, stock_thread)
    assert len((await _rows(db, fenced_thread))["checkpoint_writes"]) == 4
    # no checkpoint follows: the writes go alone after a few loop passes
    statements.clear()
    await fenced.aput_writes(nxt, [("items", [5])], "task-4")
    assert statements == ["writes"]
    # a fenced-out checkpoint statement fails the writes it carried too
    stale = FencedSaver(db.pool, fenced.run_id, 0)
    third = create_checkpoint(second, None, 3)
    with pytest.raises(FencedOut):
        await asyncio.gather(stale.aput_writes(nxt, [("items", [6])], "task-5"),
                             stale.aput(nxt, third, {"source": "loop", "step": 1}, {}))


async def test_fenced_writes_of_a_lost_run_land_nowhere(db: Database) -> None:
    run_id = await _run_row(db, token=3)
    thread = str(uuid.uuid4())
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"items": [1]}
    cfg = await FencedSaver(db.pool, run_id, 3).aput(_cfg(thread), ckpt, {}, {"items": "1"})
    stale = FencedSaver(db.pool, run_id, 2)
    with pytest.raises(FencedOut):
        await stale.aput_writes(cfg, [("items", [2])], "t")
    with pytest.raises(FencedOut):
        await stale.aput(cfg, empty_checkpoint(), {}, {"items": "2"})
    rows = await _rows(db, thread)
    assert len(rows["checkpoints"]) == 1 and len(rows["checkpoint_blobs"]) == 1 and rows["checkpoint_writes"] == []


async def test_fenced_writes_serialize_small_values_on_the_loop_and_large_ones_in_a_thread(
    db: Database, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A step's few small values are serialized inline (a thread hand-off costs more than the work); a large
    value or one of unknown size still goes to a thread, so it never blocks the event loop. Either way the rows
    are the same (the byte-for-byte test above covers both paths: its values are small)."""
    import persistence.checkpointer as ckpt_module

    handed: list[str] = []
    real = asyncio.to_thread

    async def spy(fn: Any, *args: Any, **kwargs: Any) -> Any:
        handed.append(fn.__name__)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(ckpt_module.asyncio, "to_thread", spy)
    saver = FencedSaver(db.pool, await _run_row(db, token=1), 1)
    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"items": [1, {"a": "b"}], "log": ["n1", "n2"]}
    cfg = await saver.aput(_cfg(str(uuid.uuid4())), ckpt, {}, {"items": "1", "log": "1"})
    await saver.aput_writes(cfg, [("items", [2]), ("count", 3)], "t1")
    assert handed == []
    big = "x" * (ckpt_module.INLINE_SERDE_BUDGET + 1)
    await saver.aput_writes(cfg, [("items", [big])], "t2")
    await saver.aput_writes(cfg, [("items", dataclasses.make_dataclass("Unknown", [])())], "t3")
    ckpt2 = empty_checkpoint()
    ckpt2["channel_values"] = {"items": [big]}
    await saver.aput(cfg, ckpt2, {}, {"items": "2"})
    assert handed == ["_dump_writes", "_dump_writes", "_dump_blobs"]
    assert ckpt_module._small({"a": [1, 2, "abc"]}) == ckpt_module.INLINE_SERDE_BUDGET - 14


def test_checkpoint_json_is_orjson_unless_it_would_differ() -> None:
    """The checkpoint's JSON is written by orjson; where orjson would write something else than the stdlib (a NaN
    becomes null) or refuses (non-string keys, huge integers), the stdlib's JSON is used, as before."""
    import json

    from persistence.checkpointer import _checkpoint_json

    ckpt = empty_checkpoint()
    ckpt["channel_values"] = {"count": 3, "ratio": 0.5, "name": "é", "flag": None}
    assert isinstance(_checkpoint_json(ckpt), bytes)
    assert json.loads(_checkpoint_json(ckpt)) == json.loads(json.dumps(ckpt))
    for odd in (float("nan"), float("inf"), 2**70):
        ckpt["channel_values"] = {"x": odd}
        assert _checkpoint_json(ckpt) == json.dumps(ckpt)


async def test_a_first_claims_empty_thread_is_read_once_without_a_statement(db: Database) -> None:
    """``expect_empty_thread``: the graph's first read of that thread's latest root checkpoint answers None
    without a statement; any other read, and every later one, is the stock read."""
    run_id = await _run_row(db, token=1)
    thread = str(uuid.uuid4())
    ckpt = empty_checkpoint()
    await FencedSaver(db.pool, run_id, 1).aput(_cfg(thread), ckpt, {}, {})
    saver = FencedSaver(db.pool, run_id, 1)
    saver.expect_empty_thread(thread)
    other = {"configurable": {"thread_id": thread, "checkpoint_ns": "", "checkpoint_id": ckpt["id"]}}
    assert (await saver.aget_tuple(other)) is not None  # not the latest-root read: read, and the hint is spent
    assert (await saver.aget_tuple(_cfg(thread))) is not None
    saver.expect_empty_thread(thread)
    assert (await saver.aget_tuple(_cfg(thread))) is None  # answered from the hint (the row exists: no read)
    assert (await saver.aget_tuple(_cfg(thread))) is not None
