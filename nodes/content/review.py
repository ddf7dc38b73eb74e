"""The review stage's automatic checks of a styled article (deterministic; no model involved).

- ``claims_cited``: every sentence of the body that makes a claim (outside headings, the sources list and
  italic framing lines, at least :data:`MIN_CLAIM_WORDS` words) carries a ``[n]`` citation;
- ``citations_stored``: every cited number is a stored source of the research
  (:func:`reports.citations.check_citations`);
- ``length``: the body's word count is within :data:`LENGTH_TOLERANCE` of the preset's ``length_words`` at
  most (a shorter article passes: the sources may not support more);
- ``reading_level``: the Flesch-Kincaid grade (0.39 * words/sentences + 11.8 * syllables/words - 15.59;
  syllables from pyphen's hyphenation dictionaries) is at most ``content.max_reading_grade`` (English only:
  a mostly-CJK article is not graded, and the check says so);
- ``banned_words``: none of ``content.banned_words`` occurs (whole words, case-insensitive).

The review stage's nodes: :func:`auto_review` (the checks), :func:`review_verdict` (the human publishes or
requests changes, back to writing) and :func:`finalize` (the final article).
"""

from __future__ import annotations

import asyncio
import functools
import re
import time
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import AIMessage
from langgraph.runtime import Runtime
from langgraph.types import Command

from config_schema.access import setting
from nodes.content import events
from nodes.content.actions import (
    REVIEW_VERDICT,
    ask_action,
)
from nodes.content.state import ContentState, decision_of, engine_flags, say
from nodes.research.write import strip_sources_section
from nodes.run_context import context_values
from providers.models import has_model
from providers.offline.sentences import split_sentences
from providers.offline.tokens import is_cjk, word_count
from reports.citations import check_citations, find_citations

MIN_CLAIM_WORDS = 5
LENGTH_TOLERANCE = 1.25
_WORD = re.compile(r"[A-Za-z][A-Za-z'’-]*")


@functools.lru_cache(maxsize=1)
def _hyphenator() -> Any:
    import pyphen

    return pyphen.Pyphen(lang="en_US")


def syllables(word: str) -> int:
    return len(_hyphenator().positions(word.lower())) + 1


def flesch_kincaid_grade(text: str) -> float:
    """The Flesch-Kincaid grade level of English ``text`` (0.0 for text without words)."""
    sentences = [s for s in split_sentences(text) if _WORD.search(s)]
    words = _WORD.findall(text)
    if not sentences or not words:
        return 0.0
    syl = sum(syllables(w) for w in words)
    return round(0.39 * len(words) / len(sentences) + 11.8 * syl / len(words) - 15.59, 1)


def _mostly_cjk(text: str) -> bool:
    letters = [c for c in text if c.isalpha()]
    return bool(letters) and sum(1 for c in letters if is_cjk(c)) > len(letters) / 2


def _body_paragraphs(markdown: str) -> list[str]:
    out = []
    for block in re.split(r"\n\s*\n", strip_sources_section(markdown)):
        block = block.strip()
        if not block or block.startswith("#"):
            continue
        if block.startswith("_") and block.endswith("_"):
            continue  # framing, not a claim
        out.append(block)
    return out


def uncited_claims(markdown: str) -> list[str]:
    out = []
    for para in _body_paragraphs(markdown):
        for sentence in split_sentences(para):
            plain = re.sub(r"^\d+/\d+\s+", "", sentence)
            if len(_WORD.findall(plain)) >= MIN_CLAIM_WORDS and not find_citations(plain):
                out.append(sentence)
    return out


def banned_in(markdown: str, banned: Sequence[str]) -> list[dict[str, Any]]:
    text = strip_sources_section(markdown)
    found = []
    for word in banned:
        w = str(word).strip()
        if not w:
            continue
        n = len(re.findall(rf"(?<!\w){re.escape(w)}(?!\w)", text, flags=re.IGNORECASE))
        if n:
            found.append({"word": w, "count": n})
    return found


