"""Settings for MCP tool servers (category ``mcp``).

Only an administrator may declare which MCP servers clew starts or connects to (system scope): a server entry
runs a command or reaches a URL on the host, so it never comes from a user or a request.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="mcp.servers",
        category="mcp",
        type="json",
        default={},
        scope="system",
        user_readable=False,
        description=(
            'MCP servers by name, as langchain-mcp-adapters connections: {"name": {"transport": "stdio", '
            '"command": "...", "args": [...]}} or {"name": {"transport": "streamable_http", "url": "..."}}.'
        ),
    ),
    Setting(
        key="mcp.max_tools",
        category="mcp",
        type="integer",
        default=3,
        minimum=0,
        maximum=10,
        scope="user",
        description="How many MCP tools a research step may use at most (chosen by the model, or by keywords).",
    ),
]
