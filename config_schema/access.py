"""The one function code uses to read a resolved setting.

Graphs and providers receive the run's resolved configuration as a flat mapping ``{"llm.fast_model": …}``
(LangGraph's run context). :func:`setting` reads a key from it and falls back to the declared default, so a
caller never needs to know which layer a value came from.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from config_schema.registry import REGISTRY


def setting(values: Mapping[str, Any] | None, key: str) -> Any:
    """Return ``values[key]`` if present, else the registered default (KeyError for an unknown key)."""
    if values is not None and key in values:
        return values[key]
    definition = REGISTRY.get(key)
    if definition is None:
        raise KeyError(f"unknown setting {key!r}")
    return definition.default


def defaults() -> dict[str, Any]:
    """Every registered key with its default value."""
    return {s.key: s.default for s in REGISTRY.all()}
