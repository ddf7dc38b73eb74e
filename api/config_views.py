"""How the configuration routes show settings: definitions by category, effective values with their
source, a layer's stored overrides, change results and history, with secrets masked and keys the caller may
not read left out (``api/routers/config.py`` is the routes).
"""

from __future__ import annotations

from typing import Any

from api.errors import ApiError
from config_schema.changes import ChangeResult
from config_schema.definitions import Setting
from config_schema.layers import flatten
from config_schema.resolver import Resolved, mask, readable
from config_schema.service import ConfigService

CATEGORY_INFO: dict[str, tuple[str, str]] = {
    "llm": ("Language models", "Which models answer in each role, and how they are called."),
    "search": ("Search", "Web retrievers, their weights and limits, and the page fetcher."),
    "search_enhancement": (
        "Search enhancement",
        "Hybrid knowledge-base search: fusion weights and threshold.",
    ),
    "memory": ("Memory", "How much retrieved text a run hands to its models."),
    "budget": ("Budget", "Spending limits."),
    "mcp": ("Tools (MCP)", "MCP tool servers and how many tools a step may use."),
    "ui": ("Interface", "Theme, language and font size of the UI."),
    "reading": ("Reading", "How documents open in the reader."),
    "agent_behavior": ("Assistant behaviour", "How far the assistant searches and how its answers read."),
    "research": ("Deep research", "Breadth, depth, sources and review of a deep research, and its report."),
}


def definitions(service: ConfigService, *, admin: bool) -> dict[str, Any]:
    """Every key the caller may read, with its definition, grouped by category."""
    defs = [s for s in service.registry.all() if readable(s, admin=admin)]
    cats: dict[str, dict[str, Any]] = {}
    for s in defs:
        name, description = CATEGORY_INFO.get(s.category, (s.category.replace("_", " ").capitalize(), ""))
        cats.setdefault(
            s.category, {"code": s.category, "name": name, "description": description, "keys": []}
        )
        cats[s.category]["keys"].append(s.key)
    return {
        "schema_version": service.schema_version,
        "categories": list(cats.values()),
        "definitions": [_definition(s) for s in defs],
    }


def _definition(s: Setting) -> dict[str, Any]:
    out = s.model_dump()
    out["default"] = mask(s, s.default)
    out["options"] = list(s.options) if s.options is not None else None
    out["user_editable"] = s.scope != "system"
    out["session_editable"] = s.scope == "session"
    return out


def effective(service: ConfigService, resolved: Resolved, *, admin: bool) -> dict[str, Any]:
    values: dict[str, Any] = {}
    sources: dict[str, str] = {}
    for key, value in resolved.values.items():
        setting = service.registry.get(key)
        if setting is None:
            values[key], sources[key] = value, resolved.sources.get(key, "run")
            continue
        if not readable(setting, admin=admin):
            continue
        values[key] = mask(setting, value)
        sources[key] = resolved.sources.get(key, "default")
    return {"values": values, "sources": sources}


def stored_out(service: ConfigService, stored: dict[str, Any], *, admin: bool) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, sv in stored.items():
        setting = service.registry.get(key)
        if readable(setting, admin=admin):
            out[key] = mask(setting, getattr(sv, "value", sv))
    return out


def body_values(service: ConfigService, body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(422, "invalid", "body must be a JSON object of {key: value}")
    return flatten(body, service.registry)


async def change_out(
    service: ConfigService, result: ChangeResult, user_id: str | None, *, admin: bool
) -> dict[str, Any]:
    out: dict[str, Any] = {"version": result.version, "changed": result.keys}
    if result.skipped:
        out["skipped"] = result.skipped
    if user_id is not None:
        resolved = await service.user_resolved(user_id)
        eff = effective(service, resolved, admin=admin)
        out["values"] = {k: eff["values"][k] for k in result.keys if k in eff["values"]}
        out["sources"] = {k: eff["sources"][k] for k in result.keys if k in eff["sources"]}
    return out


def readable_history(
    service: ConfigService, versions: list[dict[str, Any]], *, admin: bool
) -> list[dict[str, Any]]:
    out = []
    for v in versions:
        changes = [c for c in v["changes"] if readable(service.registry.get(c["key"]), admin=admin)]
        if changes:
            out.append({**v, "changes": changes})
    return out


async def thread_view(service: ConfigService, user: Any, thread: dict[str, Any]) -> dict[str, Any]:
    tid = str(thread["thread_id"])
    config = dict(thread.get("config") or {})
    version, _ = await service.stored("session", tid)
    resolved = (await service.user_resolved(user.user_id)).overlay("thread", config)
    return {
        "thread_id": tid,
        "version": version,
        "config": {k: mask(service.registry.get(k), v) for k, v in config.items()},
        **effective(service, resolved, admin=user.is_admin),
    }


async def system_view(service: ConfigService) -> dict[str, Any]:
    resolved = await service.system_resolved()
    version, stored = await service.stored("system", "")
    return {
        "version": version,
        **effective(service, resolved, admin=True),
        "overrides": stored_out(service, stored, admin=True),
    }
