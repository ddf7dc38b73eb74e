"""The research nodes, one module per job; ``graphs/research.py`` wires them into standard and deep research.

- :mod:`~nodes.research.state`: the research state, its input, and the value types kept in it (findings,
  numbered sources, the quality check);
- :mod:`~nodes.research.plan`: the queries of a question (``plan``) and the human's approval (``approve``);
- :mod:`~nodes.research.branch`: one branch per query (``research_branch``: retrieve, compress, extract) and
  the fan-out that sends them (:mod:`~nodes.research.prose` cleans documents for the offline engine);
- :mod:`~nodes.research.collect`: closing a batch and planning the next level (``collect``);
- :mod:`~nodes.research.write`: the cited report and its numbered sources (``write``);
- :mod:`~nodes.research.review`: the citation check and the cost summary (``review``, ``finalize``);
- :mod:`~nodes.research.progress`: the research's progress events.

The multi-agent research (:mod:`nodes.multi_agent`) and the content pipeline (:mod:`nodes.content`) reuse
these on the same state keys.
"""
