"""Human-in-the-loop demo: a deterministic research graph (no LLM) that uses strong and weak interrupts.

    plan → review_plan ─approve/edit→ [ask_audience] → [choose_depth] ─detailed→ deep_dive → research
                       └reject→ abandon                                 └brief→ research
    research → write_draft → gate → finish

- ``review_plan`` asks for approval of the plan (strong interrupt): approve keeps it, edit replaces it with
  the edited list of steps, reject ends the run with an explanation.
- ``ask_audience`` (only when the input names no audience) asks for free input; ``choose_depth`` (only when
  the input names no depth) asks to select "brief" or "detailed", which decides whether ``deep_dive`` runs.
- ``research`` checks its claims; each one it cannot verify becomes a todo (weak interrupt) and the graph keeps
  going: ``write_draft`` writes the draft meanwhile. ``gate`` waits until every claim todo is answered
  (approve: keep the claim, edit: keep the corrected claim, reject or cancel: drop it), then ``finish`` writes
  the report.

Input: ``{"topic": str, "audience"?: str, "depth"?: "brief" | "detailed", "claims"?: [{"text", "verified"}]}``.
The state and nodes are in :mod:`nodes.hitl_demo`.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from nodes.hitl_demo import (
    DemoState,
    abandon,
    ask_audience,
    choose_depth,
    deep_dive,
    finish,
    gate,
    plan,
    research,
    review_plan,
    write_draft,
)


def build() -> Any:
    """The demo graph (uncompiled); the nodes route themselves with ``Command`` gotos."""
    builder = StateGraph(DemoState)
    for name, fn in [
        ("plan", plan),
        ("review_plan", review_plan),
        ("ask_audience", ask_audience),
        ("choose_depth", choose_depth),
        ("deep_dive", deep_dive),
        ("research", research),
        ("write_draft", write_draft),
        ("gate", gate),
        ("finish", finish),
        ("abandon", abandon),
    ]:
        builder.add_node(name, fn)
    builder.add_edge(START, "plan")
    builder.add_edge("plan", "review_plan")
    builder.add_edge("deep_dive", "research")
    builder.add_edge("research", "write_draft")
    builder.add_edge("write_draft", "gate")
    builder.add_edge("gate", "finish")
    builder.add_edge("finish", END)
    builder.add_edge("abandon", END)
    return builder


graph = build().compile(name="hitl_demo")
