"""Cost accounting and budgets around a run: usage recorded per model call, budget checked per node.

The executor adds the callbacks built here to every run's config. :class:`BudgetGuard` checks the user's
daily budget when a LangGraph node starts (a callback with ``raise_error`` so the run stops there with the
budget error); :class:`providers.usage.UsageTracker` stores each model call's usage as it ends, so the next
check sees it. Run creation checks the budget too, refusing a new run with 429.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any
from uuid import UUID

from langchain_core.callbacks import AsyncCallbackHandler

from domain.usage import UsageRecord
from engine import metrics
from engine.budget import check_budget, daily_limit
from persistence.usage import usage_sink
from providers.usage import UsageTracker


class BudgetGuard(AsyncCallbackHandler):
    """Raises :class:`domain.errors.BudgetExceeded` at the start of a node once the budget is spent."""

    raise_error = True
    run_inline = True  # awaited in place, not gathered as a task (it raises to stop the node anyway)

    def __init__(self, pool: Any, user_id: str, values: Mapping[str, Any] | None) -> None:
        super().__init__()
        self.pool = pool
        self.user_id = user_id
        self.values = values

    async def on_chain_start(
        self,
        serialized: dict[str, Any] | None,
        inputs: Any,
        *,
        run_id: UUID,
        parent_run_id: UUID | None = None,
        tags: list[str] | None = None,
        metadata: dict[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        md = metadata or {}
        # only a node's own start: its name equals the langgraph_node the metadata carries
        if md.get("langgraph_node") and kwargs.get("name") == md.get("langgraph_node"):
            await check_budget(self.pool, self.user_id, self.values)


def run_callbacks(db: Any, run: dict[str, Any], values: Mapping[str, Any] | None) -> list[Any]:
    """The callbacks every run gets: usage tracking (stored as it happens), and the budget guard when the run's
    configuration sets a daily budget."""
    store = usage_sink(db.pool, user_id=run["user_id"], run_id=str(run["run_id"]), thread_id=str(run["thread_id"]))

    async def sink(record: UsageRecord) -> None:
        metrics.model_call(record.model, record.input_tokens, record.output_tokens, record.cost_usd)
        await store(record)

    tracker = UsageTracker(values, sink=sink)
    if daily_limit(values) is None:
        # unlimited for this run (its configuration is fixed at its start): a guard would only cost a callback
        # on every chain start of every node (LangChain dispatches async handlers one coroutine each)
        return [tracker]
    return [tracker, BudgetGuard(db.pool, run["user_id"], values)]


async def check_run_budget(db: Any, user_id: str, values: Mapping[str, Any] | None) -> None:
    await check_budget(db.pool, user_id, values)
