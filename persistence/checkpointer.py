"""LangGraph checkpointing on the shared pool: lock-free, strict msgpack, fenced per run.

``AsyncPostgresSaver`` wraps every database call of an instance in one ``asyncio.Lock`` (langgraph issue
#7259). That is needed when the saver holds a single connection, but with a pool it serialises every
checkpoint read and write of the whole process. :class:`PooledSaver` takes a pool and drops the lock: each
call borrows its own connection, so concurrent runs no longer queue behind each other.

:class:`FencedSaver` is the per-run view a worker hands to the graph: every checkpoint and pending write is
committed in one pipelined transaction with a check that the run's fencing token is still the one this worker claimed
(``SELECT … FOR SHARE`` on the run row). A worker that stalled past its lease and lost the run therefore
writes nothing, and a takeover waits for an in-flight write to finish rather than racing it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from typing import Any

import psycopg
from langchain_core.runnables import RunnableConfig
from langgraph.checkpoint.base import ChannelVersions, Checkpoint, CheckpointMetadata
from langgraph.checkpoint.postgres.aio import AsyncPostgresSaver
from langgraph.checkpoint.serde.jsonplus import JsonPlusSerializer
from psycopg import AsyncCursor
from psycopg.rows import DictRow, dict_row
from psycopg_pool import AsyncConnectionPool

from persistence.runs_sql import FENCE_OR_FAIL


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


class LockedPooledSaver(AsyncPostgresSaver):
    """The stock saver (one lock per instance) on the same pool: kept for the before/after benchmark."""

    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        super().__init__(pool, serde=strict_serde())


def _caused_by(exc: BaseException | None, kind: type[BaseException]) -> bool:
    seen: set[int] = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, kind):
            return True
        seen.add(id(exc))
        exc = exc.__cause__ or exc.__context__
    return False


class FencedSaver(PooledSaver):
    """A run's view of the checkpointer: writes commit only while ``fencing_token`` still owns ``run_id``."""

    def __init__(
        self, pool: AsyncConnectionPool[Any], run_id: str, fencing_token: int, *, lock: asyncio.Lock | None = None
    ) -> None:
        super().__init__(pool, lock=lock)
        self.run_id = run_id
        self.fencing_token = fencing_token

    @asynccontextmanager
    async def _fenced(self) -> AsyncIterator[AsyncPostgresSaver]:
        # One pipeline, one implicit transaction (autocommit, no Sync in between): the fence check goes first and
        # locks the run row, the saver's writes follow, and its closing Sync commits them together. A lost lease
        # makes the check fail, which aborts the pipeline: nothing lands. No BEGIN/COMMIT, one round trip.
        try:
            async with (
                self.shared_lock or contextlib.nullcontext(),
                self.conn.connection() as conn,  # type: ignore[union-attr]
                conn.pipeline() as pipe,
            ):
                await conn.execute(FENCE_OR_FAIL, (self.run_id, self.fencing_token))
                # a single-connection saver on this pipeline does the actual write (and syncs at its end)
                yield AsyncPostgresSaver(conn, pipe=pipe, serde=self.serde)
        except (psycopg.errors.DivisionByZero, psycopg.errors.PipelineAborted) as exc:
            # the check's error, or the abort of the writes behind it (whichever result psycopg read first)
            if not _caused_by(exc, psycopg.errors.DivisionByZero):
                raise
            raise FencedOut(f"run {self.run_id}: lease lost (fencing token {self.fencing_token})") from exc

    async def aput(
        self,
        config: RunnableConfig,
        checkpoint: Checkpoint,
        metadata: CheckpointMetadata,
        new_versions: ChannelVersions,
    ) -> RunnableConfig:
        async with self._fenced() as inner:
            return await inner.aput(config, checkpoint, metadata, new_versions)

    async def aput_writes(
        self,
        config: RunnableConfig,
        writes: Sequence[tuple[str, Any]],
        task_id: str,
        task_path: str = "",
    ) -> None:
        async with self._fenced() as inner:
            await inner.aput_writes(config, writes, task_id, task_path)
