"""LangGraph checkpointing on the shared pool: lock-free, strict msgpack, fenced per run.

``AsyncPostgresSaver`` wraps every database call of an instance in one ``asyncio.Lock`` (langgraph issue
#7259). That is needed when the saver holds a single connection, but with a pool it serialises every
checkpoint read and write of the whole process. :class:`PooledSaver` takes a pool and drops the lock: each
call borrows its own connection, so concurrent runs no longer queue behind each other.

:class:`FencedSaver` is the per-run view a worker hands to the graph: every checkpoint and every task's writes
are one statement that also checks that the run's fencing token is still the one this worker claimed
(``SELECT … FOR SHARE`` on the run row). A worker that stalled past its lease and lost the run therefore
writes nothing, and a takeover waits for an in-flight write to finish rather than racing it.

A task's writes that LangGraph hands over just before the checkpoint that closes their step (a one-task step:
the next checkpoint follows within a couple of event-loop passes) are folded into that checkpoint's statement
instead of a statement of their own: the same rows, the same fence, committed with the checkpoint, one round trip
and one transaction fewer per step. Writes not followed by a checkpoint at once (another task of the step still
runs, an interrupt, an error) are written alone after those few passes, as before.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import math
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import orjson
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import (
    WRITES_IDX_MAP,
    ChannelVersions,
    Checkpoint,
    CheckpointMetadata,
    get_serializable_checkpoint_metadata,
)
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from langgraph.checkpoint.serde.types import _DeltaSnapshot
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg.types.json import Jsonb
from psycopg_pool import AsyncConnectionPool

from persistence.checkpoint_sql import (
    COPY_BLOBS,
    COPY_CHECKPOINTS,
    COPY_WRITES,
    INSERT_WRITES,
    PUT_CHECKPOINT,
    UPSERT_WRITES,
)
from persistence.db import retrying

# Serializing a few small values takes microseconds; handing them to a thread costs more than that, and the thread
# then competes with the event loop for the GIL (py-spy under the runs benchmark put a third of the server's CPU on
# thread hand-offs and on the loop waiting to get the GIL back). Payloads up to this many characters/items (a
# cheap bounded walk, see _small) are serialized on the loop; larger ones still go to a thread, so a big research
# state never blocks the loop.
INLINE_SERDE_BUDGET = 8192


def _small(value: Any, budget: int = INLINE_SERDE_BUDGET) -> int:
    """What is left of ``budget`` after a walk of ``value`` (strings and bytes cost their length, every other
    item 1); negative once the value is too big to serialize inline. Stops as soon as the budget is spent."""
    stack = [value]
    while stack and budget >= 0:
        v = stack.pop()
        if isinstance(v, str | bytes | bytearray):
            budget -= len(v) + 1
        elif isinstance(v, dict):
            budget -= len(v) + 1
            if budget >= 0:
                stack.extend(v.keys())
                stack.extend(v.values())
        elif isinstance(v, list | tuple | set | frozenset):
            budget -= len(v) + 1
            if budget >= 0:
                stack.extend(v)
        elif v is None or isinstance(v, int | float | bool):
            budget -= 1
        else:
            return -1  # an object of unknown size (a message, a model, a snapshot): leave it to a thread
    return budget


async def _serialize(fn: Any, *args: Any, values: Any) -> Any:
    """``fn(*args)`` on the loop when ``values`` are small, else in a thread (see INLINE_SERDE_BUDGET)."""
    if _small(values) >= 0:
        return fn(*args)
    return await asyncio.to_thread(fn, *args)


# How many event-loop passes a task's writes wait for the checkpoint that closes their step to take them along
# (LangGraph puts it two passes after the writes of a step's last task: measured with steps10).
FOLD_PASSES = 3


class _PendingWrites:
    """A task's serialized writes waiting to be folded into the next checkpoint's statement."""

    __slots__ = ("key", "task_id", "task_path", "rows", "done")

    def __init__(self, key: tuple[str, str, str], task_id: str, task_path: str, rows: list[Any]) -> None:
        self.key = key
        self.task_id = task_id
        self.task_path = task_path
        self.rows = rows
        self.done: asyncio.Future[None] | None = None  # set when a checkpoint took them


def _checkpoint_json(checkpoint: dict[str, Any]) -> bytes | str:
    """The checkpoint's JSON for its ``jsonb`` column: orjson (a tenth of the stdlib's time, which psycopg's
    ``Jsonb`` uses: 3 % of a busy server's CPU), unless orjson would write it differently — a NaN or infinite
    float (orjson writes ``null``; the stdlib's ``NaN`` is refused by Postgres, as before) can only be an inline
    channel value, non-string keys and integers beyond 64 bits make orjson raise — then the stdlib's."""
    if all(not isinstance(v, float) or math.isfinite(v) for v in checkpoint["channel_values"].values()):
        try:
            return orjson.dumps(checkpoint)
        except TypeError:
            pass
    return json.dumps(checkpoint)


class FencedOut(Exception):
    """This worker no longer owns the run: its lease was taken over."""


def strict_serde() -> JsonPlusSerializer:
    """Checkpoint serializer in strict msgpack mode: only known types are revived, never arbitrary classes."""
    return JsonPlusSerializer(allowed_msgpack_modules=None)


class PooledSaver(AsyncPostgresSaver):
    """``AsyncPostgresSaver`` without the per-instance lock, for use with a connection pool only.

    ``lock`` (benchmarks only: ``CLEW_CHECKPOINTER_LOCK``) brings the stock behaviour back: one lock, shared by
    every saver of the process, held around each database call, as a single ``AsyncPostgresSaver`` would.
    """

    def __init__(self, pool: AsyncConnectionPool[Any], *, lock: asyncio.Lock | None = None) -> None:
        super().__init__(pool, serde=strict_serde())
        self.shared_lock = lock

    @asynccontextmanager
    async def _cursor(self, *, pipeline: bool = False) -> AsyncIterator[AsyncCursor[DictRow]]:
        # A pooled connection is used by this call alone, so no lock is needed; the parent's
        # pipeline/transaction handling per connection stays the same.
        async with self.shared_lock or contextlib.nullcontext(), self.conn.connection() as conn:  # type: ignore[union-attr]
            if pipeline and self.supports_pipeline:
                async with conn.pipeline(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            elif pipeline:
                async with conn.transaction(), conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur
            else:
                async with conn.cursor(binary=True, row_factory=dict_row) as cur:
                    yield cur


    async def acopy_thread(self, source_thread_id: str, target_thread_id: str) -> None:
        """Copy every checkpoint, blob and write of ``source_thread_id`` to ``target_thread_id``, in one
        transaction (LangGraph's ``BaseCheckpointSaver.acopy_thread``; the stock Postgres saver has none)."""
        params = {"source": str(source_thread_id), "target": str(target_thread_id)}
        async with self.shared_lock or contextlib.nullcontext(), self.conn.connection() as conn:  # type: ignore[union-attr]
            async with conn.transaction():
                for statement in (COPY_CHECKPOINTS, COPY_BLOBS, COPY_WRITES):
                    await conn.execute(statement, params)


class LockedPooledSaver(AsyncPostgresSaver):
    """The stock saver (one lock per instance) on the same pool: kept for the before/after benchmark."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        super().__init__(pool, serde=strict_serde())


class FencedSaver(PooledSaver):
    """A run's view of the checkpointer: writes land only while ``fencing_token`` still owns ``run_id``.

    LangGraph's saver has no hook for a condition on its writes, so this class does its two writes itself, each
    as one statement (``persistence/checkpoint_sql.py``) that carries the fence. The rows are built exactly as
    ``AsyncPostgresSaver.aput`` / ``aput_writes`` of the locked langgraph-checkpoint-postgres version build them
    (its own ``_dump_blobs`` / ``_dump_writes``; tests/test_core_checkpointer.py compares the stored rows with
    the stock saver's), and every read is the stock saver's.
    """

    def __init__(
        self, pool: AsyncConnectionPool[Any], run_id: str, fencing_token: int, *, lock: asyncio.Lock | None = None
    ) -> None:
        super().__init__(pool, lock=lock)
        self.run_id = run_id
        self.fencing_token = fencing_token
        self.retry_seconds = 30.0
        self._pending: list[_PendingWrites] = []
        # the thread known to have no checkpoint (see expect_empty_thread), answered once without a read
        self._empty_thread: str | None = None

    def expect_empty_thread(self, thread_id: str) -> None:
        """The run was just claimed for the first time and its thread had no checkpoint then (the claim's
        ``checkpoint_before`` is ''): nothing can have written one since (one running run per thread, a state
        update refused while the thread is busy), so the graph's first read of the thread's latest root
        checkpoint is answered None without a statement."""
        self._empty_thread = str(thread_id)

    async def aget_tuple(self, config: RunnableConfig) -> Any:
        configurable = config.get("configurable") or {}
        empty, self._empty_thread = self._empty_thread, None
        if (empty is not None and str(configurable.get("thread_id")) == empty
                and not configurable.get("checkpoint_ns") and not configurable.get("checkpoint_id")):
            return None
        return await super().aget_tuple(config)

    async def _write(self, sql: str, params: dict[str, Any]) -> None:
        """One fenced statement, repeated after a transient error (a restarted Postgres, a deadlock victim) for up
        to ``retry_seconds``: both writes are idempotent upserts under the fence, so a repetition after a commit
        whose answer was lost changes nothing. A write that still fails raises — it is never skipped — and
        with the executor's ``sync`` durability the next step does not start."""
        params["run_id"] = self.run_id
        params["token"] = self.fencing_token

        async def once() -> Any:
            async with self.shared_lock or contextlib.nullcontext(), self.conn.connection() as conn:  # type: ignore[union-attr]
                cur = await conn.execute(sql, params)
                return await cur.fetchone()

        row = await retrying(once, within=self.retry_seconds, what="checkpoint write")
        if not row or not (row["owned"] if isinstance(row, dict) else row[0]):
            raise FencedOut(f"run {self.run_id}: lease lost (fencing token {self.fencing_token})")

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        configurable = config["configurable"]
        thread_id = str(configurable["thread_id"])
        checkpoint_ns = configurable["checkpoint_ns"]
        # as the stock aput: primitive channel values stay inline in the checkpoint, the others become blobs
        copy = checkpoint.copy()
        copy["channel_values"] = copy["channel_values"].copy()
        blob_values: dict[str, Any] = {}
        for k, v in checkpoint["channel_values"].items():
            if isinstance(v, _DeltaSnapshot):
                blob_values[k] = copy["channel_values"].pop(k)
                copy["channel_values"][k] = True
            elif v is None or isinstance(v, str | int | float | bool):
                pass
            else:
                blob_values[k] = copy["channel_values"].pop(k)
        blob_versions = {k: v for k, v in new_versions.items() if k in blob_values}
        blobs = (
            await _serialize(self._dump_blobs, thread_id, checkpoint_ns, blob_values, blob_versions,
                             values=[blob_values[k] for k in blob_versions])
            if blob_versions else []
        )
        parent_id = configurable.get("checkpoint_id")
        # the parent's task writes still waiting (see _PendingWrites), taken now: they go with this statement
        folded = [p for p in self._pending if p.key == (thread_id, checkpoint_ns, parent_id)] if parent_id else []
        if folded:
            self._pending = [p for p in self._pending if p.done is None and p not in folded]
            for p in folded:
                p.done = asyncio.get_running_loop().create_future()
                # read by the waiting aput_writes; should that have been cancelled, nobody else retrieves it
                p.done.add_done_callback(lambda f: f.cancelled() or f.exception())
        rows = [(p, r) for p in folded for r in p.rows]
        try:
            await self._write(
                PUT_CHECKPOINT,
                {
                    "thread_id": thread_id,
                    "checkpoint_ns": checkpoint_ns,
                    "checkpoint_id": checkpoint["id"],
                    "parent_id": parent_id,
                    "checkpoint": Jsonb(copy, dumps=_checkpoint_json),
                    "metadata": Jsonb(get_serializable_checkpoint_metadata(config, metadata)),
                    "channels": [b[2] for b in blobs],
                    "versions": [b[3] for b in blobs],
                    "types": [b[4] for b in blobs],
                    "blobs": [b[5] for b in blobs],
                    "w_task_ids": [p.task_id for p, _ in rows],
                    "w_task_paths": [p.task_path for p, _ in rows],
                    "w_idxs": [r[5] for _, r in rows],
                    "w_channels": [r[6] for _, r in rows],
                    "w_types": [r[7] for _, r in rows],
                    "w_blobs": [r[8] for _, r in rows],
                },
            )
        except BaseException as exc:
            for p in folded:
                _settle(p, exc)
            raise
        for p in folded:
            _settle(p, None)
        return {"configurable": {"thread_id": thread_id, "checkpoint_ns": checkpoint_ns,
                                 "checkpoint_id": checkpoint["id"]}}

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        if not writes:
            return
        configurable = config["configurable"]
        thread_id, checkpoint_ns = str(configurable["thread_id"]), configurable["checkpoint_ns"]
        checkpoint_id = configurable["checkpoint_id"]
        upsert = all(w[0] in WRITES_IDX_MAP for w in writes)
        rows = await _serialize(
            self._dump_writes, thread_id, checkpoint_ns, checkpoint_id, task_id, task_path, writes,
            values=[w[1] for w in writes],
        )
        if upsert:
            # one statement cannot upsert a row twice; row by row (the stock way) the last one wins, so keep it
            rows = list({r[5]: r for r in rows}.values())
        elif checkpoint_id:
            # ordinary writes may ride with the checkpoint that closes their step (module docstring)
            pending = _PendingWrites((thread_id, checkpoint_ns, checkpoint_id), task_id, task_path, rows)
            self._pending.append(pending)
            try:
                for _ in range(FOLD_PASSES):
                    await asyncio.sleep(0)
                    if pending.done is not None:
                        break
            finally:
                if pending.done is None and pending in self._pending:
                    self._pending.remove(pending)
            if pending.done is not None:
                await pending.done  # the checkpoint's statement: its outcome (FencedOut, an error) is this one's
                return
        await self._write(
            UPSERT_WRITES if upsert else INSERT_WRITES,
            {
                "thread_id": thread_id,
                "checkpoint_ns": checkpoint_ns,
                "checkpoint_id": checkpoint_id,
                "task_id": task_id,
                "task_path": task_path,
                "idxs": [r[5] for r in rows],
                "channels": [r[6] for r in rows],
                "types": [r[7] for r in rows],
                "blobs": [r[8] for r in rows],
            },
        )


def _settle(pending: _PendingWrites, exc: BaseException | None) -> None:
    """Hand the outcome of the checkpoint statement that carried ``pending`` to the task writes waiting for it."""
    fut = pending.done
    if fut is None or fut.done():
        return
    if exc is None:
        fut.set_result(None)
    elif isinstance(exc, asyncio.CancelledError):
        fut.cancel()
    else:
        fut.set_exception(exc)
