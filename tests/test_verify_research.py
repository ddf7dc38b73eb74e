"""Verification of issue 16 (research on real documents) as the issue tried it: a new user's
``clew research --source local --docs DIR`` on a narrow terminal, over generated fixtures (a PDF with a running
header, hyphenation and a table of contents made with clew's own export, an HTML definition list with
navigation, a DOCX with headings, a list and a table), with plain factual questions.

Shown here, through the real command and the report file it writes:

- the report's path and the thread id are printed whole even at ``COLUMNS=30`` (point 5);
- the answer names the answer: the function and its return value, the group (term) with its description
  (points 1–3); no running header, table-of-contents line or navigation text is quoted;
- every citation names its document with page and section (point 2);
- a question spanning two documents draws on both (point 3: diversity across sources);
- list items quoted from a document stay separate items (point 1: lists kept as lists).

Plus the converters' structure for HTML tables and lists, Markdown headings and plain text (point 1).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from reports import pdf_render
from reports.export import render_report
from retrieval.knowledge.filetypes import EXTRACTORS, detect_kind
from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT
from tests.test_research_documents import DOCX_MD, GROUPS_HTML, MANUAL, RUNNING_HEADER, _header

pytestmark = pytest.mark.slow

UUID = re.compile(r"^Thread: ([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})$", re.M)


@pytest.fixture(scope="module")
def docs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("verify-docs")
    original = pdf_render._ReportPDF.header
    pdf_render._ReportPDF.header = _header  # type: ignore[method-assign]
    try:
        (folder / "widget-manual.pdf").write_bytes(render_report(MANUAL, "pdf"))
    finally:
        pdf_render._ReportPDF.header = original  # type: ignore[method-assign]
    (folder / "groups.html").write_bytes(GROUPS_HTML)
    (folder / "glacier-handbook.docx").write_bytes(render_report(DOCX_MD, "docx"))
    return folder


@pytest.fixture(scope="module")
def cli_db() -> Iterator[str]:
    url = create_database("clew_verify_research")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def work(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("verify-cli")


def research(question: str, output: Path, cli_db: str, docs: Path, work: Path) -> tuple[str, str]:
    """Run ``clew research`` offline on a 30-column terminal; (stdout, the report's text)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEW_")}
    env.update({"DATABASE_URL": cli_db, "CLEW_DATA_DIR": str(work / "data"), "PYTHONPATH": str(ROOT),
                "PYTHONUNBUFFERED": "1", "COLUMNS": "30"})
    out = subprocess.run(
        [sys.executable, "-m", "cli.main", "research", question, "--source", "local", "--docs", str(docs),
         "--yes", "--output", str(output)],
        cwd=work, env=env, capture_output=True, text=True, timeout=300,
    )
    assert out.returncode == 0, out.stdout + out.stderr
    return out.stdout, output.read_text()


def summary_and_sources(report: str) -> tuple[str, list[str]]:
    body, _, sources = report.partition("## Sources")
    return body, [line for line in sources.splitlines() if line.startswith("- [")]


def test_cli_answers_name_the_answer_with_page_and_section(cli_db: str, docs: Path, work: Path) -> None:
    long_dir = work / "a-rather-long-directory-name" / "that-is-wider-than-the-terminal" / "reports"
    report_path = long_dir / "widget-open2tree-return-value-report.md"
    stdout, report = research("What does widget_open2tree return on success?", report_path, cli_db, docs, work)
    # point 5: the path and the id come out whole, on their own line, at 30 columns
    assert f"Report: {report_path}" in stdout.splitlines(), stdout
    assert UUID.search(stdout), stdout
    body, sources = summary_and_sources(report)
    cited = [s for s in re.split(r"(?<=\])\s+", body) if "widget_open2tree" in s]
    assert cited and "WIDGET_OK" in cited[0] and re.search(r"\[\d+\]", cited[0])  # named, in a cited sentence
    assert RUNNING_HEADER not in report and ". . ." not in report  # no header, no TOC line quoted
    manual = [s for s in sources if "widget-manual.pdf" in s]
    assert manual and "§2 Session functions" in manual[0] and re.search(r"\bpp?\. \d", manual[0]), sources

    stdout, report = research("Which group can read log files in /var/log?", work / "groups.md", cli_db, docs,
                              work)
    body, sources = summary_and_sources(report)
    assert re.search(r"adm: Members of this group can read many log files in /var/log\. \[\d+\]", body), body
    assert not any(word in report for word in ("Prev", "Copyright", "Up: Index"))  # navigation, front matter
    groups = [s for s in sources if "groups.html" in s]
    assert groups and "§2. Groups" in groups[0], sources


def test_cli_report_draws_on_each_relevant_document(cli_db: str, docs: Path, work: Path) -> None:
    _, report = research("What is a terminal moraine and what does the toolkit handle?", work / "two.md", cli_db,
                         docs, work)
    body, sources = summary_and_sources(report)
    assert any("glacier-handbook.docx" in s for s in sources) and any("widget-manual.pdf" in s for s in sources)
    assert "terminal moraine marks the furthest advance" in body
    assert "window management and input configuration" in body  # hyphenation joined in the quote
    assert "§" in next(s for s in sources if "glacier-handbook.docx" in s)  # the DOCX's section


def test_cli_quotes_list_items_as_separate_items(cli_db: str, docs: Path, work: Path) -> None:
    _, report = research("Which moraines lie along the sides and which join two glaciers?", work / "list.md",
                         cli_db, docs, work)
    body, _ = summary_and_sources(report)
    assert "lateral moraines lie along the sides" in body, body
    # two list items are two items, never one run-on sentence
    assert "lie along the sides medial moraines" not in body, body


def test_html_tables_and_lists_markdown_headings_and_plain_text() -> None:
    html = (b"<html><head><title>Ports</title></head><body><h1>Ports</h1><h2>Serial</h2>"
            b"<table><tr><th>Device</th><th>Group</th></tr><tr><td>ttyS0</td><td>dialout</td></tr></table>"
            b"<ul><li>first item</li><li>second item</li></ul></body></html>")
    blocks = EXTRACTORS[detect_kind("ports.html", html)](html).blocks or []
    table = next(b for b in blocks if "ttyS0" in b.text)
    assert table.kind == "table" and "| ttyS0 | dialout |" in table.text
    assert table.headings == ("Ports", "Serial")
    items = next(b for b in blocks if "first item" in b.text)
    assert items.kind == "list" and len([ln for ln in items.text.splitlines() if "item" in ln]) == 2

    md = b"# Guide\n\n## Install\n\n### On Debian\n\nRun apt-get install foo_bar2.\n"
    blocks = EXTRACTORS[detect_kind("guide.md", md)](md).blocks or []
    step = next(b for b in blocks if "foo_bar2" in b.text)
    assert step.headings == ("Guide", "Install", "On Debian") and "foo_bar2" in step.text

    txt = b"Plain notes.\n\nThe value of max_conn_count is 64.\n"
    extracted = EXTRACTORS[detect_kind("notes.txt", txt)](txt)
    assert "max_conn_count is 64." in extracted.text


def test_branch_prose_keeps_the_number_that_answers() -> None:
    """The offline branch cleans a document's text before quoting it; a line starting with the number that
    ends the previous line's sentence is not a numbered list item (the issue's "the maximum is [1]")."""
    from nodes.research.prose import prose_text
    from providers.offline.sentences import passages

    text = "The default priority value is 50, and the maximum is\n100. Use a value when unsure.\n\n* one item\n* two"
    quoted = [p[0] for p in passages(prose_text(text))]
    assert quoted[:2] == ["The default priority value is 50, and the maximum is 100.", "Use a value when unsure."]
    assert quoted[2:] == ["one item", "two"]  # list items stay items
    steps = [p[0] for p in passages(prose_text("Install it:\n1. **Fetch.** Download the file.\n2. unpack it"))]
    assert steps == ["Install it:", "Download the file.", "unpack it"]  # numbered items too, labels dropped


def test_numbered_list_items_are_sentences_of_their_own() -> None:
    """A numbered list is items, whatever the line before it ends with; "1." is a marker, not a sentence."""
    from providers.offline.sentences import split_sentences

    assert split_sentences("Steps\n1. First step\n2. Second step") == ["Steps", "1. First step", "2. Second step"]
    assert split_sentences("Intro.\n1. First step\n2. Second step") == ["Intro.", "1. First step", "2. Second step"]
    assert split_sentences("the maximum is\n100. Use it.") == ["the maximum is 100.", "Use it."]
