"""Settings for how the research assistant behaves in conversation (category ``agent_behavior``).

These tune every research mode the same way (how far to search, how long summaries are, how answers read);
a mode's own knobs live beside its graph (``graphs/*_settings.py``). All are session scope: a user sets a
preference and may change it for one thread or one run.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="agent_behavior.search_depth",
        category="agent_behavior",
        type="integer",
        default=3,
        minimum=1,
        maximum=10,
        scope="session",
        description="How thoroughly the assistant searches before answering (1: one quick pass, 10: exhaustive).",
    ),
    Setting(
        key="agent_behavior.summary_length",
        category="agent_behavior",
        type="enum",
        default="medium",
        options=("short", "medium", "long"),
        scope="session",
        description="Length of summaries: short (a few sentences), medium (a few paragraphs), long (a page or more).",
    ),
    Setting(
        key="agent_behavior.conversation_style",
        category="agent_behavior",
        type="enum",
        default="balanced",
        options=("concise", "balanced", "detailed"),
        scope="session",
        description="How answers in the chat read: concise, balanced, or detailed with reasoning and sources.",
    ),
]
