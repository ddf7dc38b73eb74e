"""The registry that collects every :class:`Setting`.

Category modules (``config_schema/categories``) and research modes (a ``SETTINGS`` list in the module beside
their graph) register their definitions here; :func:`load_all` imports them all once, so asking the registry
is enough to know every key clew understands.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable

from config_schema.definitions import Setting


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
        """Import every category module and every graph module's settings once."""
        if self._loaded:
            return
        self._loaded = True
        for package in ("config_schema.categories", "graphs"):
            try:
                pkg = importlib.import_module(package)
            except ModuleNotFoundError:
                continue
            for info in pkgutil.iter_modules(pkg.__path__):
                if package == "graphs" and not info.name.endswith("_settings"):
                    continue
                mod = importlib.import_module(f"{package}.{info.name}")
                settings = getattr(mod, "SETTINGS", None)
                if settings:
                    self.register(settings)


REGISTRY = Registry()
