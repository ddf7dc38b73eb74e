"""Research on real-looking documents: faithful structured text, located chunks, answers that name the answer.

Fixtures are generated here: a PDF made with clew's own export code (a running header added to its page
template, soft hyphens that break lines, a table of contents with leader dots, numbered sections in the
outline), an HTML definition list with navigation around it, and a DOCX with headings and a table (also
clew's export). Each point of the feature has its test:

1. conversion: headers/footers, page numbers and TOC lines gone, hyphenation joined, identifiers kept,
   headings as a path, tables and lists kept, definitions keep their term;
2. chunks carry heading path and pages into Qdrant, into citations and into the exports;
3. the offline engine: sentences never cut, context for subjectless passages, no front matter, every
   relevant document drawn on, and a configured model gets the same passages with their locations;
4. the CLI console never wraps paths and ids.
"""

from __future__ import annotations

import io
import random
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from nodes.research.state import Finding
from nodes.research.write import model_report, offline_report, retrieved_docs
from providers import offline
from providers.offline.sentences import passages, split_sentences
from providers.types import SourceDoc
from reports import pdf_render
from reports.export import render_report
from retrieval.extract import extract_docx, extract_html, extract_pdf
from retrieval.knowledge import KnowledgeBase
from retrieval.knowledge.chunking import split_text
from tests.support.knowledge import knowledge_base

RUNNING_HEADER = "Widget Toolkit Reference Manual"
FILLER = " ".join(
    ["The widget layer draws every control on the screen and keeps its state between frames."] * 14
)
HYPHENATED = " ".join(
    [
        "The toolkit handles window man\u00adage\u00adment and input con\u00adfig\u00adu\u00adra\u00adtion "
        "for every application that links it."
    ]
    * 7
)
MANUAL = f"""# Widget Toolkit

## Contents

1 Introduction . . . . . . . . . . . . . . . . 1

2 Session functions . . . . . . . . . . . . . . 2

## 1 Introduction

{FILLER}

{HYPHENATED}

## 2 Session functions

{FILLER} {FILLER}

The function widget_open2tree opens a session and returns WIDGET_OK on success. The default timeout is
30 seconds, and the maximum is
120 seconds.

| Status | Meaning |
| --- | --- |
| WIDGET_OK | the session is open |
| WIDGET_BUSY | another session holds the screen |
"""


def _header(self: Any) -> None:
    self.set_y(6)
    self.set_font(self.footer_font, "", 8)
    self.cell(0, 5, RUNNING_HEADER, align="C")
    self.set_y(18)


@pytest.fixture(scope="module")
def manual_pdf() -> Iterator[bytes]:
    """The manual exported by clew's PDF export, with a running header on every page."""
    original = pdf_render._ReportPDF.header
    pdf_render._ReportPDF.header = _header  # type: ignore[method-assign]
    try:
        yield render_report(MANUAL, "pdf")
    finally:
        pdf_render._ReportPDF.header = original  # type: ignore[method-assign]


GROUPS_HTML = b"""<html><head><title>Users and Groups</title></head><body>
<div class="navheader"><a href="index.html">Prev</a> Next: <a href="b.html">Groups</a></div>
<div class="toc"><ul><li><a href="#users">1. Users</a></li><li><a href="#groups">2. Groups</a></li></ul></div>
<p>Copyright 2024 The Example Authors. This document is free; you can redistribute it and/or modify it.</p>
<h1>Users and Groups</h1>
<h2 id="groups">2. Groups</h2>
<p>Each group below is created when the base system is installed.</p>
<dl>
<dt>adm</dt><dd><p>Group adm is used for system monitoring tasks.
Members of this group can read many log files in /var/log.</p></dd>
<dt>dialout</dt><dd><p>Full and direct access to serial ports.
Members of this group can reconfigure the modem.</p></dd>
</dl>
<div class="navfooter">Next: Groups, Up: Index</div>
</body></html>"""

DOCX_MD = """# Glacier handbook

## Landforms

A cirque is a bowl carved by ice at the head of a valley.

### Moraines

A terminal moraine marks the furthest advance of a glacier.

- lateral moraines lie along the sides
- medial moraines join two glaciers

| Landform | Made by |
| --- | --- |
| Cirque | plucking |
| Moraine | deposition |
"""


# --- 1. conversion -------------------------------------------------------------------------------------


