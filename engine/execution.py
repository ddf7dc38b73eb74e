"""The handle on a run being executed (:class:`Execution`), why it stops early (:class:`StopReason`, a hand-back
at a super-step boundary), and which failures are worth another attempt (:func:`transient`).

The worker holds an :class:`Execution` per run it executes and stops it for a reason (cancel, shutdown, a lost
lease); the executor (``engine/executor.py``) and the modules it uses read and fill it.
"""

from __future__ import annotations

import asyncio
from typing import Any

from persistence.checkpointer import FencedOut
from persistence.db import is_transient


class AttemptsExhausted(Exception):
    """The run was claimed more often than its max_attempts allows."""


class HandBack(Exception):
    """Raised at a super-step boundary of a draining worker: the step's checkpoint is durable, the next step
    must not start here (the run is handed back and continues elsewhere)."""


def transient(exc: BaseException) -> bool:
    """Whether a failed attempt is worth another one: a lost lease, a database connection or serialization
    failure, a network connection failure (``ConnectionError``, httpx's transport errors, and anything raised
    *from* one, as SDK clients wrap them). Any other exception a node raises will recur: the run ends ``error``
    at once. A node's own LangGraph ``RetryPolicy`` has already been applied inside the attempt (LangGraph retries
    the node as the policy says before the exception reaches clew), so clew does not multiply it."""
    try:
        import httpx

        network: tuple[type[BaseException], ...] = (ConnectionError, httpx.TransportError)
    except ImportError:  # pragma: no cover - httpx is a dependency of the SDKs clew uses
        network = (ConnectionError,)
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, (FencedOut, *network)) or is_transient(current):
            return True
        current = current.__cause__
    return False


class StopReason:
    CANCEL = "cancel"
    SHUTDOWN = "shutdown"
    FENCED = "fenced"


class Execution:
    """Handle on a run being executed, so the worker can stop it for a reason."""

    def __init__(self, run: dict[str, Any], *, lease_deadline: float = 0.0) -> None:
        self.run = run
        self.run_id = str(run["run_id"])
        self.thread_id = str(run["thread_id"])
        self.token = int(run["fencing_token"])
        self.reason: str | None = None
        self.drain_requested = asyncio.Event()
        # until when (time.monotonic()) this worker's lease is known to hold: the claim and each renewal set it
        # (from the moment the statement was sent, so it is never later than the database's own expiry)
        self.lease_deadline = lease_deadline
        self.stream_task: asyncio.Task[None] | None = None
        self.context: Any = None
        self.final_values: Any = None
        self.final_interrupts: dict[str, Any] | None = None
        # the last root `values` chunk of the stream, while no interrupt has been seen (else None)
        self.streamed_final: Any = None
        self.saw_interrupt = False
        # whether another run of the thread may be waiting for this one (so the worker claims again)
        self.next_queued = True

    def stop(self, reason: str) -> None:
        if self.reason is None:
            self.reason = reason
        if self.stream_task is not None and not self.stream_task.done():
            self.stream_task.cancel()
