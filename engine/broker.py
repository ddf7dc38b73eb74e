"""In-process wake-ups for stream readers, workers and cancel requests, fed by Postgres LISTEN/NOTIFY.

Nothing here carries data: events live in ``run_events`` and runs in ``runs``. A wake-up only tells a waiter
"look again". The one exception is :class:`Outcomes`: the final answer of a run this process executed, handed
to a joiner in this process (``runs/wait``) once the run's end is committed, so the joiner need not read back
what the executor just wrote.

NOTIFY only while another clew process listens. A NOTIFY costs the sender's and the listener's backends and
this process's LISTEN connection a message each, and Postgres serialises the commits of notifying transactions;
with one process alone on its database every NOTIFY of the hot paths (run creation, event batches, a run's end)
would only come back to its own listener. So every process's LISTEN connection carries the application_name
``clew-listener``, and :attr:`Broker.peers` says whether another one is connected to the database: checked
every ``PEER_CHECK_SECONDS``, set at once when a starting process announces itself (``clew_hello``, sent as soon
as its LISTENs are in place), and assumed while this process's own listener is down. The hot paths pass
:meth:`Broker.channel` (None when alone) and, when they sent nothing, emit the announcement locally. A
transaction committed without NOTIFY in the milliseconds between a new process's LISTEN and this process's
reading of its hello reaches that process's waiters by their periodic re-read (a worker's sweep, a stream's
re-check) instead of by a wake-up. Writers in this process wake local waiters directly (the in-process hand-off); one dedicated
LISTEN connection per process relays the NOTIFYs sent by other processes. When that connection drops, every
waiter is woken after it is back, so nothing that happened meanwhile is missed.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any

import structlog

from persistence import channels
from persistence.channels import (
    CONFIG_CHANNEL,
    EVENTS_CHANNEL,
    HELLO_CHANNEL,
    LISTENER_APP,
    RUNS_CHANNEL,
    TODOS_CHANNEL,
)

if TYPE_CHECKING:
    from persistence.db import Database

log = structlog.get_logger("clew.broker")

PEER_CHECK_SECONDS = 1.0  # how often a process looks whether another clew process listens on its database

# TODOS_CHANNEL (persistence/channels.py), payload: a user id; wakes the key todo_key(user id)


def todo_key(user_id: str) -> str:
    """The broker key woken when ``user_id``'s todos change."""
    return f"todos:{user_id}"


class Broker:
    def __init__(self) -> None:
        self._waiters: dict[str, set[asyncio.Event]] = defaultdict(set)
        self._handlers: dict[str, list[Callable[[str], Awaitable[None] | None]]] = defaultdict(list)
        # whether another clew process may listen on this database (see the module docstring); kept by the
        # Listener, True until it knows better
        self.peers = True

    def channel(self, channel: str) -> str | None:
        """``channel`` for a hot path's NOTIFY, or None when no other process listens (the caller then emits
        locally what the NOTIFY would have brought back)."""
        return channel if self.peers else None

    @contextlib.contextmanager
    def subscribe(self, key: str, event: asyncio.Event | None = None) -> Iterator[asyncio.Event]:
        """An event set whenever ``key`` (a run id) is woken; clear it before re-reading. Pass ``event`` to have
        one event woken by several keys."""
        ev = event or asyncio.Event()
        self._waiters[key].add(ev)
        try:
            yield ev
        finally:
            waiters = self._waiters.get(key)
            if waiters is not None:
                waiters.discard(ev)
                if not waiters:
                    self._waiters.pop(key, None)

    def wake(self, key: str) -> None:
        for ev in self._waiters.get(key, ()):
            ev.set()

    def wake_all(self) -> None:
        for waiters in self._waiters.values():
            for ev in waiters:
                ev.set()

    def on(self, channel: str, handler: Callable[[str], Awaitable[None] | None]) -> None:
        """Call ``handler(payload)`` for every NOTIFY on ``channel`` (and local :meth:`emit`)."""
        self._handlers[channel].append(handler)

    async def emit(self, channel: str, payload: str) -> None:
        if channel == EVENTS_CHANNEL:
            self.wake(payload)
        elif channel == TODOS_CHANNEL:
            self.wake(todo_key(payload))
        for handler in self._handlers.get(channel, ()):
            result = handler(payload)
            if result is not None:
                await result