def test_pdf_furniture_hyphenation_toc_and_identifiers(manual_pdf: bytes) -> None:
    extracted = extract_pdf(manual_pdf)
    text = extracted.text
    assert RUNNING_HEADER not in text  # the running header is gone from every page
    assert " / " not in text  # so is the export's "1 / 3" page footer
    assert ". . . ." not in text  # table of contents lines
    assert "management" in text and "configuration" in text  # soft hyphens at line ends joined
    assert "man-" not in text and "\ufffe" not in text and "\u00ad" not in text
    assert "widget_open2tree" in text and "WIDGET_OK" in text  # identifiers kept exactly
    assert extracted.page_starts is not None and len(extracted.page_starts) >= 2


def test_pdf_headings_pages_and_tables(manual_pdf: bytes) -> None:
    extracted = extract_pdf(manual_pdf)
    blocks = extracted.blocks or []
    session = [b for b in blocks if "widget_open2tree" in b.text]
    assert session and session[0].headings == ("Widget Toolkit", "2 Session functions")
    assert session[0].page == 2 and session[0].end_page == 2  # its own paragraph (the gap above it)
    intro = [b for b in blocks if "management" in b.text]
    assert intro and intro[0].headings[-1] == "1 Introduction" and intro[0].page == 1
    # The sentence broken over a line keeps going: "the maximum is\n120 seconds."
    assert any("the maximum is 120 seconds." in " ".join(b.text.split()) for b in blocks)


def test_pdf_ruled_tables_stay_tables(manual_pdf: bytes) -> None:
    """The export's ruled table comes back as one Markdown table block in its section, not as loose lines."""
    blocks = extract_pdf(manual_pdf).blocks or []
    tables = [b for b in blocks if b.kind == "table"]
    assert len(tables) == 1
    table = tables[0]
    assert table.headings == ("Widget Toolkit", "2 Session functions") and table.page is not None
    assert table.text.splitlines() == [
        "| Status | Meaning |",
        "| --- | --- |",
        "| WIDGET_OK | the session is open |",
        "| WIDGET_BUSY | another session holds the screen |",
    ]
    # its cells are nowhere else as text lines
    assert not any("WIDGET_BUSY" in b.text for b in blocks if b.kind != "table")
    chunks = split_text(extract_pdf(manual_pdf))
    assert any("| WIDGET_BUSY | another session holds the screen |" in c.text for c in chunks)


def test_html_definition_list_keeps_terms_and_drops_navigation() -> None:
    extracted = extract_html(GROUPS_HTML)
    blocks = extracted.blocks or []
    assert extracted.title == "Users and Groups"
    terms = {b.term: b for b in blocks if b.term}
    assert set(terms) == {"adm", "dialout"}
    adm = terms["adm"]
    assert adm.text.startswith("adm\n:   Group adm is used") and "/var/log" in adm.text
    assert adm.headings == ("Users and Groups", "2. Groups")
    joined = "\n".join(b.text for b in blocks)
    assert "Prev" not in joined and "Up: Index" not in joined and "1. Users" not in joined  # navigation, TOC
    front = [b for b in blocks if b.front_matter]
    assert front and "Copyright" in front[0].text  # kept for search, flagged so it is never quoted


def test_docx_headings_lists_and_tables() -> None:
    extracted = extract_docx(render_report(DOCX_MD, "docx"))
    blocks = extracted.blocks or []
    moraine = next(b for b in blocks if "terminal moraine" in b.text)
    assert moraine.headings == ("Glacier handbook", "Landforms", "Moraines")
    assert any(b.kind == "list" and "lateral moraines" in b.text for b in blocks)
    table = next(b for b in blocks if b.kind == "table")
    assert "| Cirque | plucking |" in table.text


# --- 2. located chunks, citations, exports -------------------------------------------------------------


@pytest.fixture(scope="module")
async def located_kb(
    tmp_path_factory: pytest.TempPathFactory, manual_pdf: bytes
) -> AsyncIterator[KnowledgeBase]:
    async with knowledge_base("clew_documents", tmp_path_factory.mktemp("documents-kb")) as kb:
        await kb.ingest_file("ann", "widget-manual.pdf", manual_pdf, background=False)
        await kb.ingest_file("ann", "groups.html", GROUPS_HTML, background=False)
        yield kb


