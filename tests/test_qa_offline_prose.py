"""The offline engine's reports read well: no sentence is cut by an arrow, no run-in label is quoted, no key
phrase is called a question.

Found by running the README's quickstart (``clew research "How does clew survive a crash?" --source local
--docs docs``): the report's summary opened with the fragment "(graphs/content_pipeline.py, registered as
…) whose stages are nodes …", because ``nodes.research.prose.prose_text`` dropped the whole line
"**topic → research → … → done**. It is one LangGraph graph" as a diagram (it holds arrows), cutting the
sentence that continues on the next line; and the multi-agent report's conclusion was the bold run-in label
"Human review of the outline." of a list item, quoted as if it were a sentence.
"""

from __future__ import annotations

from pathlib import Path

from nodes.research.prose import prose_text
from providers.offline import write_report
from providers.offline.sentences import split_sentences
from providers.types import SourceDoc

ROOT = Path(__file__).resolve().parent.parent

PARAGRAPH = (
    "The `content_pipeline` mode produces an article in five human-steered stages:\n"
    "**topic → research → writing → styling → review → done**. It is one LangGraph graph\n"
    "(`graphs/content_pipeline.py`, registered as `content_pipeline` in `langgraph.json`) whose stages are nodes\n"
    "and whose human decisions are `interrupt()`s, so a session is an ordinary clew thread: it is checkpointed to\n"
    "Postgres, survives a crash of the server or a worker, streams over SSE and can be resumed until it expires.\n"
)

RUN_IN = (
    "3. **Human review of the outline.** When `research.human_review` is on or unset, the research stops with\n"
    "   an `approval` interrupt showing the outline.\n"
    "4. **Section teams:** Each section gets its own `Send` branch.\n"
)

DIAGRAM = (
    "Before the diagram the text ends here.\n"
    "\n"
    "START ─(initial stage)─┬─▶ discover_topics ─▶ choose_topic\n"
    "                       └─▶ start_research ─▶ plan\n"
    "\n"
    "After the diagram the text goes on.\n"
)


def test_a_line_with_arrows_in_prose_is_kept() -> None:
    sentences = split_sentences(prose_text(PARAGRAPH))
    assert any(s.startswith("It is one LangGraph graph (graphs/content_pipeline.py") for s in sentences), sentences
    assert not any(s.startswith("(") for s in sentences), sentences


def test_box_drawing_is_still_dropped() -> None:
    text = prose_text(DIAGRAM)
    assert "discover_topics" not in text and "start_research" not in text
    assert "Before the diagram the text ends here." in text and "After the diagram the text goes on." in text


def test_symbol_soup_is_dropped() -> None:
    assert prose_text("▶ ◀ → ← ▲\nReal words here.") == "Real words here."


def test_run_in_labels_are_not_sentences() -> None:
    sentences = split_sentences(prose_text(RUN_IN))
    assert "Human review of the outline." not in sentences, sentences
    assert sentences[0].startswith("When research.human_review is on or unset"), sentences
    assert "Each section gets its own Send branch." in sentences, sentences


def test_offline_report_on_the_quickstart_docs_quotes_whole_sentences() -> None:
    """The quickstart's question over clew's own content-pipeline page: no quoted sentence is a fragment."""
    page = (ROOT / "docs" / "content-pipeline.md").read_text(encoding="utf-8")
    doc = SourceDoc(id="kb:content-pipeline", url="", title="Content pipeline", text=prose_text(page))
    report = write_report("How does clew survive a crash?", [doc])
    body = report.split("## Sources")[0]
    paragraphs = [p for p in body.split("\n\n") if p and not p.startswith(("#", ">"))]
    for p in paragraphs:
        assert not p.lstrip().startswith("("), p
    assert "It is one LangGraph graph" in body or "survives a crash" not in body


def test_offline_follow_ups_are_not_called_questions() -> None:
    """A deep research's offline report listed key phrases ("bare langgraph", "settles run") as "Open
    questions"; they are the searches the sources suggested that the research did not run."""
    from nodes.research.state import Finding
    from nodes.research.write import offline_report
    from providers.types import CitedSentence

    doc = SourceDoc(id="kb:a", url="", title="A", text="Workers renew the lease of a run with a heartbeat.")
    finding = Finding(index=0, query="How are runs leased?", docs=[doc],
                      learnings=[CitedSentence(text="Workers renew the lease of a run with a heartbeat.",
                                               source_ids=["kb:a"])])
    report, _ = offline_report("How are runs leased?", [finding], open_questions=["settles run", "bare langgraph"])
    assert "Open questions" not in report
    assert "## Further searches" in report and "- settles run" in report


def test_an_indented_code_block_is_not_quoted() -> None:
    """docs/research.md shows a terminal session as an indented code block; the multi-agent report quoted
    "$ COLUMNS=60 clew research … --source local --docs /tmp/ex-docs2 --yes -o …" as a sentence."""
    from retrieval.extract import extract_markdown
    from retrieval.knowledge.chunking import split_text

    markdown = (
        "# Example\n\nA fresh knowledge base, no model:\n\n"
        "    $ COLUMNS=60 clew research \"What is the default priority?\" \\\n"
        "        --source local --docs /tmp/ex-docs2 --yes\n"
        "    No model is configured: the report was written by the offline extractive engine.\n\n"
        "The report follows.\n"
    )
    text = "\n\n".join(c.text for c in split_text(extract_markdown(markdown.encode())))
    prose = prose_text(text)
    assert "COLUMNS" not in prose and "No model is configured" not in prose, prose
    assert "A fresh knowledge base, no model:" in prose and "The report follows." in prose


def test_a_table_row_is_quoted_without_its_markup() -> None:
    """A table row quoted from docs/architecture.md kept its backticks ("(its step's checkpoint committed, or
    its `Send` branch's writes saved)"); prose lines lose them, table rows must too."""
    table = (
        "| fault | a **finished** node | see |\n|---|---|---|\n"
        "| worker killed | not run again (its `Send` branch's writes saved) | [recovery](docs/x.md) |\n"
    )
    assert prose_text(table) == "fault: worker killed; a finished node: not run again (its Send branch's writes " \
        "saved); see: recovery."
