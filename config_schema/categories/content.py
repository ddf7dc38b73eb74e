"""Settings of the content pipeline (category ``content``, graph ``content_pipeline``, seed 004).

The graph reads them from its run context (``config_schema.access.setting``), so a session resumed after a
crash sees the values it started with; ``content.session_ttl_hours`` is read by the session routes when a
session is created (``api/routers/content_sessions.py``).
"""

from __future__ import annotations

from typing import Any

from config_schema.definitions import Setting

FORMATS: tuple[str, ...] = ("article", "newsletter", "social_thread")

# name -> {platform, tone, length_words, format}; a user adds or overrides presets in their own layer
DEFAULT_PRESETS: dict[str, dict[str, Any]] = {
    "blog_article": {"platform": "blog", "tone": "informative", "length_words": 800, "format": "article"},
    "newsletter": {"platform": "email", "tone": "friendly", "length_words": 500, "format": "newsletter"},
    "social_thread": {"platform": "social", "tone": "punchy", "length_words": 250, "format": "social_thread"},
}

SETTINGS: list[Setting] = [
    Setting(
        key="content.max_review_rounds",
        category="content",
        type="integer",
        default=3,
        minimum=0,
        maximum=20,
        scope="session",
        description="How many times a review may send the article back to writing before it must be approved.",
    ),
    Setting(
        key="content.session_ttl_hours",
        category="content",
        type="number",
        default=2.0,
        minimum=0.01,
        maximum=24 * 90,
        scope="user",
        description="A content session expires this many hours after its last action (then it refuses actions).",
    ),
    Setting(
        key="content.banned_words",
        category="content",
        type="list",
        default=[],
        scope="session",
        description="Words and phrases the review flags wherever they appear in the article (case-insensitive).",
    ),
    Setting(
        key="content.style_presets",
        category="content",
        type="json",
        default=DEFAULT_PRESETS,
        scope="session",
        description=(
            "Style presets by name: {platform, tone, length_words, format (article | newsletter | "
            "social_thread)}."
        ),
    ),
    Setting(
        key="content.default_preset",
        category="content",
        type="string",
        default="blog_article",
        scope="session",
        description="The style preset applied first (a name in content.style_presets).",
    ),
    Setting(
        key="content.topic_count",
        category="content",
        type="integer",
        default=5,
        minimum=1,
        maximum=20,
        scope="session",
        description="How many candidate topics the topic stage proposes.",
    ),
    Setting(
        key="content.outline_sections",
        category="content",
        type="integer",
        default=3,
        minimum=1,
        maximum=12,
        scope="session",
        description="How many sections the outline has (the draft is written one section at a time).",
    ),
    Setting(
        key="content.max_reading_grade",
        category="content",
        type="number",
        default=14.0,
        minimum=1,
        maximum=30,
        scope="session",
        description="The review flags an article whose Flesch-Kincaid grade level is above this.",
    ),
]
