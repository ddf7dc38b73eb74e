"""Find Unicode fonts for PDF export and make text safe for whichever fonts were found.

fpdf2's built-in PDF fonts (Helvetica, Courier) only encode Latin-1 and raise on anything else, so a report
in Chinese or with typographic quotes would crash the export. fpdf2 ships no TTF of its own, so we look for
well-known TrueType families where systems and Python packages install them: DejaVu (Debian's
``fonts-dejavu-core``, also bundled inside matplotlib), Noto or Liberation for body and code text, and a CJK
family (Noto Sans CJK, WenQuanYi, Droid Sans Fallback) as a fallback for ideographs when one is installed.

Whatever is found, :meth:`FontPlan.sanitize` maps every character the chosen fonts cannot draw to something
they can (typographic punctuation to ASCII, accented letters to their base letter, anything else to a visible
placeholder), so no text can make the export fail; it only loses glyphs the machine has no font for.
Limitations: without a CJK font installed, CJK text becomes placeholders in the PDF (the DOCX keeps it, as
Word picks its own fonts); complex scripts (Arabic, Indic) are not shaped because that needs HarfBuzz.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from fpdf import FPDF
from fpdf.fonts import TTFFont

STYLES = ("", "B", "I", "BI")

# Family candidates in order of preference: style -> file name. The regular file is required.
_BODY_FAMILIES: tuple[dict[str, str], ...] = (
    {
        "": "DejaVuSans.ttf",
        "B": "DejaVuSans-Bold.ttf",
        "I": "DejaVuSans-Oblique.ttf",
        "BI": "DejaVuSans-BoldOblique.ttf",
    },
    {
        "": "NotoSans-Regular.ttf",
        "B": "NotoSans-Bold.ttf",
        "I": "NotoSans-Italic.ttf",
        "BI": "NotoSans-BoldItalic.ttf",
    },
    {
        "": "LiberationSans-Regular.ttf",
        "B": "LiberationSans-Bold.ttf",
        "I": "LiberationSans-Italic.ttf",
        "BI": "LiberationSans-BoldItalic.ttf",
    },
)
_MONO_FAMILIES: tuple[dict[str, str], ...] = (
    {
        "": "DejaVuSansMono.ttf",
        "B": "DejaVuSansMono-Bold.ttf",
        "I": "DejaVuSansMono-Oblique.ttf",
        "BI": "DejaVuSansMono-BoldOblique.ttf",
    },
    {"": "NotoSansMono-Regular.ttf", "B": "NotoSansMono-Bold.ttf"},
    {
        "": "LiberationMono-Regular.ttf",
        "B": "LiberationMono-Bold.ttf",
        "I": "LiberationMono-Italic.ttf",
        "BI": "LiberationMono-BoldItalic.ttf",
    },
)
# Fallbacks for scripts the body font lacks: (file name, index inside a .ttc collection).
_FALLBACKS: tuple[tuple[str, int], ...] = (
    ("NotoSansCJK-Regular.ttc", 2),  # index 2 is the Simplified Chinese face
    ("NotoSansCJKsc-Regular.otf", 0),
    ("NotoSansSC-Regular.otf", 0),
    ("NotoSansSC-Regular.ttf", 0),
    ("wqy-microhei.ttc", 0),
    ("wqy-zenhei.ttc", 0),
    ("DroidSansFallbackFull.ttf", 0),
    ("DroidSansFallback.ttf", 0),
)

# Typographic characters that Latin-only fonts lack, with plain replacements.
_REPLACEMENTS: dict[str, str] = {
    "\u2018": "'",
    "\u2019": "'",
    "\u201a": ",",
    "\u201c": '"',
    "\u201d": '"',
    "\u201e": '"',
    "\u2013": "-",
    "\u2014": "--",
    "\u2212": "-",
    "\u2026": "...",
    "\u2022": "*",
    "\u25e6": "-",
    "\u25aa": "-",
    "\u2192": "->",
    "\u2190": "<-",
    "\u2264": "<=",
    "\u2265": ">=",
    "\u2260": "!=",
    "\u20ac": "EUR",
    "\u2122": "(TM)",
    "\u00a0": " ",
    "\u3000": " ",
    "\uff0c": ",",
    "\u3002": ".",
    "\uff1a": ":",
    "\uff1b": ";",
    "\uff08": "(",
    "\uff09": ")",
}
_LATIN1 = frozenset(range(0x20, 0x7F)) | frozenset(range(0xA0, 0x100))

BODY = "clewsans"
MONO = "clewmono"


def _search_dirs() -> list[Path]:
    dirs = [
        Path("/usr/share/fonts"),
        Path("/usr/local/share/fonts"),
        Path.home() / ".local/share/fonts",
        Path.home() / ".fonts",
        Path("/Library/Fonts"),
        Path("/System/Library/Fonts"),
    ]
    windir = os.environ.get("WINDIR")
    if windir:
        dirs.append(Path(windir) / "Fonts")
    # matplotlib bundles the DejaVu family; find it without importing matplotlib.
    spec = importlib.util.find_spec("matplotlib")
    if spec is not None and spec.origin:
        dirs.append(Path(spec.origin).parent / "mpl-data" / "fonts" / "ttf")
    return dirs


def _index(dirs: Iterable[Path]) -> dict[str, Path]:
    """Map font file names to the first path found for them."""
    wanted = {name for family in _BODY_FAMILIES + _MONO_FAMILIES for name in family.values()}
    wanted |= {name for name, _ in _FALLBACKS}
    found: dict[str, Path] = {}
    for base in dirs:
        if not base.is_dir():
            continue
        for root, _subdirs, files in os.walk(base):
            for name in files:
                if name in wanted and name not in found:
                    found[name] = Path(root) / name
    return found


@dataclass(frozen=True, slots=True)
class FontPlan:
    """Which font files the PDF uses; families missing here fall back to the Latin-1 core fonts."""

    body: dict[str, Path] = field(default_factory=dict)
    mono: dict[str, Path] = field(default_factory=dict)
    fallbacks: tuple[tuple[Path, int], ...] = ()

    @property
    def unicode(self) -> bool:
        return bool(self.body)


def _pick(families: tuple[dict[str, str], ...], found: dict[str, Path]) -> dict[str, Path]:
    for family in families:
        regular = found.get(family[""])
        if regular is None:
            continue
        # A missing style reuses the regular face: plainer, but never a failure.
        return {style: found.get(family.get(style, ""), regular) for style in STYLES}
    return {}


def discover(dirs: Iterable[Path] | None = None) -> FontPlan:
    """Look for usable font files (blocking file-system walk; cached for the default directories)."""
    if dirs is None:
        return _discover_default()
    return _plan(_index(dirs))


@functools.cache
def _discover_default() -> FontPlan:
    return _plan(_index(_search_dirs()))


def _plan(found: dict[str, Path]) -> FontPlan:
    body = _pick(_BODY_FAMILIES, found)
    mono = _pick(_MONO_FAMILIES, found) or body
    fallbacks = tuple((found[name], index) for name, index in _FALLBACKS if name in found)
    return FontPlan(body=body, mono=mono, fallbacks=fallbacks if body else ())


def _cmap(pdf: FPDF, family: str) -> set[int]:
    """The code points a registered TrueType family has glyphs for (its regular face)."""
    font = pdf.fonts.get(family)
    return set(font.cmap) if isinstance(font, TTFFont) else set()


class FontSet:
    """Fonts registered on one FPDF document, with the text sanitizers that match them."""

    def __init__(self, pdf: FPDF, plan: FontPlan) -> None:
        self.unicode = plan.unicode
        if not plan.unicode:
            self.body, self.mono = "helvetica", "courier"
            self._body_cover: frozenset[int] = _LATIN1
            self._mono_cover: frozenset[int] = _LATIN1
            return
        self.body, self.mono = BODY, MONO
        for style, path in plan.body.items():
            pdf.add_font(BODY, style, str(path))
        for style, path in plan.mono.items():
            pdf.add_font(MONO, style, str(path))
        extra: set[int] = set()
        names: list[str] = [BODY]
        for i, (path, index) in enumerate(plan.fallbacks):
            name = f"clewfallback{i}"
            try:
                pdf.add_font(name, "", str(path), collection_font_number=index)
            except Exception:  # an unreadable optional font must not break the export
                continue
            names.append(name)
            extra |= _cmap(pdf, name)
        pdf.set_fallback_fonts(names, exact_match=False)
        body_cover = _cmap(pdf, BODY)
        self._body_cover = frozenset(body_cover | extra)
        self._mono_cover = frozenset(_cmap(pdf, MONO) | body_cover | extra)

    def sanitize(self, text: str, mono: bool = False) -> str:
        """Text the font can draw: tabs expanded, controls dropped, missing glyphs replaced."""
        return sanitize(text, self._mono_cover if mono else self._body_cover)

    def covers(self, char: str, mono: bool = False) -> bool:
        return ord(char) in (self._mono_cover if mono else self._body_cover)


def sanitize(text: str, cover: frozenset[int]) -> str:
    """Replace every character outside ``cover`` (a set of code points) by a drawable stand-in."""
    text = text.replace("\r\n", "\n").replace("\t", "    ")
    if all(ord(c) in cover or c == "\n" for c in text):
        return text
    placeholder = "\u25a1" if 0x25A1 in cover else "?"
    out: list[str] = []
    for char in text:
        code = ord(char)
        if code in cover or char == "\n":
            out.append(char)
            continue
        category = unicodedata.category(char)
        if category in ("Cc", "Cf", "Mn", "Me", "Zl", "Zp") or 0xFE00 <= code <= 0xFE0F:
            continue  # controls, zero-width and variation selectors, stray combining marks
        swap = _REPLACEMENTS.get(char)
        if swap is not None and all(ord(c) in cover for c in swap):
            out.append(swap)
            continue
        base = "".join(
            c for c in unicodedata.normalize("NFKD", char) if unicodedata.category(c) not in ("Mn", "Me")
        )
        if base and all(ord(c) in cover for c in base):
            out.append(base)
            continue
        if unicodedata.category(char).startswith("Z"):
            out.append(" ")
            continue
        out.append(placeholder)
    return "".join(out)
