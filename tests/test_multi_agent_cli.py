"""`clew research --mode multi_agent` as a real process over a local corpus (offline, `--yes` accepts the
outline), and the terminal dialogue of the outline review (accept / edit / feedback) with scripted answers."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from cli.research import interrupts as cli_research
from engine.interrupts import answer_errors, approval_schema
from nodes.multi_agent.state import OUTLINE_SCHEMA
from tests.support.pg import create_database, drop_database
from tests.support.research import QUESTION, write_corpus
from tests.test_research_cli import REPORT, THREAD, _env, clew

OUTLINE = {"title": "Velmora", "sections": [{"title": "Keepers", "brief": "who kept the light"}]}


def payload() -> dict[str, Any]:
    return {
        "type": "clew.interrupt",
        "kind": "approval",
        "message": "Outline for: ...",
        "options": ["approve", "edit", "feedback"],
        "schema": approval_schema(("approve", "edit", "feedback"), OUTLINE_SCHEMA),
        "data": {"field": "outline", "outline": OUTLINE, "revision": 0, "max_revisions": 3},
    }


@pytest.fixture
def answers(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    queue: list[str] = []

    def ask(prompt: str, *args: Any, default: Any = None, **kwargs: Any) -> str:
        value = queue.pop(0)
        return default if value == "<default>" else value

    monkeypatch.setattr(cli_research.Prompt, "ask", staticmethod(ask))
    return queue


@pytest.mark.parametrize(
    ("typed", "expected"),
    [
        (["approve"], {"decision": "approve"}),
        (["feedback", "", "More on the lamp"], {"decision": "feedback", "comment": "More on the lamp"}),
        (
            ["edit", "The Velmora light", "The lamp: oil, paraffin, electricity", "Keepers", ""],
            {
                "decision": "edit",
                "edited": {
                    "title": "The Velmora light",
                    "sections": [
                        {"title": "The lamp", "brief": "oil, paraffin, electricity"},
                        {"title": "Keepers", "brief": ""},
                    ],
                },
            },
        ),
        (["edit", "<default>", ""], {"decision": "edit", "edited": OUTLINE}),
    ],
    ids=["accept", "feedback", "edit", "edit-nothing"],
)
def test_outline_review_on_a_terminal(answers: list[str], typed: list[str], expected: dict[str, Any]) -> None:
    answers.extend(typed)
    value = payload()
    answer = cli_research.ask_terminal(value, Console(record=True))
    assert answer == expected
    assert answer_errors(value["schema"], answer) == []
    assert answers == []


@pytest.fixture
def cli_db() -> Iterator[str]:
    url = create_database("clew_multi_agent_cli")
    yield url
    drop_database(url)


@pytest.mark.slow
def test_multi_agent_research_from_the_cli_offline(cli_db: str, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    env = _env(cli_db, tmp_path / "data")
    args = ["research", QUESTION, "--mode", "multi_agent", "--docs", str(docs), "--sections", "2", "--yes"]
    out = clew(args, env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    thread, report = THREAD.search(out.stdout), REPORT.search(out.stdout)
    assert thread and report, out.stdout
    text = (tmp_path / report.group(1)).read_text()
    assert text.startswith("# What is the history of the Velmora lighthouse?")
    assert "## Contents" in text and "## Introduction" in text and text.count("## Sources") == 1
    assert (
        len(re.findall(r"^## ", text, flags=re.M)) == 2 + 2 + 2
    )  # contents, intro, 2 sections, end, sources
    assert "offline extractive engine" in out.stdout and "Citations checked" in out.stdout
    assert "§1/2" in out.stdout and "§2/2" in out.stdout
    listed = clew(["threads"], env, tmp_path)
    assert "multi_agent" in listed.stdout
