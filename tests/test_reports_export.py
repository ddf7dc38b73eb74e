"""Report export: real PDF and DOCX files, read back with pypdf and python-docx."""

from __future__ import annotations

import io
import shutil
from pathlib import Path

import docx
import pypdf
import pytest
from docx.oxml.ns import qn
from docx.text.paragraph import Paragraph as DocxParagraph

from api.errors import status_of
from domain.errors import InvalidInput
from reports.document import parse
from reports.export import (
    content_disposition,
    content_type,
    export_report,
    filename,
    parse_format,
    render_report,
)
from reports.fonts import FontPlan, discover
from reports.pdf_render import render_pdf

REPORT = """# Solar power in 2024

Solar capacity grew **fast** in 2024 [1], with *notable* gains in `China` [2]. See the
[IEA report](https://iea.org/report).

## Capacity table

| Country | GW added | Share |
|:--------|---------:|:-----:|
| China | 217 | 55% |
| United States | 33 | **8%** |

## Method

1. Collect data
2. Normalise **units**
   - nested bullet

- plain bullet

```python
def growth(a: float, b: float) -> float:
    return (b - a) / a
```

> A quotation.

---

## Sources

1. [IEA Renewables 2024](https://iea.org/report)
2. [Ember](https://ember-climate.org)
"""

UNICODE = """# 太阳能报告 — état de l'art 😀

中文段落：光伏装机容量增长迅速 [1]。Ünïcødé “quotes” – naïve café, emoji 👩‍💻 ✅, Hebrew עברית.
Control \x00 characters\x07, a lone surrogate \ud800, tabs\tand combining e\u0301.

| 国家 | Valeur |
|------|--------|
| 中国 | 217 € |

```
打印("你好")  # 注释 ✓
```
"""


def style_name(paragraph: DocxParagraph) -> str:
    return paragraph.style.name if paragraph.style is not None else ""


def pdf_text(data: bytes) -> str:
    reader = pypdf.PdfReader(io.BytesIO(data))
    return "\n".join(page.extract_text() for page in reader.pages)


async def test_pdf_keeps_headings_tables_and_code() -> None:
    data = await export_report(REPORT, "pdf", title="Solar")
    assert data.startswith(b"%PDF-")
    reader = pypdf.PdfReader(io.BytesIO(data))
    text = pdf_text(data)
    assert "Solar power in 2024" in text  # heading
    assert "Capacity table" in text
    assert "United States" in text  # table cells
    assert "217" in text
    assert "return (b - a) / a" in text  # code line, indentation aside
    assert "def growth(a: float, b: float) -> float:" in text
    assert "IEA report (https://iea.org/report)" in " ".join(text.split())  # links keep their URL in print
    # Headings are bookmarks too.
    titles = [item.title for item in reader.outline if not isinstance(item, list)]
    assert "Solar power in 2024" in titles
    assert reader.metadata is not None and reader.metadata.title == "Solar"


async def test_docx_has_real_table_code_and_heading_styles() -> None:
    data = await export_report(REPORT, "docx", title="Solar")
    document = docx.Document(io.BytesIO(data))
    styles = {p.text: style_name(p) for p in document.paragraphs}
    assert styles["Solar power in 2024"] == "Heading 1"
    assert styles["Capacity table"] == "Heading 2"
    assert styles["Collect data"] == "List Number"
    assert styles["nested bullet"] == "List Bullet 2"
    assert styles["plain bullet"] == "List Bullet"
    assert styles["A quotation."] == "Quote"

    assert len(document.tables) == 1
    table = document.tables[0]
    cells = [[cell.text for cell in row.cells] for row in table.rows]
    assert cells == [["Country", "GW added", "Share"], ["China", "217", "55%"], ["United States", "33", "8%"]]
    assert all(run.bold for run in table.rows[0].cells[0].paragraphs[0].runs)

    code = [p for p in document.paragraphs if style_name(p) == "Code Block"]
    assert len(code) == 1
    assert "    return (b - a) / a" in code[0].text
    assert document.styles["Code Block"].font.name == "Courier New"

    body = next(p for p in document.paragraphs if p.text.startswith("Solar capacity"))
    assert any(run.bold and run.text == "fast" for run in body.runs)
    assert any(run.italic and run.text == "notable" for run in body.runs)
    assert any(run.font.name == "Courier New" and run.text == "China" for run in body.runs)
    assert "IEA report (https://iea.org/report)" in body.text
    assert document.core_properties.title == "Solar"


async def test_docx_numbered_lists_restart() -> None:
    data = await export_report("1. one\n2. two\n\nBetween.\n\n5. five\n6. six\n", "docx")
    document = docx.Document(io.BytesIO(data))
    items = [p for p in document.paragraphs if style_name(p) == "List Number"]
    num_ids = [p._p.pPr.numPr.numId.val for p in items]  # type: ignore[union-attr]
    assert num_ids[0] == num_ids[1] != num_ids[2] == num_ids[3]
    numbering = document.part.numbering_part.element
    second = numbering.num_having_numId(num_ids[2])
    start = second.find(qn("w:lvlOverride")).find(qn("w:startOverride"))
    assert start.get(qn("w:val")) == "5"


