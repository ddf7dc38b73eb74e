"""The knowledge base: users' own documents, chunked into Qdrant with metadata in Postgres.

Modules, one concern each: ``filetypes`` (what is accepted), ``chunking`` (1000/200 splits), ``store``
(Qdrant), ``documents`` (Postgres rows), ``service`` (the :class:`KnowledgeBase` tying them together).
"""

from retrieval.knowledge.service import KnowledgeBase, close_knowledge_base, open_knowledge_base

__all__ = ["KnowledgeBase", "close_knowledge_base", "open_knowledge_base"]