def review_article(
    markdown: str,
    sources: Sequence[Mapping[str, Any]],
    *,
    length_words: int,
    banned: Sequence[str],
    max_grade: float,
) -> dict[str, Any]:
    """``{passed, checks: [{id, passed, detail}], words, grade, uncited, banned, citations}``."""
    body = "\n\n".join(_body_paragraphs(markdown))
    uncited = uncited_claims(markdown)
    citations = check_citations(markdown, [dict(s) for s in sources])
    words = int(word_count(body))
    cjk = _mostly_cjk(body)
    grade = 0.0 if cjk else flesch_kincaid_grade(body)
    banned_found = banned_in(markdown, banned)
    limit = int(length_words * LENGTH_TOLERANCE)
    checks = [
        {
            "id": "claims_cited",
            "passed": not uncited,
            "detail": "every claim cites a source" if not uncited else f"{len(uncited)} sentence(s) cite nothing",
        },
        {
            "id": "citations_stored",
            "passed": citations.ok and bool(citations.cited),
            "detail": (
                f"cites {len(set(citations.cited))} stored source(s)"
                if citations.ok and citations.cited
                else ("cites no source" if citations.ok else f"cites unknown source(s) {citations.missing}")
            ),
        },
        {
            "id": "length",
            "passed": words <= limit,
            "detail": f"{words} words (target {length_words}, at most {limit})",
        },
        {
            "id": "reading_level",
            "passed": cjk or grade <= max_grade,
            "detail": (
                "not measured: Flesch-Kincaid applies to English text, this article is mostly CJK"
                if cjk else f"Flesch-Kincaid grade {grade} (at most {max_grade})"
            ),
        },
        {
            "id": "banned_words",
            "passed": not banned_found,
            "detail": "none" if not banned_found else ", ".join(f"{b['word']} x{b['count']}" for b in banned_found),
        },
    ]
    return {
        "passed": all(c["passed"] for c in checks),
        "checks": checks,
        "words": words,
        "grade": grade,
        "uncited": uncited,
        "banned": banned_found,
        "citations": citations.model_dump(),
    }


# --- the review stage's nodes --------------------------------------------------------------------------------


async def auto_review(state: ContentState, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    offline = not has_model(values, "smart")
    rounds = int(state.get("review_round") or 0) + 1
    events.stage_change("review", "checking citations, length, reading level and banned words", offline=offline)
    preset = state.get("preset") or {}
    result = await asyncio.to_thread(
        lambda: review_article(
            str(state.get("styled") or ""),
            state.get("sources") or [],
            length_words=int(preset.get("length_words") or 800),
            banned=list(setting(values, "content.banned_words") or []),
            max_grade=float(setting(values, "content.max_reading_grade")),
        )
    )
    result["round"] = rounds
    events.emit(events.REVIEW_COMPLETED, {k: result[k] for k in ("round", "passed", "checks", "words", "grade")})
    failed = [c["id"] for c in result["checks"] if not c["passed"]]
    text = "all automatic checks passed" if not failed else "checks that failed: " + ", ".join(failed)
    return {
        "content_stage": "review",
        "content_status": "waiting",
        "review": result,
        "engine": engine_flags(state, "review", offline),
        "messages": [say("review", text, offline)],
    }


def review_verdict(state: ContentState, runtime: Runtime[Any]) -> Command[Any]:
    used = int(state.get("review_round") or 0)
    limit = int(setting(context_values(runtime), "content.max_review_rounds"))
    offered = [REVIEW_VERDICT.action("approve")]
    if used < limit:
        offered.append(REVIEW_VERDICT.action("request_changes"))
    choice = ask_action(
        REVIEW_VERDICT,
        "Publish the article, or request changes (back to writing)."
        if used < limit else f"Publish the article ({used} of {limit} review rounds used).",
        offered,
        data={"review": state.get("review"), "rounds_used": used, "max_rounds": limit},
    )
    decision = decision_of("review", choice)
    if choice.action == "request_changes":
        notes = [*(state.get("review_notes") or []), {"round": used + 1, "notes": choice.parameters["notes"]}]
        return Command(update={"review_round": used + 1, "review_notes": notes, "decisions": [decision]},
                       goto="write_draft")
    return Command(update={"decisions": [decision]}, goto="finalize")


async def finalize(state: ContentState) -> dict[str, Any]:
    article = str(state.get("styled") or state.get("draft") or "")
    offline = all((state.get("engine") or {}).values()) if state.get("engine") else True
    events.stage_change("done", "the article is final", offline=offline, status="done")
    return {
        "content_stage": "done",
        "content_status": "done",
        "final_article": article,
        "status": "done",
        "finished_at": time.time(),
        "messages": [AIMessage(content=article)],
    }
