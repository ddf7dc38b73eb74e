"""The multi-agent research's nodes: an editorial team writes the report, one research team per section.

``graphs/multi_agent_research.py`` wires them:

- :mod:`~nodes.multi_agent.state`: the root state, the outline and its edit schema, the section team's state;
- :mod:`~nodes.multi_agent.editor`: the ``browser`` (a first, broad research pass) and the ``editor`` (the
  outline: the ``strategic`` model, or offline the query plan's clusters);
- :mod:`~nodes.multi_agent.outline_review`: the human's review of the outline (a typed ``approval``
  interrupt: approve, edit or feedback);
- :mod:`~nodes.multi_agent.sections`: one ``Send`` per section into the section team, and closing a batch;
- :mod:`~nodes.multi_agent.section_team`: one section's researcher, reviewer and reviser (a subgraph), with
  the text of its drafts in :mod:`~nodes.multi_agent.drafts`;
- :mod:`~nodes.multi_agent.writer`: the report (introduction, the sections, conclusion, one renumbered source
  list) and the ``publisher`` (citation check, cost, export links);
- :mod:`~nodes.multi_agent.events`: the team's progress events.

Findings (the browser's and every section's) go to ``findings`` and the planned queries to ``queries``, the
same keys standard research uses (:mod:`nodes.research`), so the research API's progress and result routes
read this mode unchanged.
"""
