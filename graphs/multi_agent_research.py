"""Multi-agent research: an editorial team writes the report, one research team per section.

    START -> browser -> editor -> review_outline -(feedback)-> editor
                                         |
                                         +-> section_team (one Send per section, `research.concurrency` at a
                                             time; each runs researcher -> reviewer -> reviser subgraph)
                                             -> sections_done -> (next batch | writer) -> publisher -> END

The roles are in :mod:`nodes.multi_agent`: the editorial team (browser and editor, the human's review,
writer and publisher) and the section team (researcher, reviewer, reviser), whose subgraph is built here. The human reviews the outline when
``research.human_review`` is on or unset (this mode's default): ``{"decision": "approve"}`` accepts it,
``{"decision": "edit", "edited": {"title": ..., "sections": [{"title": ..., "brief": ...}]}}`` replaces it
verbatim, ``{"decision": "feedback", "comment": "..."}`` has the editor revise it (at most
``research.max_plan_revisions`` times). Each section is its own ``Send`` branch whose result is a pending
write of the root graph, so after a crash only the unfinished sections run again. The state holds the same
``report``, ``sources``, ``quality``, ``cost``, ``findings`` and ``duration`` as the other research modes,
plus ``outline``, ``sections`` and ``plan_revisions``. Progress: ``research.team`` custom events
(:mod:`nodes.multi_agent.events`) besides the common ``research.stage`` ones.
"""

from __future__ import annotations

from typing import Any

from langgraph.graph import END, START, StateGraph

from nodes.multi_agent.editor import browser, editor
from nodes.multi_agent.outline_review import review_outline, route_after_outline_review
from nodes.multi_agent.section_team import (
    researcher,
    reviewer,
    reviser,
    route_after_research,
    route_after_review,
)
from nodes.multi_agent.sections import make_section_team_node, route_after_sections, sections_done
from nodes.multi_agent.state import SECTION_NODE, EditorialState, SectionState
from nodes.multi_agent.writer import publisher, writer
from nodes.research.state import ResearchInput


def build_section_graph() -> Any:
    """One section's team as an uncompiled graph: researcher -> reviewer -> (reviser -> reviewer)*."""
    builder = StateGraph(SectionState)
    builder.add_node("researcher", researcher)
    builder.add_node("reviewer", reviewer)
    builder.add_node("reviser", reviser)
    builder.add_edge(START, "researcher")
    builder.add_conditional_edges("researcher", route_after_research, ["reviewer", END])
    builder.add_conditional_edges("reviewer", route_after_review, ["reviser", END])
    builder.add_edge("reviser", "reviewer")
    return builder


def build() -> Any:
    """The multi-agent research graph (uncompiled)."""
    builder = StateGraph(EditorialState, input_schema=ResearchInput)
    builder.add_node("browser", browser)
    builder.add_node("editor", editor)
    builder.add_node("review_outline", review_outline)
    builder.add_node(SECTION_NODE, make_section_team_node(build_section_graph().compile(name="section_team")))
    builder.add_node("sections_done", sections_done)
    builder.add_node("writer", writer)
    builder.add_node("publisher", publisher)
    builder.add_edge(START, "browser")
    builder.add_edge("browser", "editor")
    builder.add_edge("editor", "review_outline")
    builder.add_conditional_edges(
        "review_outline", route_after_outline_review, ["editor", SECTION_NODE, "writer"]
    )
    builder.add_edge(SECTION_NODE, "sections_done")
    builder.add_conditional_edges("sections_done", route_after_sections, [SECTION_NODE, "writer"])
    builder.add_edge("writer", "publisher")
    builder.add_edge("publisher", END)
    return builder


graph = build().compile(name="multi_agent_research")
