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

The state holds ``report`` (markdown), ``sources`` (``[{n, id, title, url, excerpt, ...}]``), ``quality``
(the citation check), ``cost``, ``findings`` (every branch's evidence) and ``duration``.
"""

from __future__ import annotations

from typing import Any

from nodes.research_flow import build_graph


def build(*, source_mode: str | None = None) -> Any:
    """The standard research graph (uncompiled); ``source_mode`` forces a source mode."""
    return build_graph("standard", source_mode=source_mode)


graph = build().compile(name="research")
knowledge_graph = build(source_mode="local").compile(name="knowledge_research")
