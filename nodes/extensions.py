"""The node-side subsystems every clew process starts with its runtime, in this order.

The engine does not import nodes (packages are layered: nodes sit right of the engine), so the process entry
points (``api/app.py``, ``cli/main.py`` and the CLI commands that start a runtime) pass this list to
``Runtime.start``:

- :class:`nodes.todos.TodoGates`: resumes todo gates whose todos were all finished (after-run hook, start-up
  sweep);
- :class:`nodes.data.runtime.DataConnections`: the data questions' key file and cached database engines.
"""

from __future__ import annotations

from engine.runtime import Extension
from nodes.data.runtime import DataConnections
from nodes.todos import TodoGates


def node_extensions() -> list[Extension]:
    return [TodoGates(), DataConnections()]
