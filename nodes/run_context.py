"""What a node reads of the run it is part of: the run context's setting values and the run's user.

The engine passes a run's resolved settings as LangGraph's run context (``runtime.context``, a mapping the
nodes read with ``config_schema.access.setting``) and the run's user in the configurable key
``engine.context.AUTH_USER_ID``. Every mode's nodes read both the same way, through these two functions.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime

from engine.context import AUTH_USER_ID


def context_values(runtime: Runtime[Any] | None) -> Mapping[str, Any] | None:
    """The run's setting values (``runtime.context``); None outside a run (the defaults apply)."""
    ctx = getattr(runtime, "context", None) if runtime is not None else None
    return ctx if isinstance(ctx, Mapping) else None


def run_user(config: RunnableConfig) -> str:
    """The id of the user the run belongs to (``local`` when the graph runs outside the engine)."""
    return str((config.get("configurable") or {}).get(AUTH_USER_ID) or "local")
