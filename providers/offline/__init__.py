"""The offline extractive engine: research without any model, deterministic, every sentence cited.

When no model is configured (``providers.models.get_model`` returns None), graphs call these functions in
place of a model:

- :func:`plan_queries` turns a question (and any text already retrieved) into search queries from key phrases;
- :func:`summarize` picks the sentences of the given documents that best answer a question (BM25 relevance,
  MMR for diversity) and keeps each one's source;
- :func:`write_report` assembles a markdown report of such sentences in sections, with inline ``[n]`` markers
  and a numbered source list.

Nothing here invents text: every output sentence is quoted from a document it was given and cites that
document, and the numbered list is built only from those documents. Output says it was produced without an
LLM. Equal inputs give identical output (no randomness, no set-order dependence, fixed tie-breaks). The
functions are CPU-bound; the ``a*`` variants run them in a worker thread for async callers.

The modules, from the bottom up: :mod:`~providers.offline.tokens` (the one tokenizer, which sparse retrieval
uses too), :mod:`~providers.offline.sentences`, :mod:`~providers.offline.keyphrases` (RAKE),
:mod:`~providers.offline.ranking` (BM25, MMR), :mod:`~providers.offline.planning` (queries),
:mod:`~providers.offline.selection` (which sentences to quote), :mod:`~providers.offline.report` (summaries
and reports). This package re-exports what graphs call.
"""

from providers.offline.planning import aplan_queries, plan_queries
from providers.offline.report import OFFLINE_NOTICE, asummarize, format_sources, summarize, write_report

__all__ = [
    "OFFLINE_NOTICE",
    "aplan_queries",
    "asummarize",
    "format_sources",
    "plan_queries",
    "summarize",
    "write_report",
]