async def test_chunks_carry_heading_path_and_pages_into_the_store(located_kb: KnowledgeBase) -> None:
    hits = await located_kb.search("ann", "widget_open2tree session WIDGET_OK", k=3)
    top = hits[0]
    assert "widget_open2tree" in top.text
    assert top.metadata["headings"] == ["Widget Toolkit", "2 Session functions"]
    assert 2 in top.metadata["pages"]
    assert top.metadata["page"] == top.metadata["pages"][0]
    # A question naming only the section's heading still finds it (headings are indexed with the text).
    by_heading = await located_kb.search("ann", "session functions", k=5)
    assert any("widget_open2tree" in h.text for h in by_heading)
    # A definition's description is stored with its term.
    groups = await located_kb.search("ann", "read log files /var/log", k=1)
    assert "adm\n:   Group adm is used" in groups[0].text


async def test_citations_and_exports_show_page_and_section(located_kb: KnowledgeBase) -> None:
    question = "What does widget_open2tree return on success?"
    hits = await located_kb.search("ann", question, k=4)
    finding = Finding(index=0, query=question, docs=[h.to_source() for h in hits])
    finding.learnings = offline.summarize(question, finding.docs, 4).sentences
    docs = retrieved_docs([finding])
    located = next(d for d in docs if "widget_open2tree" in d.text)
    assert "widget-manual.pdf" in located.title and "§2 Session functions" in located.title
    assert f"p. {located.metadata['page']}" in located.title or "pp. " in located.title
    assert located.metadata["location"] and located.metadata["document_id"] in located.id  # DOC#sN
    report, numbered = offline_report(question, [finding])
    assert "§2 Session functions" in report.split("## Sources")[1]
    entry = next(n for n in numbered if "widget_open2tree" in n.excerpt)
    assert entry.metadata["section"] == "2 Session functions" and entry.metadata["location"]
    assert "WIDGET_OK" in report.split("## Sources")[0]
    # The exports show the same locations: markdown, PDF (read back) and DOCX (read back).
    assert "§2 Session functions" in render_report(report, "md").decode()
    assert "§2 Session functions" in extract_pdf(render_report(report, "pdf")).text
    assert "§2 Session functions" in extract_docx(render_report(report, "docx")).text


def _pump_manual() -> bytes:
    """One section over two pages: varied filler on page 1, the answer on page 2."""
    rng = random.Random(7)
    parts = "cover gasket flange seal housing bracket spring shaft bearing washer impeller casing rotor".split()
    verbs = "holds guides supports carries protects aligns locks centres".split()
    filler = "\n\n".join(
        " ".join(f"The {rng.choice(parts)} {rng.choice(verbs)} the {rng.choice(parts)}." for _ in range(4))
        for _ in range(26)
    )
    return render_report(
        f"# Pump manual\n\n## 3 Housing and valves\n\n{filler}\n\n"
        "The relief valve opens at a pressure of 8 bar and closes again at 6 bar.\n",
        "pdf",
    )


async def test_a_citation_names_the_page_of_the_sentence_it_quotes(located_kb: KnowledgeBase) -> None:
    """A section over pp. 1–2 whose quoted sentence is on p. 2 is cited "p. 2", not "pp. 1–2"."""
    await located_kb.ingest_file("pia", "pump-manual.pdf", _pump_manual(), background=False)
    question = "At what pressure does the relief valve open?"
    # two searches of one research (the question, then a follow-up) bring chunks of the section from both pages
    hits = await located_kb.search("pia", question, k=4)
    hits += [h for h in await located_kb.search("pia", "shaft cover gasket rotor", k=4) if h not in hits]
    assert {p for h in hits for p in h.metadata["pages"]} == {1, 2}
    finding = Finding(index=0, query=question, docs=[h.to_source() for h in hits])
    finding.learnings = offline.summarize(question, finding.docs, 1).sentences
    assert "8 bar" in finding.learnings[0].text
    section = retrieved_docs([finding])
    assert len(section) == 1 and section[0].metadata["pages"] == [1, 2]  # before: the section's range
    report, numbered = offline_report(question, [finding], summary_sentences=1, sentences_per_section=1)
    sources = report.split("## Sources")[1]
    assert "pump-manual.pdf" in sources and "p. 2" in sources and "pp. 1" not in sources
    assert numbered[0].metadata["page"] == 2 and "p. 2" in numbered[0].title


