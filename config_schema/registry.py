"""The registry that collects every :class:`Setting`.

Every category module (``config_schema/categories``, one ``SETTINGS`` list each, the research modes' too) is
listed in :data:`CATEGORY_MODULES`; :meth:`Registry.load_all` registers them all once, so asking the registry
is enough to know every key clew understands.
"""

from __future__ import annotations

from collections.abc import Iterable

from config_schema.categories import (
    agent_behavior,
    budget,
    content,
    data,
    llm,
    mcp,
    memory,
    multi_agent,
    reading,
    research,
    search,
    ui,
)
from config_schema.definitions import Setting

CATEGORY_MODULES = (agent_behavior, budget, content, data, llm, mcp, memory, reading, search, ui, multi_agent,
                    research)


class Registry:
    def __init__(self) -> None:
        self._settings: dict[str, Setting] = {}
        self._loaded = False

    def register(self, settings: Iterable[Setting]) -> None:
        for s in settings:
            existing = self._settings.get(s.key)
            if existing is not None and existing != s:
                raise ValueError(f"setting {s.key} is declared twice with different definitions")
            self._settings[s.key] = s

    def get(self, key: str) -> Setting | None:
        self.load_all()
        return self._settings.get(key)

    def all(self) -> list[Setting]:
        self.load_all()
        return sorted(self._settings.values(), key=lambda s: (s.category, s.key))

    def load_all(self) -> None:
        """Register every category module's settings, once."""
        if self._loaded:
            return
        self._loaded = True
        for module in CATEGORY_MODULES:
            self.register(module.SETTINGS)


REGISTRY = Registry()
