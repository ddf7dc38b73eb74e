"""Setting definitions: the one place a configuration key is declared.

Every key clew reads is declared once as a :class:`Setting` (type, default, bounds or options, scope,
readability, description) and registered in :data:`config_schema.registry.REGISTRY`. The layered resolver,
the settings API and the graphs all read the same declaration, so a key cannot drift between them.

Scope says which layers may set a key: ``system`` keys only by an administrator (defaults, TOML file,
environment, admin overrides), ``user`` keys also by the user, ``session`` keys also per thread and per run.
"""

from __future__ import annotations

import re
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

SettingType = Literal["string", "integer", "number", "boolean", "enum", "list", "json"]
Scope = Literal["system", "user", "session"]

SCOPE_RANK: dict[str, int] = {"system": 0, "user": 1, "session": 2}


class SettingError(ValueError):
    """A value broke a setting's rule; ``key`` and ``rule`` name what and why."""

    def __init__(self, key: str, rule: str, message: str) -> None:
        super().__init__(message)
        self.key = key
        self.rule = rule
        self.message = message


class Setting(BaseModel):
    """The declaration of one configuration key."""

    model_config = ConfigDict(frozen=True)

    key: str = Field(pattern=r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)+$")
    category: str
    type: SettingType
    default: Any = None
    minimum: float | None = None
    maximum: float | None = None
    pattern: str | None = None
    options: tuple[Any, ...] | None = None
    scope: Scope = "user"
    user_readable: bool = True
    secret: bool = False
    description: str = ""

    def validate_value(self, value: Any) -> Any:
        """Return ``value`` coerced to this setting's type, or raise :class:`SettingError`."""
        k = self.key
        if value is None:
            if self.default is None:
                return None
            raise SettingError(k, "type", f"{k}: null is not allowed")
        t = self.type
        if t == "boolean":
            if not isinstance(value, bool):
                raise SettingError(k, "type", f"{k}: expected a boolean, got {value!r}")
        elif t == "integer":
            if isinstance(value, bool) or not isinstance(value, int):
                if isinstance(value, float) and value.is_integer():
                    value = int(value)
                else:
                    raise SettingError(k, "type", f"{k}: expected an integer, got {value!r}")
        elif t == "number":
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise SettingError(k, "type", f"{k}: expected a number, got {value!r}")
            value = float(value)
        elif t in ("string", "enum"):
            if not isinstance(value, str):
                raise SettingError(k, "type", f"{k}: expected a string, got {value!r}")
        elif t == "list":
            if not isinstance(value, list):
                raise SettingError(k, "type", f"{k}: expected a list, got {value!r}")
        if self.minimum is not None and isinstance(value, int | float) and value < self.minimum:
            raise SettingError(k, "minimum", f"{k}: {value} is below the minimum {self.minimum:g}")
        if self.maximum is not None and isinstance(value, int | float) and value > self.maximum:
            raise SettingError(k, "maximum", f"{k}: {value} is above the maximum {self.maximum:g}")
        if self.pattern is not None and isinstance(value, str) and not re.fullmatch(self.pattern, value):
            raise SettingError(k, "pattern", f"{k}: {value!r} does not match {self.pattern}")
        if self.options is not None:
            items = value if isinstance(value, list) else [value]
            for item in items:
                if item not in self.options:
                    raise SettingError(k, "options", f"{k}: {item!r} is not one of {list(self.options)}")
        return value
