"""Settings for short-term memory: how much retrieved text a run hands to its models, and its caches."""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="memory.context_word_budget",
        category="memory",
        type="integer",
        default=25_000,
        minimum=200,
        maximum=200_000,
        scope="session",
        description="Words of retrieved context assembled for a model; the most relevant text is kept.",
    ),
    Setting(
        key="memory.knowledge_top_k",
        category="memory",
        type="integer",
        default=8,
        minimum=1,
        maximum=100,
        scope="session",
        description="Knowledge-base chunks retrieved per query.",
    ),
]
