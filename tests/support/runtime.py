"""A stand-in runtime for tests that call graphs (or node code) directly, without a clew process.

Nodes reach the runtime through ``engine.current`` (the executor sets it around a run); a test running a graph
itself enters :func:`node_runtime` with the parts its nodes use: a knowledge base, a database, settings.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from engine.current import runtime_scope


@dataclass
class StubConfig:
    """The configuration service's read side, answering ``values`` (default: the declared defaults only)."""

    values: Mapping[str, Any] = field(default_factory=dict)

    async def system_resolved(self) -> Any:
        return SimpleNamespace(values=dict(self.values))

    async def user_resolved(self, _user_id: str, verify: bool = True) -> Any:
        return SimpleNamespace(values=dict(self.values))


@contextmanager
def node_runtime(
    *, knowledge: Any = None, db: Any = None, settings: Any = None, config: Any = None
) -> Iterator[Any]:
    """Make a stand-in runtime current for the block (and the tasks started in it)."""
    runtime = SimpleNamespace(knowledge=knowledge, db=db, settings=settings, config=config or StubConfig())
    with runtime_scope(runtime):  # type: ignore[arg-type]
        yield runtime
