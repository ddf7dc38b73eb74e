"""Undoing a run (a cancel with ``action=rollback``, the ``rollback`` multitask strategy): its checkpoints go, the
run and its events go, and the thread is as it was before the run.

The run's last events (ending with ``end``) and its stop are written with the thread row locked (lock order:
thread, then run); the checkpoints after ``checkpoint_before`` are deleted in the same transaction. The run row
is deleted afterwards, once readers got its ``end``.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import TYPE_CHECKING, Any

from engine.events import write_events
from persistence import checkpoint_sql
from persistence import runs as runs_repo
from persistence.checkpointer import FencedOut
from persistence.runs_sql import LOCK_THREAD, SETTLE_THREAD, STOP_FOR_ROLLBACK

if TYPE_CHECKING:
    from engine.events import EventWriter
    from engine.execution import Execution
    from engine.runtime import Runtime


async def rollback_run(
    runtime: Runtime, execution: Execution, writer: EventWriter | None, bound: Any,
    *, last_events: list[tuple[int, str, str]] | None = None,
) -> None:
    """Undo a run: its checkpoints go, the run and its events go, the thread is as before the run.

    ``last_events``: events not written yet (ending with ``end``) when the writer is already closed.
    """
    if writer is not None:
        with contextlib.suppress(Exception):
            await writer.flush()
        writer.add("end", None)
        batch = writer.take()
        await writer.close()
    else:
        batch = list(last_events or [])
    before = execution.run.get("checkpoint_before")
    async with runtime.db.connection() as conn:
        row = await runs_repo.checkpoint_before(conn, execution.run_id)
    if row is not None:
        before = row["checkpoint_before"]
    try:
        async with runtime.db.transaction() as conn:
            await conn.execute(LOCK_THREAD, (execution.thread_id,))  # lock order: thread, then run
            if batch:
                await write_events(conn, execution.run_id, execution.token, batch)
            cur = await conn.execute(STOP_FOR_ROLLBACK, (execution.run_id, execution.token))
            if await cur.fetchone() is None:
                raise FencedOut(execution.run_id)
            await checkpoint_sql.delete_after(conn, execution.thread_id, before)
    except FencedOut:
        return
    runtime.broker.wake(execution.run_id)
    await asyncio.sleep(0)
    await finalize_rollback(runtime, execution.run_id, execution.thread_id)
    bound.info("run rolled back")


async def finalize_rollback(runtime: Runtime, run_id: str, thread_id: str) -> None:
    """Delete the rolled-back run (after readers got its ``end``) and settle the thread's status."""
    async with runtime.db.transaction() as conn:
        await conn.execute(LOCK_THREAD, (thread_id,))  # lock order: thread, then run
        await runs_repo.delete(conn, run_id)
        await conn.execute(SETTLE_THREAD, {"thread_id": thread_id, "status": "idle", "error": None, "values": None, "interrupts": None})
    await runtime.refresh_thread_status(thread_id)
