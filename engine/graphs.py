"""Loading graphs from a ``langgraph.json`` (the same file ``langgraph dev`` reads).

Each entry of ``graphs`` is ``"./path/to/file.py:attr"`` or ``"package.module:attr"``. The attribute may be
a compiled graph, an uncompiled ``StateGraph`` (compiled here) or a factory function called with no
arguments (or with a config). Graphs are kept without a checkpointer; the engine attaches a per-run fenced
checkpointer and the store when it runs one.
"""

from __future__ import annotations

import asyncio
import importlib
import importlib.util
import inspect
import json
import os
import sys
import uuid
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from langgraph.graph import StateGraph
from langgraph.pregel import Pregel

ASSISTANT_NAMESPACE = uuid.UUID("6ba7b821-9dad-11d1-80b4-00c04fd430c8")


def system_assistant_id(graph_id: str) -> str:
    return str(uuid.uuid5(ASSISTANT_NAMESPACE, graph_id))


class GraphSpec:
    """A graph of ``langgraph.json``. ``graph`` is its default build; a graph exported as a factory (a function
    of the run's ``config``) keeps ``factory`` and is built again per run and per assistant (:meth:`build`)."""

    def __init__(self, graph_id: str, graph: Pregel, description: str | None = None,
                 factory: Callable[..., Any] | None = None) -> None:
        self.graph_id = graph_id
        self.graph = graph
        self.description = description
        self.factory = factory
        self.assistant_id = system_assistant_id(graph_id)

    async def build(self, config: Mapping[str, Any] | None) -> Pregel:
        """The graph for ``config`` (a run's or an assistant's RunnableConfig): the factory's build, else the
        one compiled graph. A synchronous factory runs in a thread (it may do blocking work)."""
        if self.factory is None:
            return self.graph
        conf = {"configurable": {}, **dict(config or {})}
        if inspect.iscoroutinefunction(self.factory):
            result = await self.factory(conf)
        else:
            result = await asyncio.to_thread(self.factory, conf)
        if inspect.isawaitable(result):
            result = await result
        return _to_pregel(result)


class GraphRegistry:
    def __init__(self, specs: dict[str, GraphSpec], config_path: Path | None = None) -> None:
        self.specs = specs
        self.config_path = config_path

    def get(self, graph_id: str) -> GraphSpec | None:
        return self.specs.get(graph_id)

    def __contains__(self, graph_id: str) -> bool:
        return graph_id in self.specs

    def ids(self) -> list[str]:
        return list(self.specs)


def _load_object(ref: str, base: Path) -> Any:
    path_part, _, attr = ref.partition(":")
    if not attr:
        raise ValueError(f"graph reference {ref!r} must be 'path.py:attribute' or 'module:attribute'")
    if path_part.endswith(".py") or "/" in path_part:
        file = (base / path_part).resolve()
        # a file inside packages is imported by its full dotted name (walking up while folders have an
        # __init__.py), so its own imports work and it is the same module the rest of the code imports
        parts = [file.stem]
        root = file.parent
        while (root / "__init__.py").exists():
            parts.insert(0, root.name)
            root = root.parent
        if len(parts) > 1:
            if str(root) not in sys.path:
                sys.path.insert(0, str(root))
            return getattr(importlib.import_module(".".join(parts)), attr)
        mod_name = "clew_user_graph_" + file.stem + "_" + uuid.uuid5(ASSISTANT_NAMESPACE, str(file)).hex[:8]
        spec = importlib.util.spec_from_file_location(mod_name, file)
        if spec is None or spec.loader is None:
            raise ValueError(f"cannot load graph file {file}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[mod_name] = module
        spec.loader.exec_module(module)
        return getattr(module, attr)
    return getattr(importlib.import_module(path_part), attr)


def _to_pregel(obj: Any) -> Pregel:
    if isinstance(obj, Pregel):
        return obj
    if isinstance(obj, StateGraph):
        return obj.compile()
    if callable(obj):
        params = inspect.signature(obj).parameters
        if inspect.iscoroutinefunction(obj):
            raise ValueError("an async graph factory needs a running loop: see GraphSpec.build")
        result = obj({"configurable": {}}) if params else obj()
        if inspect.isawaitable(result):
            raise ValueError("async graph factories are not supported")
        return _to_pregel(result)
    raise ValueError(f"not a graph: {obj!r}")


def _takes_config(fn: Callable[..., Any]) -> bool:
    try:
        return bool(inspect.signature(fn).parameters)
    except (TypeError, ValueError):
        return False


def load_config(path: Path) -> GraphRegistry:
    """Load every graph named in the ``langgraph.json`` at ``path``."""
    path = path.resolve()
    data = json.loads(path.read_text())
    base = path.parent
    for key, value in (data.get("env") or {}).items() if isinstance(data.get("env"), dict) else ():
        os.environ.setdefault(key, str(value))
    specs: dict[str, GraphSpec] = {}
    for graph_id, ref in (data.get("graphs") or {}).items():
        description = None
        if isinstance(ref, dict):
            description = ref.get("description")
            ref = ref["path"]
        obj = _load_object(ref, base)
        factory = obj if callable(obj) and not isinstance(obj, Pregel | StateGraph) and _takes_config(obj) else None
        graph = _to_pregel(obj)
        specs[graph_id] = GraphSpec(graph_id, graph, description, factory)
    return GraphRegistry(specs, path)
