"""MCP tools from servers an administrator configured, and the choice of the few a research step uses.

Servers come only from the ``mcp.servers`` setting, which is system scope: a server entry starts a command or
reaches a URL from this host, so no user, thread or request can add one (the resolver refuses system keys
from those layers, and this module reads nothing else). Tools are loaded with ``langchain-mcp-adapters``
(each tool call opens its own short session) and cached per configuration; a server that fails to start or
answer is logged and skipped, so one broken server does not take the others down.

:func:`select_tools` lets a model pick at most ``k`` (default 3) tools relevant to a query, falling back to
keyword overlap between the query and each tool's name and description when there is no model, or the model
fails or names no known tool.
"""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import structlog
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langchain_core.tools import BaseTool
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from config_schema.access import setting
from providers.offline.tokens import terms
from providers.structured import structured

log = structlog.get_logger("clew.providers")

LOAD_TIMEOUT_SECONDS = 30.0


class McpServer(BaseModel):
    """One server entry of ``mcp.servers`` (the connection fields langchain-mcp-adapters understands)."""

    model_config = ConfigDict(extra="forbid")

    transport: Literal["stdio", "streamable_http", "sse", "websocket"] = "stdio"
    command: str | None = None
    args: list[str] = Field(default_factory=list)
    env: dict[str, str] | None = None
    cwd: str | None = None
    url: str | None = None
    headers: dict[str, str] | None = None
    timeout: float | None = None

    @model_validator(mode="after")
    def _complete(self) -> McpServer:
        if self.transport == "stdio" and not self.command:
            raise ValueError("a stdio server needs a command")
        if self.transport != "stdio" and not self.url:
            raise ValueError(f"a {self.transport} server needs a url")
        return self

    def connection(self) -> dict[str, Any]:
        if self.transport == "stdio":
            conn: dict[str, Any] = {"transport": "stdio", "command": self.command, "args": self.args}
            if self.env is not None:
                conn["env"] = self.env
            if self.cwd is not None:
                conn["cwd"] = self.cwd
            return conn
        conn = {"transport": self.transport, "url": self.url}
        if self.headers and self.transport != "websocket":
            conn["headers"] = self.headers
        if self.timeout is not None and self.transport != "websocket":
            conn["timeout"] = self.timeout
        return conn


def server_connections(values: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    """Valid connections from ``mcp.servers`` by name; invalid entries are logged and left out."""
    raw = setting(values, "mcp.servers") or {}
    if isinstance(raw, str):
        try:
            raw = json.loads(raw)
        except ValueError:
            log.warning("mcp.servers is not valid JSON")
            return {}
    if not isinstance(raw, Mapping):
        log.warning("mcp.servers must be an object of servers by name")
        return {}
    out: dict[str, dict[str, Any]] = {}
    for name in sorted(raw):
        try:
            out[str(name)] = McpServer.model_validate(raw[name]).connection()
        except ValidationError as exc:
            log.warning(
                "mcp server entry ignored", server=name, error=str(exc.errors(include_url=False))[:300]
            )
    return out


_cache: dict[str, list[BaseTool]] = {}
_cache_lock = asyncio.Lock()


async def load_mcp_tools(values: Mapping[str, Any] | None, *, refresh: bool = False) -> list[BaseTool]:
    """Every tool of the configured MCP servers (names prefixed ``server_`` when there are several)."""
    connections = server_connections(values)
    if not connections:
        return []
    key = json.dumps(connections, sort_keys=True)
    async with _cache_lock:
        if not refresh and key in _cache:
            return list(_cache[key])
        from langchain_mcp_adapters.client import MultiServerMCPClient

        client = MultiServerMCPClient(connections, tool_name_prefix=len(connections) > 1)  # type: ignore[arg-type]
        tools: list[BaseTool] = []
        for name in connections:
            try:
                tools.extend(await asyncio.wait_for(client.get_tools(server_name=name), LOAD_TIMEOUT_SECONDS))
            except Exception as exc:  # one broken server must not hide the others
                log.warning("mcp server unavailable", server=name, error=repr(exc)[:300])
        _cache[key] = tools
        return list(tools)


# ---------------------------------------------------------------------------------------------------------
# selection


class ToolChoice(BaseModel):
    """What the model answers: the names of the chosen tools, most relevant first (may be empty)."""

    tools: list[str] = Field(default_factory=list)


def _tool_terms(tool: BaseTool) -> tuple[set[str], set[str]]:
    name = re.sub(r"([a-z0-9])([A-Z])", r"\1 \2", tool.name).replace("_", " ").replace("-", " ")
    return set(terms(name)), set(terms(tool.description or ""))


def keyword_select(query: str, tools: Sequence[BaseTool], k: int = 3) -> list[BaseTool]:
    """Up to ``k`` tools sharing words with ``query`` (a name match counts twice); ties keep the given order."""
    q = list(dict.fromkeys(terms(query)))
    scored: list[tuple[int, int, BaseTool]] = []
    for i, tool in enumerate(tools):
        name_terms, desc_terms = _tool_terms(tool)
        score = sum(2 * (t in name_terms) + (t in desc_terms) for t in q)
        if score > 0:
            scored.append((-score, i, tool))
    scored.sort(key=lambda x: (x[0], x[1]))
    return [tool for _, _, tool in scored[:k]]


def _selection_prompt(query: str, tools: Sequence[BaseTool], k: int) -> list[Any]:
    listing = "\n".join(f"- {t.name}: {(t.description or '').strip()[:500]}" for t in tools)
    return [
        SystemMessage(
            f"You choose tools for a research step. Pick at most {k} of the tools listed, only those that help "
            "answer the query, most useful first. Pick none if none helps. Answer with their exact names."
        ),
        HumanMessage(f"Query: {query}\n\nTools:\n{listing}"),
    ]


async def select_tools(
    query: str,
    tools: Sequence[BaseTool],
    model: BaseChatModel | None = None,
    k: int = 3,
    *,
    config: RunnableConfig | None = None,
) -> list[BaseTool]:
    """At most ``k`` tools relevant to ``query``: chosen by ``model``, else by keyword overlap.

    The model's answer is trusted when it names known tools (or explicitly none); when it fails, or names
    only tools that do not exist, the keyword match decides.
    """
    if k <= 0 or not tools:
        return []
    if model is not None:
        by_name = {t.name: t for t in tools}
        by_lower = {t.name.lower(): t for t in tools}
        try:
            choice = await structured(
                model, ToolChoice, _selection_prompt(query, tools, k), retries=1, config=config
            )
        except Exception as exc:
            log.warning("tool selection by model failed; using keywords", error=repr(exc)[:300])
        else:
            picked: list[BaseTool] = []
            for name in choice.tools:
                tool = by_name.get(name) or by_lower.get(str(name).strip().lower())
                if tool is not None and tool not in picked:
                    picked.append(tool)
            if picked or not choice.tools:
                return picked[:k]
            log.warning("model chose unknown tools; using keywords", names=choice.tools[:10])
    return keyword_select(query, tools, k)
