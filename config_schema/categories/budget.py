"""Settings for spending limits (category ``budget``).

``budget.daily_usd`` caps what one user's model calls may cost per UTC day, summed from the recorded usage
(``persistence.usage``). It is an administrator's decision (system scope); an administrator sets a per-user
value through the user layer's admin override. 0 means unlimited.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="budget.daily_usd",
        category="budget",
        type="number",
        default=0.0,
        minimum=0.0,
        maximum=1_000_000.0,
        scope="system",
        description=(
            "Per-user spending limit in USD per UTC day, from the llm.prices table; a user at the limit cannot "
            "start runs and a running one stops at its next node. 0 means unlimited."
        ),
    ),
]
