"""The system layer's static sources: declared defaults, the TOML file, and the environment.

These three are read once per process at start-up (in this order, later wins), before the administrator's
overrides stored in Postgres are laid on top (``config_schema.service``).

- **TOML file** (``CLEW_CONFIG_FILE``): tables nest by key segment, so ``llm.fast_model`` is ``fast_model``
  in table ``[llm]``; a ``json`` setting (e.g. ``llm.prices``) is a table or inline table at its own key::

      [llm]
      default_model = "gpt-4o"
      temperature = 0.2

      [research]
      depth = 3

- **Environment** (read with pydantic-settings): ``CLEW_SETTING__<CATEGORY>__<NAME>=value``, e.g.
  ``CLEW_SETTING__LLM__FAST_MODEL=gpt-4o-mini``. Names are case-insensitive. The text is read by the
  setting's type: integers and numbers as written, booleans as true/false/1/0/yes/no/on/off, lists as a JSON
  array or comma-separated words, ``json`` settings as JSON; ``null`` clears a setting whose default is null.

A key that is not declared is reported and ignored (after definition migrations, so a renamed key still
works); a declared key with a bad value stops the start-up with the key and the broken rule, since a server
must not run on a configuration its administrator did not intend.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import structlog
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from config_schema import migrations as defmig
from config_schema.definitions import Setting, SettingError
from config_schema.registry import Registry

log = structlog.get_logger("clew.config")

ENV_PREFIX = "CLEW_SETTING__"

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


class ConfigSourceError(ValueError):
    """A value in the TOML file or the environment broke its setting's rule."""

    def __init__(self, source: str, key: str, rule: str, message: str) -> None:
        super().__init__(f"{source}: {message}")
        self.source = source
        self.key = key
        self.rule = rule


class _SettingEnv(BaseSettings):
    """``CLEW_SETTING__CATEGORY__NAME`` variables as ``{category: {name: raw text}}``.

    Decoding is off so every value arrives as the text the administrator wrote; :func:`coerce_text` reads it
    by the declared type (pydantic-settings would otherwise turn ``"123"`` into an integer for a string key).
    """

    model_config = SettingsConfigDict(
        env_prefix="CLEW_", env_nested_delimiter="__", extra="ignore", enable_decoding=False
    )

    setting: dict[str, dict[str, str]] = Field(default_factory=dict)


def flatten(tree: Mapping[str, Any], registry: Registry, known: set[str] | None = None) -> dict[str, Any]:
    """Nested tables to dotted keys, stopping at declared keys (a ``json`` setting's table is its value).

    ``known`` adds keys that are not declared but must not be split (old names that migrations rename).
    """
    out: dict[str, Any] = {}
    extra = known or set()

    def walk(prefix: str, node: Mapping[str, Any]) -> None:
        for name, value in node.items():
            key = f"{prefix}.{name}" if prefix else str(name)
            if registry.get(key) is not None or key in extra:
                out[key] = value
            elif isinstance(value, Mapping):
                walk(key, value)
            else:
                out[key] = value

    walk("", tree)
    return out


def coerce_text(setting: Setting, text: str) -> Any:
    """An environment variable's text as a value of ``setting``'s type (not yet validated)."""
    raw = text.strip()
    t = setting.type
    if raw.lower() == "null" and (setting.default is None or t not in ("string", "enum")):
        return None
    if t in ("string", "enum"):
        return text
    if t == "boolean":
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise SettingError(setting.key, "type", f"{setting.key}: expected a boolean, got {text!r}")
    if t == "integer":
        try:
            return int(raw)
        except ValueError as exc:
            raise SettingError(
                setting.key, "type", f"{setting.key}: expected an integer, got {text!r}"
            ) from exc
    if t == "number":
        try:
            return float(raw)
        except ValueError as exc:
            raise SettingError(
                setting.key, "type", f"{setting.key}: expected a number, got {text!r}"
            ) from exc
    if t == "list":
        if raw.startswith("["):
            try:
                return json.loads(raw)
            except json.JSONDecodeError as exc:
                raise SettingError(setting.key, "type", f"{setting.key}: invalid JSON list: {exc}") from exc
        return [part.strip() for part in raw.split(",") if part.strip()]
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise SettingError(setting.key, "type", f"{setting.key}: invalid JSON: {exc}") from exc


def _validated(
    source: str,
    values: Mapping[str, Any],
    registry: Registry,
    migrations: Sequence[defmig.DefinitionMigration],
    *,
    from_text: bool,
) -> dict[str, Any]:
    migrated = defmig.apply(values, migrations)
    renamed = sorted(set(values) - set(migrated))
    if renamed:
        log.warning("configuration uses old setting names; update it", source=source, keys=renamed)
    out: dict[str, Any] = {}
    for key, value in migrated.items():
        setting = registry.get(key)
        if setting is None:
            log.warning("unknown setting ignored", source=source, key=key)
            continue
        try:
            raw = coerce_text(setting, value) if from_text and isinstance(value, str) else value
            out[key] = setting.validate_value(raw)
        except SettingError as exc:
            raise ConfigSourceError(source, exc.key, exc.rule, exc.message) from exc
    return out


def read_file(
    path: Path, registry: Registry, migrations: Sequence[defmig.DefinitionMigration]
) -> dict[str, Any]:
    """The TOML file's values as ``{key: value}``, migrated and validated (blocking: call in a thread)."""
    try:
        with path.open("rb") as fh:
            tree = tomllib.load(fh)
    except FileNotFoundError as exc:
        raise ConfigSourceError(str(path), "", "file", f"configuration file {path} does not exist") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigSourceError(str(path), "", "toml", f"invalid TOML: {exc}") from exc
    flat = flatten(tree, registry, defmig.touched_keys(migrations))
    return _validated(str(path), flat, registry, migrations, from_text=False)


def read_env(registry: Registry, migrations: Sequence[defmig.DefinitionMigration]) -> dict[str, Any]:
    """``CLEW_SETTING__…`` variables as ``{key: value}``, migrated and validated."""
    env = _SettingEnv()
    flat = {
        f"{category}.{name}": text for category, names in env.setting.items() for name, text in names.items()
    }
    return _validated("environment", flat, registry, migrations, from_text=True)
