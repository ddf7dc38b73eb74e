"""Response encoding: rows and graph objects to the JSON shapes of the Agent Server protocol."""

from __future__ import annotations

from typing import Any

from fastapi.responses import Response
from langgraph.types import StateSnapshot

from engine.serde import dumpb


class JSON(Response):
    """JSON via orjson with clew's encoder (messages, interrupts, UUIDs, datetimes)."""

    media_type = "application/json"

    def render(self, content: Any) -> bytes:
        return dumpb(content)


def thread_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "thread_id": str(row["thread_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "metadata": row["metadata"] or {},
        "status": row["status"],
        "config": row.get("config") or {},
        "values": row.get("state_values"),
        "interrupts": row.get("interrupts") or {},
        "error": row.get("error"),
    }


def run_out(row: dict[str, Any]) -> dict[str, Any]:
    kwargs = dict(row.get("kwargs") or {})
    return {
        "run_id": str(row["run_id"]),
        "thread_id": str(row["thread_id"]),
        "assistant_id": str(row["assistant_id"]),
        "created_at": row["created_at"],
        "updated_at": row["updated_at"],
        "status": row["status"],
        "metadata": row.get("metadata") or {},
        "kwargs": kwargs,
        "multitask_strategy": row.get("multitask_strategy", "enqueue"),
        "attempt": row.get("attempt", 0),
        "error": row.get("error"),
    }


def assistant_out(row: dict[str, Any]) -> dict[str, Any]:
    return {
        "assistant_id": str(row["assistant_id"]),
        "graph_id": row["graph_id"],
        "name": row["name"],
        "description": row.get("description"),
        "config": row.get("config") or {},
        "context": row.get("context") or {},
        "metadata": row.get("metadata") or {},
        "version": row.get("version", 1),
        "created_at": row["created_at"],
        "updated_at": row.get("updated_at", row["created_at"]),
    }


def snapshot_out(state: Any) -> dict[str, Any]:
    """A LangGraph ``StateSnapshot`` as the protocol's ThreadState."""
    cfg = state.config or {}
    conf = cfg.get("configurable", {})
    parent = (state.parent_config or {}).get("configurable", {}) if state.parent_config else None
    tasks = []
    for t in state.tasks or ():
        # a subgraph's task carries its state (read with subgraphs=true) or where to read it (its checkpoint)
        sub = getattr(t, "state", None)
        nested = snapshot_out(sub) if isinstance(sub, StateSnapshot) else None
        where = None
        if isinstance(sub, dict):
            conf_ = sub.get("configurable", {})
            where = {"thread_id": conf_.get("thread_id"), "checkpoint_ns": conf_.get("checkpoint_ns", "")}
        task: dict[str, Any] = {
            "id": t.id,
            "name": t.name,
            "path": list(t.path) if getattr(t, "path", None) else [],
            "error": str(t.error) if t.error else None,
            "interrupts": [{"value": i.value, "id": i.id} for i in t.interrupts],
            "checkpoint": where,
            "state": nested,
            "result": getattr(t, "result", None),
        }
        tasks.append(task)
    return {
        "values": state.values,
        "next": list(state.next),
        "tasks": tasks,
        "checkpoint": {
            "thread_id": conf.get("thread_id"),
            "checkpoint_ns": conf.get("checkpoint_ns", ""),
            "checkpoint_id": conf.get("checkpoint_id"),
            "checkpoint_map": conf.get("checkpoint_map"),
        } if conf else None,
        "metadata": state.metadata,
        "created_at": state.created_at,
        "parent_checkpoint": {
            "thread_id": parent.get("thread_id"),
            "checkpoint_ns": parent.get("checkpoint_ns", ""),
            "checkpoint_id": parent.get("checkpoint_id"),
        } if parent else None,
        "interrupts": [{"value": i.value, "id": i.id} for i in (state.interrupts or ())],
        "checkpoint_id": conf.get("checkpoint_id"),
        "parent_checkpoint_id": parent.get("checkpoint_id") if parent else None,
    }


def empty_state(thread_id: str) -> dict[str, Any]:
    return {
        "values": {},
        "next": [],
        "tasks": [],
        "checkpoint": None,
        "metadata": {},
        "created_at": None,
        "parent_checkpoint": None,
        "interrupts": [],
        "checkpoint_id": None,
        "parent_checkpoint_id": None,
    }
