"""Settings of the research modes (category ``research``).

Listed in ``config_schema.registry`` with every other category. The graphs read them from its run context with
``config_schema.access.setting(runtime.context, "research.depth")``. All are session scope (a user's default,
changeable per thread or per run) except the fan-out concurrency, which loads the server and the searched sites
and is therefore capped per user.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SOURCE_MODES: tuple[str, ...] = ("web", "local", "hybrid")
TONES: tuple[str, ...] = ("objective", "formal", "analytical", "persuasive", "informal", "simple")

SETTINGS: list[Setting] = [
    Setting(
        key="research.breadth",
        category="research",
        type="integer",
        default=3,
        minimum=1,
        maximum=10,
        scope="session",
        description="Research directions explored side by side at each level of a deep research.",
    ),
    Setting(
        key="research.depth",
        category="research",
        type="integer",
        default=2,
        minimum=1,
        maximum=5,
        scope="session",
        description="Levels of follow-up a deep research goes down (each level refines the previous findings).",
    ),
    Setting(
        key="research.concurrency",
        category="research",
        type="integer",
        default=4,
        minimum=1,
        maximum=16,
        scope="user",
        description="Branches (searches, fetches, summaries) a research runs at once.",
    ),
    Setting(
        key="research.max_iterations",
        category="research",
        type="integer",
        default=3,
        minimum=1,
        maximum=20,
        scope="session",
        description="Plan, search and review rounds before the report is written, at most.",
    ),
    Setting(
        key="research.sub_queries",
        category="research",
        type="integer",
        default=3,
        minimum=1,
        maximum=10,
        scope="session",
        description="Search queries generated for each research question or direction.",
    ),
    Setting(
        key="research.report_word_budget",
        category="research",
        type="integer",
        default=1500,
        minimum=200,
        maximum=20_000,
        scope="session",
        description="Target length of the final report, in words.",
    ),
    Setting(
        key="research.tone",
        category="research",
        type="enum",
        default="objective",
        options=TONES,
        scope="session",
        description="Tone of the written report.",
    ),
    Setting(
        key="research.source_mode",
        category="research",
        type="enum",
        default="hybrid",
        options=SOURCE_MODES,
        scope="session",
        description=(
            "Where a research looks: 'web' (web retrievers only), 'local' (the user's knowledge base only) or "
            "'hybrid' (both, fused). With no web retriever configured, 'web' and 'hybrid' use what is available."
        ),
    ),
    Setting(
        key="research.human_review",
        category="research",
        type="boolean",
        default=None,
        scope="session",
        description=(
            "Pause for the user to review the research plan before going on: approve, edit or reject the "
            "queries (standard and deep research), accept, edit or give feedback on the outline (multi-agent "
            "research). Unset: multi-agent research asks, the other modes do not."
        ),
    ),
]
