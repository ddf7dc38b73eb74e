"""Settings of the multi-agent research mode (category ``research``).

Listed in ``config_schema.registry`` with every other category. All are session scope: a user's default,
changeable per thread or per run. Whether the human reviews the outline is the shared
``research.human_review`` (``config_schema/categories/research.py``), which this mode treats as on while it is
unset.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="research.max_sections",
        category="research",
        type="integer",
        default=5,
        minimum=1,
        maximum=10,
        scope="session",
        description="Sections the editor of a multi-agent research plans, at most (one research team each).",
    ),
    Setting(
        key="research.max_plan_revisions",
        category="research",
        type="integer",
        default=3,
        minimum=0,
        maximum=10,
        scope="session",
        description=(
            "Times the editor of a multi-agent research revises its outline on the reviewer's feedback; after "
            "that the outline is accepted as it is and the report says so."
        ),
    ),
    Setting(
        key="research.max_section_revisions",
        category="research",
        type="integer",
        default=2,
        minimum=0,
        maximum=5,
        scope="session",
        description=(
            "Rounds of review and rewriting one section of a multi-agent research gets at most; a section "
            "still not accepted then is kept with the reviewer's last notes."
        ),
    ),
]
