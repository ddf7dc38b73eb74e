"""Progress events of a research, sent as LangGraph ``custom`` stream events.

Clients (the CLI's progress bars, a chat UI, ``GET /api/v1/research/{id}/progress``) follow a research by
these events; they are informative only -- what must survive a crash lives in the graph state.

Three shapes, told apart by ``type``:

- ``research.stage``: ``{"type", "stage", "message"}`` -- planning, approval, researching, writing,
  reviewing, done (or rejected / failed);
- ``research.branch``: ``{"type", "index", "query", "status": "started" | "done" | "failed", "level",
  "sources", "error"}`` -- one per sub-query branch as it starts and ends;
- ``research.progress``: ``{"type", "current_depth", "total_depth", "current_breadth", "total_breadth",
  "completed_queries", "total_queries", "current_query"}`` -- overall progress (deep research's levels;
  standard research is one level).
"""

from __future__ import annotations

import asyncio
from typing import Any

from langgraph.config import get_stream_writer

STAGE = "research.stage"
BRANCH = "research.branch"
PROGRESS = "research.progress"


def emit(payload: dict[str, Any]) -> None:
    """Send a custom stream event; a no-op outside a graph run (e.g. a node called directly in a test)."""
    try:
        writer = get_stream_writer()
    except RuntimeError:
        return
    writer(payload)


def stage(name: str, message: str = "") -> None:
    emit({"type": STAGE, "stage": name, "message": message})


def branch(
    index: int, query: str, status: str, *, level: int = 1, sources: int = 0, error: str | None = None
) -> None:
    emit(
        {
            "type": BRANCH,
            "index": index,
            "query": query,
            "status": status,
            "level": level,
            "sources": sources,
            "error": error,
        }
    )


def progress(
    *,
    current_depth: int,
    total_depth: int,
    current_breadth: int,
    total_breadth: int,
    completed_queries: int,
    total_queries: int,
    current_query: str | None,
) -> dict[str, Any]:
    payload = {
        "type": PROGRESS,
        "current_depth": current_depth,
        "total_depth": total_depth,
        "current_breadth": current_breadth,
        "total_breadth": total_breadth,
        "completed_queries": completed_queries,
        "total_queries": total_queries,
        "current_query": current_query,
    }
    emit(payload)
    return payload


class CompletionCounter:
    """Counts finished branches of a run, across parallel branches of one super-step.

    Branches of one super-step run concurrently and cannot see each other's state updates, so the count of
    completed queries for progress events is kept here, per run, seeded by the dispatching node from the
    durable state (so it is right again after a crash). It only feeds progress events.
    """

    def __init__(self) -> None:
        self._counts: dict[str, int] = {}
        self._lock = asyncio.Lock()

    def seed(self, run_key: str, completed: int) -> None:
        self._counts[run_key] = completed

    async def increment(self, run_key: str, floor: int = 0) -> int:
        async with self._lock:
            value = max(self._counts.get(run_key, 0), floor) + 1
            self._counts[run_key] = value
            if len(self._counts) > 1024:  # bounded: drop the oldest runs
                for key in list(self._counts)[:512]:
                    self._counts.pop(key, None)
            return value


COUNTER = CompletionCounter()