@pytest.mark.parametrize("fmt", ["pdf", "docx", "md"])
async def test_non_ascii_text_never_breaks_export(fmt: str) -> None:
    data = await export_report(UNICODE, fmt)  # type: ignore[arg-type]
    assert data
    if fmt == "pdf":
        text = pdf_text(data)
        assert "naïve café" in text
        assert "Valeur" in text
    elif fmt == "docx":
        document = docx.Document(io.BytesIO(data))
        assert document.paragraphs[0].text.startswith("太阳能报告")
        assert document.tables[0].rows[1].cells[0].text == "中国"
        assert any("你好" in p.text for p in document.paragraphs)
        assert any("café" in p.text for p in document.paragraphs)
    else:
        text = data.decode("utf-8")
        assert "\x00" not in text and "光伏" in text


def test_core_font_fallback_replaces_what_latin1_cannot_show() -> None:
    """Without any TTF font the PDF uses Helvetica/Courier: Latin-1 survives, the rest is replaced."""
    data = render_pdf(parse(UNICODE), plan=FontPlan())
    text = pdf_text(data)
    assert "naïve café" in text
    assert '"quotes" -' in text  # typographic quotes and dashes become ASCII
    assert "217 EUR" in text
    assert "?" in text  # Chinese has no glyph in the core fonts


def test_font_discovery(tmp_path: Path) -> None:
    assert discover([tmp_path]) == FontPlan()
    system = discover()
    if not system.unicode:
        pytest.skip("no Unicode TTF font installed on this machine")
    regular = system.body[""]
    shutil.copy(regular, tmp_path / regular.name)
    shutil.copy(regular, tmp_path / "DroidSansFallbackFull.ttf")
    plan = discover([tmp_path])
    assert plan.body[""].name == regular.name
    assert plan.body["B"] == plan.body[""]  # a missing style reuses the regular face
    assert plan.mono == plan.body  # no monospace family: code uses the body font
    assert plan.fallbacks == ((tmp_path / "DroidSansFallbackFull.ttf", 0),)
    assert render_pdf(parse("# 中文 ok\n\n`code`"), plan=plan).startswith(b"%PDF-")


def test_pdf_survives_tables_fpdf_cannot_lay_out() -> None:
    wide = "|" + "|".join(f"c{i}" for i in range(20)) + "|\n|" + "---|" * 20 + "\n|" + "x|" * 20 + "\n"
    tall = (
        "| k | v |\n|---|---|\n| long | "
        + " ".join(["word"] * 4000)
        + " |\n\n| a | b |\n|---|---|\n| 1 | 2 |\n"
    )
    text = pdf_text(render_report(wide + "\n" + tall, "pdf"))
    assert "c19" in text
    assert "long" in text
    assert "word word" in text


async def test_markdown_export_and_title() -> None:
    assert await export_report("Body [1].", "md", title="My report") == b"# My report\n\nBody [1]."
    assert await export_report("# Own title\n\nBody.", "md", title="Other") == b"# Own title\n\nBody."
    pdf = await export_report("Body only.", "pdf", title="Shown title")
    assert "Shown title" in pdf_text(pdf)
    empty = await export_report("", "pdf")
    assert empty.startswith(b"%PDF-")
    assert docx.Document(io.BytesIO(await export_report("", "docx"))) is not None


def test_download_helpers() -> None:
    assert content_type("pdf") == "application/pdf"
    assert content_type("md") == "text/markdown; charset=utf-8"
    assert content_type("docx").endswith("wordprocessingml.document")
    assert filename("Solar power in 2024: a review!", "pdf") == "solar-power-in-2024-a-review.pdf"
    assert filename("../../etc/passwd", "md") == "etc-passwd.md"
    assert filename(None, "docx") == "report.docx"
    assert filename("太阳能 报告", "pdf") == "太阳能-报告.pdf"
    header = content_disposition("太阳能 报告", "pdf")
    assert header.startswith("attachment; filename=\"report.pdf\"; filename*=UTF-8''")
    assert "%E5%A4%AA" in header
    assert parse_format("markdown") == "md"
    assert parse_format("PDF") == "pdf"
    with pytest.raises(InvalidInput) as err:
        parse_format("exe")
    assert status_of(err.value) == 422 and err.value.code == "unsupported_format"


def test_html_export_escapes_raw_html() -> None:
    from reports.export import render_report

    page = render_report("# Title\n\nText <script>alert(1)</script> [1]\n", "html", "Title").decode()
    assert page.startswith("<!DOCTYPE html>") and "<title>Title</title>" in page
    assert "<h1>Title</h1>" in page and "&lt;script&gt;" in page and "<script>" not in page
    assert content_type("html") == "text/html; charset=utf-8"