def _fleet_manual() -> bytes:
    """A handbook whose table (vessels, speeds, crews) is on page 2, after a page of prose."""
    filler = " ".join(["The reference fleet was assembled over several seasons and audited by a team."] * 6)
    prose = "\n\n".join([filler] * 7)
    return render_report(
        f"# Harbor Fleet Handbook\n\n## Operations\n\n{prose}\n\n## Vessel specifications\n\n"
        "The table below lists each vessel in the fleet with its maximum speed and crew size.\n\n"
        "| Vessel | Max speed (knots) | Crew | Home port |\n|---|---|---|---|\n| Albatross | 18 | 12 | Brest |\n"
        "| Petrel | 31 | 5 | Saint-Malo |\n| Gannet | 15 | 20 | Cherbourg |\n\n"
        "Speeds were measured in calm water at full load.\n",
        "pdf",
    )


async def test_a_question_about_a_table_is_answered_by_its_row(located_kb: KnowledgeBase) -> None:
    """QA: the offline research quoted "The table below lists …" and never the table (its branches dropped
    every table line as not prose), so the answer, 31 knots, was missing."""
    from nodes.research.prose import prose_text

    await located_kb.ingest_file("tia", "fleet.pdf", _fleet_manual(), background=False)
    question = "What is the maximum speed of the Petrel?"
    hits = await located_kb.search("tia", question, k=4)
    # as a research branch without a model: the offline engine reads each document's prose
    docs = [d.model_copy(update={"text": prose_text(d.text)}) for d in (h.to_source() for h in hits)]
    finding = Finding(index=0, query=question, docs=docs)
    finding.learnings = offline.summarize(question, docs, 3).sentences
    report, _ = offline_report(question, [finding], summary_sentences=3, sentences_per_section=1)
    assert "Vessel: Petrel; Max speed (knots): 31; Crew: 5; Home port: Saint-Malo." in report, report
    sources = report.split("## Sources")[1]
    assert "fleet.pdf" in sources and "p. 2" in sources, sources


# --- 3. the offline engine ---------------------------------------------------------------------------


def test_sentences_are_never_cut() -> None:
    text = (
        "The default priority value is 50, and the maximum is\n100. Use a value (e.g. 80) when unsure.\n"
        "Call asn1_parser2tree() first. It returns ASN1_SUCCESS.\n- a list item.\n1. a numbered item"
    )
    assert split_sentences(text) == [
        "The default priority value is 50, and the maximum is 100.",
        "Use a value (e.g. 80) when unsure.",
        "Call asn1_parser2tree() first.",
        "It returns ASN1_SUCCESS.",
        "- a list item.",
        "1. a numbered item",
    ]


def test_passages_know_their_term_and_heading() -> None:
    text = "## Groups\n\nadm\n:   Group adm is used for monitoring. Members of this group can read logs."
    assert passages(text) == [
        ("Group adm is used for monitoring.", "adm", "Groups"),
        ("Members of this group can read logs.", "adm", "Groups"),
    ]


def test_a_sentence_leaning_on_the_one_before_is_quoted_with_it() -> None:
    """"This will be either …" is no answer alone: it stays joined to the sentence it continues (in its
    paragraph only), so the values it lists are quoted with their subject."""
    text = (
        "ffi_prep_cif returns a libffi status code, of type ffi_status. This will be either FFI_OK if "
        "everything worked properly; FFI_BAD_TYPEDEF if one of the ffi_type objects is incorrect.\n\n"
        "It is a new paragraph."
    )
    assert [p[0] for p in passages(text)] == [
        "ffi_prep_cif returns a libffi status code, of type ffi_status. This will be either FFI_OK if "
        "everything worked properly; FFI_BAD_TYPEDEF if one of the ffi_type objects is incorrect.",
        "It is a new paragraph.",
    ]
    summary = offline.summarize(
        "Which status values does ffi_prep_cif report?", [SourceDoc(id="b", title="basics", text=text)], 1
    )
    assert "FFI_BAD_TYPEDEF" in summary.sentences[0].text


