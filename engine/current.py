"""The runtime of the run being executed, as graph nodes reach it: one ``ContextVar``, set by the executor.

A graph is loaded from ``langgraph.json`` and run by the engine, so its nodes cannot take the process's
subsystems (database pool, knowledge base, configuration service) as arguments. The executor enters
:func:`runtime_scope` around every run; LangGraph runs a run's tasks in copies of that context, so
:func:`current_runtime` inside a node (or anything it calls) is the runtime executing it. Code outside a
run (HTTP handlers, the CLI) is handed the runtime explicitly and does not use this accessor. Tests that
call a graph directly enter :func:`runtime_scope` themselves (``tests/support/runtime.py``).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from engine.runtime import Runtime

_CURRENT: ContextVar[Runtime | None] = ContextVar("clew_runtime", default=None)


class NoRuntime(RuntimeError):
    """Code that needs clew's runtime ran outside a run executed by clew (serve or worker)."""


def current_runtime() -> Runtime:
    """The runtime executing the current run (:class:`NoRuntime` outside one)."""
    runtime = _CURRENT.get()
    if runtime is None:
        raise NoRuntime("this needs clew's runtime: it runs only inside a run executed by clew (serve or worker)")
    return runtime


def runtime_or_none() -> Runtime | None:
    """The runtime executing the current run, or None (a graph invoked directly, without clew)."""
    return _CURRENT.get()


@contextmanager
def runtime_scope(runtime: Runtime) -> Iterator[Runtime]:
    """Make ``runtime`` the current runtime for the code inside the block (and the tasks it starts)."""
    token = _CURRENT.set(runtime)
    try:
        yield runtime
    finally:
        _CURRENT.reset(token)
