"""Styling a draft for a target: a preset's platform, tone, length (words) and format.

Formats: ``article`` (headed sections), ``newsletter`` (a framing line, the issue's contents, the
sections), ``social_thread`` (numbered posts of at most ``post_chars`` characters, each keeping its
citations). With a ``smart`` model the model restyles the draft, keeping its ``[n]`` citations; the offline
engine restyles by arrangement only: it keeps the draft's cited sentences, trims them to the length, and
lays them out in the format. Framing lines that carry no claim are set in italics (``_..._``), which the
review's "every claim cited" check skips. The sources list is always rebuilt from the stored sources.

The styling stage's nodes: :func:`style` and :func:`approve_style` (the human approves or restyles).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from typing import Any

from langchain_core.messages import HumanMessage, SystemMessage
from langchain_core.runnables import RunnableConfig
from langgraph.runtime import Runtime
from langgraph.types import Command

from config_schema.access import setting
from config_schema.categories.content import DEFAULT_PRESETS, FORMATS
from nodes.content import chat_model, events
from nodes.content.actions import APPROVE_STYLE, ask_action, narrowed
from nodes.content.state import ContentState, decision_of, engine_flags, say
from nodes.content.writing import numbered_docs, sources_section, words
from nodes.research.state import findings_of
from nodes.research.write import strip_sources_section
from nodes.run_context import context_values
from providers.offline.sentences import split_sentences
from providers.offline.tokens import word_count
from providers.types import SourceDoc

DEFAULT_POST_CHARS = 280
_CITE = re.compile(r"((?:\s*\[\d+\])+)\s*([.!?…\"'”’]*)\s*$")


def presets(values: Mapping[str, Any] | None) -> dict[str, dict[str, Any]]:
    raw = setting(values, "content.style_presets")
    return {str(k): dict(v) for k, v in (raw or DEFAULT_PRESETS).items() if isinstance(v, Mapping)}


def resolve_preset(
    values: Mapping[str, Any] | None, name: str | None = None, overrides: Mapping[str, Any] | None = None
) -> tuple[dict[str, Any], list[str]]:
    """The preset ``name`` (default: ``content.default_preset``) with ``overrides``, and notes on fallbacks."""
    available = presets(values)
    notes = []
    wanted = name or str(setting(values, "content.default_preset"))
    if wanted not in available:
        fallback = next(iter(available), "") or "blog_article"
        notes.append(f"unknown style preset {wanted!r}: used {fallback!r}")
        wanted = fallback
    base = {**DEFAULT_PRESETS["blog_article"], **available.get(wanted, {})}
    preset = {**base, **{k: v for k, v in (overrides or {}).items() if v is not None and k != "preset"}}
    if preset.get("format") not in FORMATS:
        notes.append(f"unknown format {preset.get('format')!r}: used 'article'")
        preset["format"] = "article"
    preset["name"] = wanted
    preset["length_words"] = max(50, int(preset.get("length_words") or 800))
    return preset, notes


def _sections(draft: str) -> tuple[str, list[tuple[str, list[str]]]]:
    """``(title, [(heading, sentences)])`` of a draft assembled by :func:`nodes.content.writing.assemble`."""
    body = strip_sources_section(draft)
    title = ""
    sections: list[tuple[str, list[str]]] = []
    for block in re.split(r"\n(?=#{1,2} )", body):
        block = block.strip()
        if block.startswith("# "):
            first, _, rest = block.partition("\n")
            title = first[2:].strip()
            if rest.strip():
                sections.append(("", split_sentences(rest)))
        elif block.startswith("## "):
            first, _, rest = block.partition("\n")
            sections.append((first[3:].strip(), split_sentences(rest)))
        elif block:
            sections.append(("", split_sentences(block)))
    return title, sections


def _trim(sections: list[tuple[str, list[str]]], budget: int) -> list[tuple[str, list[str]]]:
    """Keep sentences round-robin across sections (each section's first first) until ``budget`` words."""
    kept: list[list[str]] = [[] for _ in sections]
    used = 0.0
    depth = 0
    longest = max((len(s) for _, s in sections), default=0)
    while depth < longest:
        for i, (_, sentences) in enumerate(sections):
            if depth < len(sentences):
                w = word_count(sentences[depth])
                if used + w > budget and any(kept):
                    return [(h, k) for (h, _), k in zip(sections, kept, strict=True) if k]
                kept[i].append(sentences[depth])
                used += w
        depth += 1
    return [(h, k) for (h, _), k in zip(sections, kept, strict=True) if k]


def _post(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, keeping its citation marks (and closing punctuation)."""
    m = _CITE.search(text)
    marks = m.group(1).strip() if m else ""
    tail = m.group(2) if m else ""
    core = text[: m.start()].rstrip() if m else text
    room = limit - len(marks) - len(tail) - 1
    if len(core) > room:
        core = core[: max(1, room - 1)].rsplit(" ", 1)[0].rstrip(",;:") + "…"
        tail = ""
    return f"{core} {marks}{tail}".strip() if marks else f"{core}{tail}"


def offline_style(draft: str, preset: Mapping[str, Any], docs: Sequence[tuple[int, SourceDoc]]) -> str:
    title, sections = _sections(draft)
    sections = _trim(sections, int(preset["length_words"]))
    fmt = preset["format"]
    if fmt == "social_thread":
        limit = int(preset.get("post_chars") or DEFAULT_POST_CHARS)
        sentences = [s for _, ss in sections for s in ss]
        total = len(sentences) + 1
        posts = [f"_{_post(title, limit - 8)} ({1}/{total})_"]
        posts += [f"{i}/{total} {_post(s, limit - len(f'{i}/{total} '))}" for i, s in enumerate(sentences, start=2)]
        body = f"# {title}\n\n" + "\n\n".join(posts)
    elif fmt == "newsletter":
        contents = ", ".join(h for h, _ in sections if h)
        intro = f"_This issue, for {preset.get('platform', 'email')} readers: {title}._"
        parts = [f"# {title}", intro]
        if contents:
            parts.append(f"_In this issue: {contents}._")
        parts += [f"## {h}\n\n{' '.join(ss)}" if h else " ".join(ss) for h, ss in sections]
        body = "\n\n".join(parts)
    else:
        body = f"# {title}\n\n" + "\n\n".join(f"## {h}\n\n{' '.join(ss)}" if h else " ".join(ss) for h, ss in sections)
    return body + "\n\n" + sources_section(docs, body) + "\n"


async def model_style(
    model: Any, draft: str, preset: Mapping[str, Any], docs: Sequence[tuple[int, SourceDoc]],
    config: RunnableConfig | None,
) -> str:
    prompt = [
        SystemMessage(
            content=(
                "You restyle articles. Keep every fact and its bracketed citation numbers exactly; add no facts. "
                "Start with a level-1 heading. Do not write a sources section."
            )
        ),
        HumanMessage(
            content=(
                f"Platform: {preset.get('platform')}\nTone: {preset.get('tone')}\nFormat: {preset['format']}\n"
                f"Length: about {preset['length_words']} words.\n\nArticle:\n{strip_sources_section(draft)}"
            )
        ),
    ]
    reply = await model.ainvoke(prompt, config=config)
    content = getattr(reply, "content", reply)
    if isinstance(content, list):
        content = "".join(p.get("text", "") if isinstance(p, dict) else str(p) for p in content)
    body = strip_sources_section(str(content)).strip()
    if not body.startswith("#"):
        title, _ = _sections(draft)
        body = f"# {title}\n\n{body}"
    return body + "\n\n" + sources_section(docs, body) + "\n"


# --- the styling stage's nodes -------------------------------------------------------------------------------


async def style(state: ContentState, config: RunnableConfig, runtime: Runtime[Any]) -> dict[str, Any]:
    values = context_values(runtime)
    model = await chat_model(values, "smart")
    choice = state.get("preset_choice") or {}
    preset, notes = resolve_preset(values, choice.get("preset"), choice)
    offline = model is None
    events.stage_change("styling", f"styling for {preset['platform']} ({preset['name']}, {preset['format']})",
                        offline=offline)
    docs = numbered_docs(findings_of(state.get("findings")), state.get("sources") or [])
    draft = str(state.get("draft") or "")
    if model is not None:
        styled = await model_style(model, draft, preset, docs, config)
    else:
        styled = await asyncio.to_thread(offline_style, draft, preset, docs)
    events.step("styling", "styled", f"{words(styled)} words as {preset['format']}", words=words(styled))
    return {
        "content_stage": "styling",
        "content_status": "waiting",
        "preset": preset,
        "styled": styled,
        "notes": [*(state.get("notes") or []), *notes],
        "engine": engine_flags(state, "styling", offline),
        "messages": [say("styling", f"Styled ({preset['name']}):\n\n{styled}", offline)],
    }


def approve_style(state: ContentState, runtime: Runtime[Any]) -> Command[Any]:
    restyle = narrowed(APPROVE_STYLE.action("restyle"), preset={"enum": sorted(presets(context_values(runtime)))})
    choice = ask_action(APPROVE_STYLE, "Approve the styled article or restyle it.",
                        [APPROVE_STYLE.action("approve_style"), restyle], data={"preset": state.get("preset")})
    decision = decision_of("styling", choice)
    if choice.action == "restyle":
        return Command(update={"preset_choice": dict(choice.parameters), "decisions": [decision]}, goto="style")
    return Command(update={"decisions": [decision]}, goto="auto_review")
