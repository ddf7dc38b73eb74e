"""Retrieval: the knowledge base (``retrieval.knowledge``), web search and page fetching
(``retrieval.web``), and short-term memory (``retrieval.memory``)."""
