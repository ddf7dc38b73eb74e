"""The process runtime, clew's composition root: it builds every subsystem of a process, in order, and holds
each in a typed field.

``clew serve`` builds one with in-process workers and hands it to the API; ``clew worker`` builds one with
workers only. :meth:`Runtime.start` is the whole start-up, in this order (:meth:`Runtime.stop` undoes it in
reverse):

1. OpenTelemetry tracing when ``CLEW_OTEL_ENABLED`` (``engine/tracing.py``; first, as it instruments the
   pool's connections), the database pool, then schema setup under an advisory lock (concurrent starts are safe), the graphs and
   their system assistants;
2. the LISTEN connection (``listener``), which wakes workers, stream readers and the configuration cache;
3. ``config``: the configuration service (layers, cache, change notifications);
4. ``knowledge``: the knowledge base, with the configured embedding model (None when this process cannot
   open it: embedded Qdrant belongs to one process);
5. ``operations``: run metrics, this process's heartbeat row, the retention job;
6. the subsystems of packages right of the engine (todo gates, data connections), passed in by the process
   entry point as ``extensions`` (``nodes/extensions.py`` lists them), since the engine does not import them;
7. the workers (``worker``), last, so a run never starts before what it uses.

Nothing registers itself at import time. Graph nodes reach this object through ``engine/current.py``.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal, Protocol

import structlog
from langgraph.store.postgres.aio import AsyncPostgresStore

from config_schema.service import ConfigService
from config_schema.settings import RuntimeSettings
from engine.broker import Broker, Listener, Outcomes
from engine.events import EventLog
from engine.graphs import GraphRegistry, load_config
from engine.operations import Operations
from engine.tracing import setup as setup_tracing
from engine.worker import Worker
from persistence import assistants as assistants_repo
from persistence import channels
from persistence import threads as threads_repo
from persistence.channels import CANCEL_CHANNEL, RUNS_CHANNEL
from persistence.checkpointer import PooledSaver
from persistence.db import Database
from retrieval.knowledge import KnowledgeBase, close_knowledge_base
from retrieval.knowledge.process import open_process_knowledge

log = structlog.get_logger("clew.runtime")

RunHook = Callable[..., Awaitable[None]]
ProcessKind = Literal["serve", "worker", "tool"]


@dataclass
class RunHooks:
    """Extension points around a run (budgets, usage accounting) without the executor knowing them."""

    before_run: list[RunHook] = field(default_factory=list)
    after_run: list[RunHook] = field(default_factory=list)


class Extension(Protocol):
    """A subsystem of a package right of the engine, started after the engine's own subsystems and before the
    workers, stopped before them; the process entry point passes the list in (``nodes/extensions.py``)."""

    async def start(self, runtime: Runtime) -> None: ...

    async def stop(self, runtime: Runtime) -> None: ...


def _settle_heap() -> None:
    """Move everything alive after start-up (modules, compiled graphs, LangChain's registries: hundreds of
    thousands of objects that live as long as the process) out of the cyclic garbage collector's sight.

    Every full collection walks all tracked objects, and runs allocate enough to trigger collections all the
    time, so without this the collector re-scans the start-up heap over and over. (py-spy put a few per cent
    of the server's CPU on allocation sites where collections run; the gain is within the runs benchmark's
    noise, so it is a cheap precaution rather than a measured win. ``CLEW_GC_FREEZE=false`` turns it off.)
    """
    import gc
    import os

    if os.environ.get("CLEW_GC_FREEZE", "true").lower() in ("0", "false", "no"):
        return
    gc.collect()
    gc.freeze()


def _dump_tasks_on_signal() -> None:
    """SIGUSR2 writes the stack of every asyncio task to stderr: where a start or a run is waiting (the test
    harness sends it, with SIGUSR1 for thread stacks, before it gives up on a server that does not come up)."""
    import io
    import signal
    import sys

    def dump() -> None:
        out = io.StringIO()
        for task in asyncio.all_tasks():
            out.write(f"--- task {task.get_name()}\n")
            task.print_stack(file=out)
        sys.stderr.write(out.getvalue())
        sys.stderr.flush()

    with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
        asyncio.get_running_loop().add_signal_handler(signal.SIGUSR2, dump)


class Runtime:
    """Everything one clew process shares; build it with :meth:`start` (the fields below are set there)."""

    config: ConfigService
    knowledge: KnowledgeBase | None
    operations: Operations

    def __init__(self, settings: RuntimeSettings, db: Database, graphs: GraphRegistry, *,
                 kind: ProcessKind = "serve") -> None:
        self.settings = settings
        self.db = db
        self.graphs = graphs
        self.kind: ProcessKind = kind
        self.broker = Broker()
        self.outcomes = Outcomes()  # final answers handed from this process's executors to its joiners
        self.listener = Listener(db, self.broker)
        self.event_log = EventLog(db, self.broker)
        # one lock for the whole process (all per-run savers too) when the stock behaviour is asked for
        self.checkpoint_lock: asyncio.Lock | None = asyncio.Lock() if settings.checkpointer_lock else None
        self.saver = PooledSaver(db.pool, lock=self.checkpoint_lock)
        self.store = AsyncPostgresStore(db.pool)  # type: ignore[arg-type]
        self.worker: Worker | None = None
        self.run_hooks = RunHooks()
        self.knowledge = None
        self.extensions: tuple[Extension, ...] = ()
        self._tasks: list[asyncio.Task[None]] = []
        self.broker.on(RUNS_CHANNEL, lambda _payload: self.wake_workers())
        self.broker.on(CANCEL_CHANNEL, self._on_cancel)

    @classmethod
    async def start(
        cls,
        settings: RuntimeSettings,
        config_path: Path | None,
        *,
        workers: int = 0,
        url: str | None = None,
        kind: ProcessKind = "serve",
        extensions: Sequence[Extension] = (),
    ) -> Runtime:
        """Build and start a process's runtime, in the order of this module's docstring."""
        _dump_tasks_on_signal()
        setup_tracing(settings)  # OpenTelemetry when CLEW_OTEL_ENABLED (before the pool: it traces connections)
        db = await Database.open(settings, url=url)
        graphs = load_config(config_path) if config_path else GraphRegistry({})
        runtime = cls(settings, db, graphs, kind=kind)
        await runtime._setup()
        runtime.listener.start()
        await asyncio.wait_for(runtime.listener.ready.wait(), timeout=30)
        runtime.config = ConfigService(db, runtime.broker, settings=settings)
        await runtime.config.start()
        runtime.knowledge = await open_process_knowledge(
            settings, db, (await runtime.config.system_resolved()).values)
        runtime.operations = Operations(runtime)
        runtime.operations.start()
        runtime.extensions = tuple(extensions)
        for extension in runtime.extensions:
            await extension.start(runtime)
        if workers > 0:
            runtime.worker = Worker(runtime, workers)
            runtime.worker.start()
        _settle_heap()
        return runtime

    async def _setup(self) -> None:
        async with self.db.connection() as conn:
            # LangGraph's own migrations build indexes CONCURRENTLY, which waits for every open transaction:
            # so hold a session-level lock taken by polling (a waiter holds no snapshot), not a transaction.
            waited = 0
            while not await channels.try_lock(conn, channels.SETUP_LOCK):
                waited += 1
                if waited % 50 == 0:  # every 5 s: say who holds it, or a stuck start is a silent one
                    holders = await channels.lock_holders(conn, channels.SETUP_LOCK)
                    log.warning("waiting for the schema setup lock", holders=holders)
                await asyncio.sleep(0.1)
            try:
                await self.saver.setup()
                await self.store.setup()
            finally:
                await channels.unlock(conn, channels.SETUP_LOCK)
            for spec in self.graphs.specs.values():
                await assistants_repo.upsert_system(conn, spec.assistant_id, spec.graph_id, spec.description)

    def wake_workers(self) -> None:
        if self.worker is not None:
            self.worker.wake()

    async def _on_cancel(self, run_id: str) -> None:
        if self.worker is not None:
            self.worker.cancel_run(run_id)

    async def refresh_thread_status(self, thread_id: str) -> None:
        """Set an idle thread's status from its graph state (interrupted if a checkpoint waits on one)."""
        async with self.db.connection() as conn:
            row = await threads_repo.get_any(conn, thread_id)
        if row is None or row["status"] == "busy":
            return
        spec = self.graphs.get((row["metadata"] or {}).get("graph_id", ""))
        status = "idle"
        if spec is not None:
            graph = spec.graph.copy(update={"checkpointer": self.saver, "store": self.store})
            state = await graph.aget_state({"configurable": {"thread_id": thread_id}})
            if state.interrupts or state.next:  # waiting on an interrupt, or stopped by a static one
                status = "interrupted"
        async with self.db.connection() as conn:
            await threads_repo.set_status_at_rest(conn, thread_id, status)

    async def stop(self) -> None:
        """Stop what :meth:`start` started, in reverse order (a failing step does not keep the rest running)."""
        if self.worker is not None:
            await self.worker.stop(self.settings.shutdown_grace_seconds)
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for extension in reversed(self.extensions):
            with contextlib.suppress(Exception):
                await extension.stop(self)
        with contextlib.suppress(Exception):
            await self.operations.stop()
        knowledge, self.knowledge = self.knowledge, None
        if knowledge is not None:
            with contextlib.suppress(Exception):
                await close_knowledge_base(knowledge)
        with contextlib.suppress(Exception):
            await self.config.stop()
        await self.event_log.stop()
        await self.listener.stop()
        await self.db.close()
