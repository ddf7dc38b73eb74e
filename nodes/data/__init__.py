"""Data questions (the ``data_query`` mode): connections, schema knowledge, SQL safety, read-only execution,
results and charts. The graph that wires them is ``graphs/data_query.py``; ``docs/data-questions.md`` tells
the whole story."""