def test_quoted_passages_get_their_subject_and_front_matter_is_never_quoted() -> None:
    groups = SourceDoc(
        id="g",
        title="groups",
        text="adm\n:   Members of this group can read many log files in /var/log.",
        metadata={"document_id": "d1", "headings": ["2. Groups"]},
    )
    func = SourceDoc(
        id="f",
        title="manual",
        text="It returns WIDGET_OK when the session was opened successfully.",
        metadata={"document_id": "d2", "headings": ["widget_open2tree"]},
    )
    legal = SourceDoc(
        id="l",
        title="manual",
        text="Members of this group can read the log files of the whole system, says the licence.",
        metadata={"document_id": "d2", "front_matter": True},
    )
    notice = SourceDoc(
        id="n",
        title="notes",
        text="Copyright 2024 Example. Log files in /var/log can be read by members of the adm group only.",
        metadata={"document_id": "d3"},
    )
    summary = offline.summarize(
        "Which group can read log files in /var/log?", [groups, func, legal, notice], 4
    )
    texts = [s.text for s in summary.sentences]
    assert "adm: Members of this group can read many log files in /var/log." in texts
    assert not any("licence" in t or "Copyright" in t for t in texts)
    session = offline.summarize("What does widget_open2tree return?", [func], 2)
    assert (
        session.sentences[0].text
        == "widget_open2tree: It returns WIDGET_OK when the session was opened successfully."
    )


def test_report_draws_on_every_relevant_document() -> None:
    main = SourceDoc(
        id="a",
        title="a",
        text=" ".join(
            f"The lighthouse lamp burned oil number {i} and the lighthouse keepers logged every lamp change."
            for i in range(8)
        ),
        metadata={"document_id": "A"},
    )
    second = SourceDoc(
        id="b",
        title="b",
        text="The lighthouse lamp was electrified in 1987 by the harbour board.",
        metadata={"document_id": "B"},
    )
    third = SourceDoc(
        id="c",
        title="c",
        text="Keepers trimmed the lighthouse lamp wick every four hours.",
        metadata={"document_id": "C"},
    )
    summary = offline.summarize("lighthouse lamp history", [main, second, third], 4)
    assert {s.source_ids[0] for s in summary.sentences} == {"a", "b", "c"}


class _RecordingModel:
    def __init__(self) -> None:
        self.prompts: list[Any] = []

    async def ainvoke(self, prompt: Any, config: Any = None) -> Any:
        self.prompts.append(prompt)

        class _Reply:
            content = "# Report\n\nwidget_open2tree returns WIDGET_OK [1]."

        return _Reply()


async def test_a_model_gets_the_passages_with_their_locations(located_kb: KnowledgeBase) -> None:
    question = "What does widget_open2tree return on success?"
    hits = await located_kb.search("ann", question, k=2)
    finding = Finding(index=0, query=question, docs=[h.to_source() for h in hits])
    finding.learnings = offline.summarize(question, finding.docs, 3).sentences
    model = _RecordingModel()
    markdown, numbered = await model_report(model, question, [finding], {})
    prompt = "\n".join(str(m.content) for m in model.prompts[0])
    assert "§2 Session functions" in prompt and "widget-manual.pdf" in prompt
    assert "§2 Session functions" in markdown.split("## Sources")[1]
    assert numbered[0].metadata["location"]


# --- 5. the CLI ----------------------------------------------------------------------------------------


def test_cli_console_never_wraps_paths_and_ids() -> None:
    from cli.output import terminal

    buf = io.StringIO()
    console = terminal(file=buf, width=30)
    path = Path("/very/long/directory/name/that/is/longer/than/the/terminal/report-0123456789.md")
    console.print(f"Report: [bold]{path}[/]")
    console.print("Thread: [bold]0f9d6a1e-3b8c-4c1e-9d55-6f6f7b1f2a3c[/]")
    lines = buf.getvalue().splitlines()
    assert f"Report: {path}" in lines
    assert "Thread: 0f9d6a1e-3b8c-4c1e-9d55-6f6f7b1f2a3c" in lines


def test_split_text_without_blocks_still_pages() -> None:
    from retrieval.extract import ExtractedText

    chunks = split_text(
        ExtractedText(text="a" * 50 + "\n\n" + "b" * 50, page_starts=[0, 52]), chunk_size=60, chunk_overlap=0
    )
    assert [c.pages for c in chunks] == [[1], [2]]


# --- 1b. the other formats markitdown covers ---------------------------------------------------------


