"""The content pipeline (seed 004): topic -> research -> writing -> styling -> review -> done, a human
steering every stage.

    START -> (initial stage) discover_topics -> choose_topic* -+-> discover_topics (other topics)
                                                               +-> start_research
          start_research -> plan -> research_branch (one Send per query) -> collect -> write -> check_sources
          -> research_done -> review_research* -+-> write (sources added) | research_branch (deeper)
                                                +-> outline -> approve_outline* -> write_draft
          write_draft -> draft_section (one Send per outlined section) -> assemble_draft -> style
          -> approve_style* -+-> style (restyle)
                             +-> auto_review -> review_verdict* -+-> write_draft (changes requested)
                                                                 +-> finalize -> END (stage done)

Nodes marked * are human decisions: each is an ``interrupt()`` whose payload declares the actions it accepts
(:mod:`nodes.content.actions`), which is what the session API serves as ``availableActions``. The research
stage reuses the research graphs' nodes (``plan``, ``research_branch``, ``collect`` and the citation review
of :mod:`nodes.research`) on the same state keys, with the same source modes (web | local | hybrid);
``write`` here is the research brief: the offline engine's quoted, numbered digest of the findings, whose
numbering every later draft cites. Sections are drafted in parallel ``Send`` branches, so the sections
finished before a crash are not written again. With no model configured every stage runs on the offline
engine and says so in its events and messages.

The state is plain JSON: article id, stage, topics, chosen topic, research (queries, findings, sources,
brief), outline, draft, styled draft, review, final article and the history of decisions
(:mod:`nodes.content.state`). Each stage's nodes are in its module of :mod:`nodes.content`: ``topics``,
``research``, ``writing``, ``styling``, ``review``.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from nodes.content.research import research_brief, research_done, review_research, start_research
from nodes.content.review import auto_review, finalize, review_verdict
from nodes.content.state import CAPABILITIES, GRAPH_ID, ContentInput, ContentState
from nodes.content.styling import approve_style, style
from nodes.content.topics import choose_topic, discover_topics, route_start
from nodes.content.writing import (
    approve_outline,
    assemble_draft,
    draft_section,
    outline,
    route_sections,
    write_draft,
)
from nodes.research.branch import BRANCH_NODE, research_branch
from nodes.research.collect import make_collect_node, route_after_collect
from nodes.research.plan import make_plan_node, route_after_approve
from nodes.research.review import review as check_sources

__all__ = ["CAPABILITIES", "GRAPH_ID", "build", "graph"]


def build() -> StateGraph[Any, Any, Any, Any]:
    builder: StateGraph[Any, Any, Any, Any] = StateGraph(ContentState, input_schema=ContentInput)
    builder.add_node("discover_topics", discover_topics)
    builder.add_node("choose_topic", choose_topic, destinations=("discover_topics", "start_research"))
    builder.add_node("start_research", start_research)
    builder.add_node("plan", make_plan_node("standard"))
    builder.add_node(BRANCH_NODE, research_branch)
    builder.add_node("collect", make_collect_node(plan_next_level=False))
    builder.add_node("write", research_brief)
    builder.add_node("check_sources", check_sources)
    builder.add_node("research_done", research_done)
    builder.add_node("review_research", review_research, destinations=("outline", "write", BRANCH_NODE))
    builder.add_node("outline", outline)
    builder.add_node("approve_outline", approve_outline, destinations=("write_draft",))
    builder.add_node("write_draft", write_draft)
    builder.add_node("draft_section", draft_section)
    builder.add_node("assemble_draft", assemble_draft)
    builder.add_node("style", style)
    builder.add_node("approve_style", approve_style, destinations=("style", "auto_review"))
    builder.add_node("auto_review", auto_review)
    builder.add_node("review_verdict", review_verdict, destinations=("write_draft", "finalize"))
    builder.add_node("finalize", finalize)

    builder.add_conditional_edges(START, route_start, ["discover_topics", "start_research"])
    builder.add_edge("discover_topics", "choose_topic")
    builder.add_edge("start_research", "plan")
    builder.add_conditional_edges("plan", route_after_approve, [BRANCH_NODE, "write"])
    builder.add_edge(BRANCH_NODE, "collect")
    builder.add_conditional_edges("collect", route_after_collect, [BRANCH_NODE, "write"])
    builder.add_edge("write", "check_sources")
    builder.add_edge("check_sources", "research_done")
    builder.add_edge("research_done", "review_research")
    builder.add_edge("outline", "approve_outline")
    builder.add_conditional_edges("write_draft", route_sections, ["draft_section"])
    builder.add_edge("draft_section", "assemble_draft")
    builder.add_edge("assemble_draft", "style")
    builder.add_edge("style", "approve_style")
    builder.add_edge("auto_review", "review_verdict")
    builder.add_edge("finalize", END)
    return builder


graph = build().compile(name=GRAPH_ID)
