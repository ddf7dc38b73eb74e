"""Settings for the document reader (category ``reading``): how PDFs and sources open in the UI.

User preferences only; stored and served by the settings API for the reader component.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="reading.pdf_reader_mode",
        category="reading",
        type="enum",
        default="scroll",
        options=("scroll", "single_page", "two_page"),
        scope="user",
        description="How the PDF reader lays out pages: continuous scroll, one page, or two pages side by side.",
    ),
    Setting(
        key="reading.default_zoom",
        category="reading",
        type="string",
        default="fit_width",
        pattern=r"fit_width|fit_page|auto|([1-9][0-9]|[1-4][0-9]{2}|500)%",
        scope="user",
        description="Zoom a document opens with: fit_width, fit_page, auto, or a percentage from 10% to 500%.",
    ),
    Setting(
        key="reading.highlight_color",
        category="reading",
        type="string",
        default="#FFEB3B",
        pattern=r"#[0-9A-Fa-f]{6}",
        scope="user",
        description="Colour of highlights and cited passages, as #RRGGBB.",
    ),
]
