"""Settings for the chat UI's appearance (category ``ui``).

Pure preferences of one user: the server stores and returns them (the settings screen reads them back) but
no graph depends on them, so they are user scope and never secret.
"""

from __future__ import annotations

from config_schema.definitions import Setting

SETTINGS: list[Setting] = [
    Setting(
        key="ui.theme",
        category="ui",
        type="enum",
        default="system",
        options=("system", "light", "dark"),
        scope="user",
        description="Colour theme of the UI; 'system' follows the operating system.",
    ),
    Setting(
        key="ui.language",
        category="ui",
        type="string",
        default="en",
        # a BCP 47 language tag, simplified: language, optional script or region (en, zh, zh-CN, zh-Hant)
        pattern=r"[a-z]{2,3}(-[A-Za-z]{4})?(-[A-Z]{2}|-[0-9]{3})?",
        scope="user",
        description="Language of the UI and of generated answers, as a language tag (en, zh, zh-CN, de).",
    ),
    Setting(
        key="ui.font_size",
        category="ui",
        type="integer",
        default=16,
        minimum=10,
        maximum=32,
        scope="user",
        description="Base font size of the UI in CSS pixels.",
    ),
]
