"""Deep research: levels of parallel queries, each level refining the previous one's findings.

    START -> plan -> [approve] -> research_branch (Send per query, at most `research.concurrency` at a time)
          -> collect -> (next batch | next level | write) -> review -> finalize -> END

Level 1 researches ``research.breadth`` queries for the question. Each branch extracts learnings (each with
its citation) and follow-up questions. When a level is done, ``collect`` plans the next one from those
follow-ups (round-robin over the branches, already-asked queries skipped, topped up by the planner), with
breadth halved -- at least 2, never more than the level before -- down to ``research.depth`` levels: breadth
4, depth 3 researches 4 + 2 + 2 queries. A level on which every branch failed ends the research with a
clear error (``ResearchFailed``: which level, and why each branch failed) instead of going on; a level with
nothing new to ask ends the recursion early.

Progress goes out as custom stream events ``{"type": "research.progress", current_depth, total_depth,
current_breadth, total_breadth, completed_queries, total_queries, current_query}`` (plus per-stage and
per-branch events, :mod:`nodes.research.progress`). The report cites every learning's source and lists the
last level's open questions. ``knowledge_graph`` is the same in source mode ``local`` (knowledge research).
The wiring is standard research's (:func:`graphs.research.build_graph`).
"""

from __future__ import annotations

from typing import Any

from graphs.research import build_graph


def build(*, source_mode: str | None = None) -> Any:
    """The deep research graph (uncompiled); ``source_mode`` forces a source mode."""
    return build_graph("deep", source_mode=source_mode)


graph = build().compile(name="deep_research")
knowledge_graph = build(source_mode="local").compile(name="deep_knowledge_research")
