"""`clew research`, `clew resume` and `clew threads` as real processes on their own database: the README's
main job over a local corpus, and a CLI research SIGKILLed half-way then resumed to the same report."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import create_database, drop_database
from tests.support.research import QUESTION, WebStub, write_corpus
from tests.support.server import ROOT

pytestmark = pytest.mark.slow

THREAD = re.compile(r"Thread: (\S+)")
STARTED = re.compile(r"Research ([0-9a-f-]{36})")
REPORT = re.compile(r"Report: (\S+)")


@pytest.fixture
def cli_db() -> Iterator[str]:
    url = create_database("clew_research_cli")
    yield url
    drop_database(url)


def _env(db: str, data: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEW_")}
    env.update(
        {
            "DATABASE_URL": db,
            "CLEW_DATA_DIR": str(data),
            "PYTHONPATH": str(ROOT),
            "PYTHONUNBUFFERED": "1",
            "CLEW_LEASE_SECONDS": "2",
            "COLUMNS": "160",
        }
    )
    env.update(extra or {})
    return env


def clew(
    args: list[str], env: dict[str, str], cwd: Path, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "cli.main", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_research_over_local_docs_writes_a_cited_report(cli_db: str, tmp_path: Path) -> None:
    docs = write_corpus(tmp_path / "docs")
    env = _env(cli_db, tmp_path / "data")
    out = clew(["research", QUESTION, "--source", "local", "--docs", str(docs), "--yes"], env, tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    thread = THREAD.search(out.stdout)
    report = REPORT.search(out.stdout)
    assert thread and report, out.stdout
    text = (tmp_path / report.group(1)).read_text()
    assert text.startswith("# What is the history of the Velmora lighthouse?")
    assert "Velmora" in text and "## Sources" in text and "velmora-lighthouse.md" in text
    assert "offline extractive engine" in out.stdout and "Citations checked" in out.stdout
    # a second run reuses the ingested documents
    again = clew(
        [
            "research",
            QUESTION,
            "--mode",
            "deep",
            "--depth",
            "2",
            "--breadth",
            "2",
            "--docs",
            str(docs),
            "--yes",
            "--output",
            "deep.docx",
        ],
        env,
        tmp_path,
    )
    assert again.returncode == 0, again.stdout + again.stderr
    assert "(0 added" in again.stdout and (tmp_path / "deep.docx").stat().st_size > 0
    listed = clew(["threads"], env, tmp_path)
    assert listed.returncode == 0 and thread.group(1) in listed.stdout


def test_a_killed_cli_research_resumes_to_the_same_report(cli_db: str, tmp_path: Path) -> None:
    with WebStub() as web:
        env = _env(cli_db, tmp_path / "data", {**web.env(), "CLEW_SETTING__RESEARCH__CONCURRENCY": "1"})
        ref = clew(["research", QUESTION, "--source", "web", "--yes", "-o", "reference.md"], env, tmp_path)
        assert ref.returncode == 0, ref.stdout + ref.stderr
        web.reset()
        web.hold(from_search=2)
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "cli.main",
                "research",
                QUESTION,
                "--source",
                "web",
                "--yes",
                "-o",
                "crashed.md",
            ],
            cwd=tmp_path,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        try:
            assert proc.stdout is not None
            thread_id = None
            deadline = time.monotonic() + 120
            while thread_id is None and time.monotonic() < deadline:
                line = proc.stdout.readline()
                match = STARTED.search(line)
                thread_id = match.group(1) if match else None
            assert thread_id, "the research never started"
            assert web.held.wait(60), "the second branch never started"
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            web.release()
        assert not (tmp_path / "crashed.md").exists()
        resumed = clew(["resume", thread_id, "--yes", "-o", "crashed.md"], env, tmp_path)
        assert resumed.returncode == 0, resumed.stdout + resumed.stderr
        assert thread_id in resumed.stdout
    assert (tmp_path / "crashed.md").read_text() == (tmp_path / "reference.md").read_text()
    assert web.searches.count(web.searches[0]) == 1  # the finished first branch was not redone


def test_a_blank_question_is_refused_and_creates_nothing(cli_db: str, tmp_path: Path) -> None:
    import psycopg

    env = _env(cli_db, tmp_path / "data")
    done = clew(["research", "   "], env, tmp_path, timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    assert "question is blank" in done.stdout + done.stderr
    with psycopg.connect(cli_db) as conn:
        exists = conn.execute("SELECT to_regclass('threads') IS NOT NULL").fetchone()
        count = conn.execute("SELECT count(*) FROM threads").fetchone() if exists and exists[0] else (0,)
    assert count is not None and count[0] == 0