def _xlsx() -> bytes:
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "Glaciers"
    sheet.append(["Glacier", "Length km"])
    sheet.append(["Aletsch", 22.6])
    buf = io.BytesIO()
    book.save(buf)
    return buf.getvalue()


def _pptx() -> bytes:
    from pptx import Presentation

    deck = Presentation()
    slide = deck.slides.add_slide(deck.slide_layouts[1])
    slide.shapes.title.text = "Moraine types"
    slide.placeholders[1].text = "A terminal moraine marks the furthest advance of a glacier."
    buf = io.BytesIO()
    deck.save(buf)
    return buf.getvalue()


def _epub() -> bytes:
    import zipfile

    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("mimetype", "application/epub+zip", compress_type=zipfile.ZIP_STORED)
        z.writestr(
            "META-INF/container.xml",
            '<?xml version="1.0"?><container version="1.0" xmlns="urn:oasis:names:tc:opendocument:xmlns:container">'
            '<rootfiles><rootfile full-path="OEBPS/content.opf" media-type="application/oebps-package+xml"/>'
            "</rootfiles></container>",
        )
        z.writestr(
            "OEBPS/content.opf",
            '<?xml version="1.0"?><package xmlns="http://www.idpf.org/2007/opf" version="3.0" unique-identifier="id">'
            '<metadata xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:identifier id="id">x</dc:identifier>'
            "<dc:title>Ice book</dc:title><dc:language>en</dc:language></metadata>"
            '<manifest><item id="c1" href="c1.xhtml" media-type="application/xhtml+xml"/></manifest>'
            '<spine><itemref idref="c1"/></spine></package>',
        )
        z.writestr(
            "OEBPS/c1.xhtml",
            '<?xml version="1.0"?><html xmlns="http://www.w3.org/1999/xhtml"><head><title>Cirques</title></head>'
            "<body><h1>Cirques</h1><p>A cirque is a bowl carved by ice at the head of a valley.</p></body></html>",
        )
    return buf.getvalue()


@pytest.mark.parametrize(
    ("name", "make", "phrase", "heading"),
    [
        ("glaciers.xlsx", _xlsx, "| Aletsch | 22.6 |", "Glaciers"),
        ("moraines.pptx", _pptx, "terminal moraine marks", "Moraine types"),
        ("ice.epub", _epub, "bowl carved by ice", "Cirques"),
        ("glaciers.csv", lambda: b"Glacier,Length km\nAletsch,22.6\n", "| Aletsch | 22.6 |", None),
    ],
)
def test_office_formats_become_structured_text(
    name: str, make: Any, phrase: str, heading: str | None
) -> None:
    from retrieval.knowledge.filetypes import EXTRACTORS, detect_kind

    data = make()
    extracted = EXTRACTORS[detect_kind(name, data)](data)
    block = next(b for b in extracted.blocks or [] if phrase in b.text)
    if heading is not None:
        assert heading in block.headings


class _JsonModel:
    """Answers every call with one learning citing document [1], recording the prompts."""

    def __init__(self) -> None:
        self.prompts: list[str] = []

    async def ainvoke(self, messages: Any, config: Any = None) -> Any:
        self.prompts.append("\n".join(str(m.content) for m in messages))

        class _Reply:
            content = '{"learnings": [{"text": "widget_open2tree returns WIDGET_OK.", "sources": [1]}]}'

        return _Reply()


async def test_branch_extraction_gives_the_model_located_passages_without_front_matter(
    located_kb: KnowledgeBase,
) -> None:
    from nodes.research.branch import _extract_with_model

    hits = await located_kb.search("ann", "widget_open2tree WIDGET_OK session", k=3)
    docs = [h.to_source() for h in hits]
    legal = SourceDoc(
        id="legal", title="manual", text="Copyright 2024 Widget Authors.", metadata={"front_matter": True}
    )
    model = _JsonModel()
    learnings, _ = await _extract_with_model(
        model, "widget_open2tree", "What does it return?", [legal, *docs], 0, None
    )
    prompt = model.prompts[0]
    assert "Copyright 2024 Widget Authors" not in prompt  # front matter is not evidence
    assert "[1] " in prompt and "§2 Session functions" in prompt  # each passage labelled with its location
    assert learnings[0].source_ids == [docs[0].id]  # numbers map back to the passages the model saw
