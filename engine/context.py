"""The run context a graph receives: the resolved settings snapshot, secrets added fresh, fitted to the graph.

Secret settings (API keys) are never stored in a run's snapshot: they are removed when the run is created
and read again from the configuration layers when the run executes, so a key lives only where an
administrator put it and a rotated key reaches a run that was waiting. A graph with a class-based
``context_schema`` (dataclass, Pydantic model, TypedDict) gets only the keys its schema declares, since
LangGraph builds the schema from the mapping.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from config_schema.registry import REGISTRY

if TYPE_CHECKING:
    from engine.runtime import Runtime

# The configurable key holding the id of the user a run belongs to (the reference server's name). The client's
# own configurable keys (a ``user_id`` of its choosing included) reach the graph untouched; code that needs
# the run's user reads this key, which no client can set (see engine.run_input.build_config).
AUTH_USER_ID = "langgraph_auth_user_id"


def secret_keys() -> set[str]:
    return {s.key for s in REGISTRY.all() if s.secret}


def without_secrets(values: Mapping[str, Any]) -> dict[str, Any]:
    secrets = secret_keys()
    return {k: v for k, v in values.items() if k not in secrets}


async def fresh_secrets(runtime: Runtime, user_id: str) -> dict[str, Any]:
    secrets = secret_keys()
    # the cache is current: every change invalidates it in every process (NOTIFY); the run's creation
    # already verified the generations against the database
    resolved = await runtime.config.user_resolved(user_id, verify=False)
    return {k: v for k, v in resolved.values.items() if k in secrets}


def _schema_fields(schema: Any) -> set[str] | None:
    if schema is None or schema is dict:
        return None
    if dataclasses.is_dataclass(schema):
        return {f.name for f in dataclasses.fields(schema)}
    fields = getattr(schema, "model_fields", None)
    if isinstance(fields, dict):
        return set(fields)
    try:
        return set(typing.get_type_hints(schema))
    except Exception:
        return None


def fit_to_graph(graph: Any, context: Mapping[str, Any] | None) -> Any:
    if context is None:
        return None
    fields = _schema_fields(getattr(graph, "context_schema", None))
    if fields is None:
        return dict(context)
    return {k: v for k, v in context.items() if k in fields}
