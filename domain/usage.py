"""Model usage as every layer records it: one call (:class:`UsageRecord`), a sum (:class:`UsageTotals`), and
where a call's record goes (:data:`UsageSink`). ``providers/usage.py`` measures calls, ``persistence/usage.py``
stores them, ``engine/accounting.py`` wires the two for a run (and counts the call in the metrics).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from pydantic import BaseModel


class UsageRecord(BaseModel):
    """One model call: where it ran, which model answered, its tokens and cost."""

    node: str = ""
    model: str = ""
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0
    estimated: bool = False


class UsageTotals(BaseModel):
    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    cost_usd: float = 0.0

    @property
    def total_tokens(self) -> int:
        return self.input_tokens + self.output_tokens

    def add(self, record: UsageRecord) -> None:
        self.calls += 1
        self.input_tokens += record.input_tokens
        self.output_tokens += record.output_tokens
        self.cost_usd += record.cost_usd


UsageSink = Callable[[UsageRecord], Awaitable[None]]