class Outcomes:
    """Final answers of runs executed in this process, for joiners waiting in this process (see
    ``engine.lifecycle.join_run``). Kept only while someone waits: :meth:`expect` before waiting,
    :meth:`publish` by the executor after the run's end committed, :meth:`get` on a wake-up."""

    def __init__(self) -> None:
        self._expected: dict[str, int] = {}
        self._ready: dict[str, dict[str, Any]] = {}

    @contextlib.contextmanager
    def expect(self, run_id: str) -> Iterator[None]:
        self._expected[run_id] = self._expected.get(run_id, 0) + 1
        try:
            yield
        finally:
            left = self._expected.get(run_id, 1) - 1
            if left > 0:
                self._expected[run_id] = left
            else:
                self._expected.pop(run_id, None)
                self._ready.pop(run_id, None)

    def publish(self, run_id: str, outcome: dict[str, Any]) -> None:
        """``outcome``: what was committed as the run's end (``status``, ``error``, ``thread_values``,
        ``thread_interrupts``); dropped when nobody waits for it."""
        if run_id in self._expected:
            self._ready[run_id] = outcome

    def get(self, run_id: str) -> dict[str, Any] | None:
        return self._ready.get(run_id)


class Listener:
    """One LISTEN connection relaying NOTIFYs into a :class:`Broker`, reconnecting forever."""

    def __init__(self, db: Database, broker: Broker) -> None:
        self.db = db
        self.broker = broker
        self._task: asyncio.Task[None] | None = None
        self._peers_task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        self.backend_pid: int | None = None  # of the LISTEN connection
        self._hello_at = 0.0  # when another process last announced itself

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="clew-listener")
        self._peers_task = asyncio.create_task(self._watch_peers(), name="clew-peers")

    @property
    def listening(self) -> bool:
        """Connected and listening now (a lost connection is being re-established otherwise)."""
        return self.ready.is_set() and self._task is not None and not self._task.done()

    async def stop(self) -> None:
        for task in (self._peers_task, self._task):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task

    async def _watch_peers(self) -> None:
        """Keep ``broker.peers``: True while another clew listener is connected (or this one is down)."""
        while True:
            pid = self.backend_pid
            if self.listening and pid is not None:
                started = time.monotonic()
                try:
                    async with self.db.connection() as conn:
                        others = await channels.other_listeners(conn, pid)
                except Exception:  # noqa: BLE001 - unknown: keep notifying
                    others = 1
                if others or not self.listening:
                    self.broker.peers = True
                elif started > self._hello_at:  # no hello arrived while this looked
                    self.broker.peers = False
            else:
                self.broker.peers = True
            await asyncio.sleep(PEER_CHECK_SECONDS)

    async def _run(self) -> None:
        delay = 0.2
        first = True
        while True:
            try:
                conn = await self.db.connect_dedicated(application_name=LISTENER_APP)
                async with conn:
                    for channel in channels.LISTENED:
                        await channels.listen(conn, channel)
                    self.backend_pid = own = conn.info.backend_pid
                    # other processes NOTIFY from now on (see the module docstring)
                    await channels.notify(conn, HELLO_CHANNEL, str(own))
                    self.ready.set()
                    if not first:
                        # we may have missed notifications while disconnected
                        self.broker.wake_all()
                        for channel in (RUNS_CHANNEL, CONFIG_CHANNEL):
                            await self.broker.emit(channel, "")
                    first = False
                    delay = 0.2
                    async for note in conn.notifies():
                        if note.channel == HELLO_CHANNEL:
                            if note.payload != str(own):
                                self._hello_at = time.monotonic()
                                self.broker.peers = True
                            continue
                        try:
                            await self.broker.emit(note.channel, note.payload)
                        except Exception:
                            log.exception("notify handler failed", channel=note.channel)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                self.ready.clear()  # /ready reports the listener down until it reconnects
                self.broker.peers = True  # hellos cannot be heard meanwhile
                log.warning("listen connection lost; reconnecting", error=str(exc))
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
