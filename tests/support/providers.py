"""Test helpers over providers: a summary as markdown, whether tiktoken's encoding is cached.

Moved here from ``providers/types.py`` and ``providers/usage.py``, where only tests used them.
"""

from __future__ import annotations

from providers.offline import OFFLINE_NOTICE, format_sources
from providers.types import Summary
from providers.usage import _encoding_name, _load_encoding


def number_of(summary: Summary, source_id: str) -> int:
    """The 1-based citation number of a source id (ValueError when it is not in the summary's sources)."""
    for i, s in enumerate(summary.sources, start=1):
        if s.id == source_id:
            return i
    raise ValueError(f"source {source_id!r} is not in this summary's sources")


def summary_markdown(summary: Summary) -> str:
    """The sentences with inline ``[n]`` markers, a numbered source list and the offline notice."""
    lines = [
        f"{s.text} " + "".join(f"[{number_of(summary, i)}]" for i in s.source_ids) for s in summary.sentences
    ]
    parts = [" ".join(lines) if lines else "No relevant sentences were found in the sources."]
    cited = sorted({number_of(summary, i) for s in summary.sentences for i in s.source_ids})
    if cited:
        parts.append(format_sources(summary.sources, only=cited))
    if summary.offline:
        parts.append(f"_{OFFLINE_NOTICE}_")
    return "\n\n".join(parts)


def tokenizer_available(model: str | None = None) -> bool:
    """Whether exact tiktoken counts are available offline for ``model`` (else chars/4 estimates)."""
    return _load_encoding(_encoding_name(model)) is not None
