"""Standard research: plan sub-queries, (approve), research each in its own branch, write a cited report.

    START -> plan -> [approve] -> research_branch (one Send per sub-query, `research.concurrency` at a time)
          -> collect -> (next batch | write) -> review -> finalize -> END

``plan`` asks the strategic model (or the offline planner) for ``research.sub_queries`` queries. With
``research.human_review`` on, ``approve`` stops the run with an ``approval`` interrupt: approve, edit the
queries (``{"decision": "edit", "edited": ["q1", "q2"]}``) or reject (the research ends without a report).
Each branch retrieves from the run's source mode (``research.source_mode``: web, local or hybrid; the
input may set ``source_mode`` too), compresses and extracts cited learnings. ``write`` writes the report
with inline ``[n]`` citations and its numbered sources, ``review`` checks every citation against the
stored sources, ``finalize`` adds the cost summary and the report as the answer message.

``knowledge_graph`` is the same research answering only from the user's knowledge base (source mode
``local``, whatever the settings say) -- clew's knowledge research.

The nodes are in :mod:`nodes.research`, one module per job. The state holds ``report`` (markdown),
``sources`` (``[{n, id, title, url, excerpt, ...}]``), ``quality`` (the citation check), ``cost``,
``findings`` (every branch's evidence) and ``duration``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from nodes.research.branch import BRANCH_NODE, research_branch
from nodes.research.collect import make_collect_node, route_after_collect
from nodes.research.plan import approve, make_plan_node, route_after_approve, route_after_plan
from nodes.research.review import finalize, review
from nodes.research.state import ResearchInput, ResearchState
from nodes.research.write import write


def build_graph(mode: str, *, source_mode: str | None = None) -> Any:
    """The research graph of ``mode`` (standard | deep), uncompiled; ``source_mode`` forces a source mode.

    Both modes share the wiring; deep research differs only in planning and in ``collect`` planning the
    next level from the learnings' follow-up questions (``graphs/deep_research.py``).
    """
    builder = StateGraph(ResearchState, input_schema=ResearchInput)
    builder.add_node("plan", make_plan_node(mode, source_mode))
    builder.add_node("approve", approve)
    builder.add_node(BRANCH_NODE, research_branch)
    builder.add_node("collect", make_collect_node(plan_next_level=mode == "deep"))
    builder.add_node("write", write)
    builder.add_node("review", review)
    builder.add_node("finalize", finalize)
    builder.add_edge(START, "plan")
    builder.add_conditional_edges("plan", route_after_plan, ["approve", BRANCH_NODE, "write"])
    builder.add_conditional_edges("approve", route_after_approve, ["finalize", BRANCH_NODE, "write"])
    builder.add_edge(BRANCH_NODE, "collect")
    builder.add_conditional_edges("collect", route_after_collect, [BRANCH_NODE, "write"])
    builder.add_edge("write", "review")
    builder.add_edge("review", "finalize")
    builder.add_edge("finalize", END)
    return builder


def build(*, source_mode: str | None = None) -> Any:
    """The standard research graph (uncompiled); ``source_mode`` forces a source mode."""
    return build_graph("standard", source_mode=source_mode)


graph = build().compile(name="research")
knowledge_graph = build(source_mode="local").compile(name="knowledge_research")
