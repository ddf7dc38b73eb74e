"""Browser-test helpers: Debian's Chromium driven by Playwright for Python against a real ``clew serve``.

Each step's screenshot goes under ``test-results/ui/`` (git ignores it; CI keeps it as an artefact); every
screenshot also asserts the page raised no script error and no Content-Security-Policy violation. Import
this module after ``pytest.importorskip("playwright")``.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import Browser, Page, expect, sync_playwright

from tests.support.keys import make_key
from tests.support.research import CORPUS
from tests.support.server import ROOT, ClewProcess, clew_server

CHROMIUM = os.environ.get("CLEW_CHROMIUM", shutil.which("chromium") or "/usr/bin/chromium")
SHOTS = ROOT / "test-results" / "ui"
TIMEOUT_MS = 60_000
expect.set_options(timeout=TIMEOUT_MS)


@contextmanager
def ui_server(data: Path, name: str, env: dict[str, str]) -> Iterator[tuple[ClewProcess, str]]:
    """A ``clew serve`` (two worker slots) on a database of its own, and an API key of alice's."""
    with clew_server(data, name, workers=2, env=env) as proc:
        yield proc, make_key(proc.db_url, "alice")


def ensure_corpus(server: ClewProcess, key: str) -> None:
    """The research test corpus in alice's knowledge base (uploaded once per server)."""
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30) as http:
        have = {d["filename"] for d in http.get("/api/v1/knowledge/documents").json()["documents"]}
        for name, text in CORPUS.items():
            if name not in have:
                r = http.post("/api/v1/knowledge/upload", files={"file": (name, text.encode(), "text/markdown")})
                assert r.status_code in (201, 202), r.text


@contextmanager
def launch() -> Iterator[Browser]:
    if not Path(CHROMIUM).exists():
        pytest.fail(f"Chromium not found at {CHROMIUM}: install Debian's `chromium` package (.ci/run does)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


def open_page(browser: Browser, server: ClewProcess, key: str | None, *, width: int = 1200) -> Page:
    context = browser.new_context(viewport={"width": width, "height": 900})
    if key is not None:
        context.add_init_script(f"window.sessionStorage.setItem('clew.apiKey', {key!r});")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT_MS)
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.on("console", lambda m: errors.append(m.text) if "Content Security Policy" in m.text else None)
    page.errors = errors  # type: ignore[attr-defined]
    page.goto(server.url + "/")
    return page


def shot(page: Page, name: str) -> None:
    page.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)
    assert not page.errors, page.errors  # type: ignore[attr-defined]  # no script error, no CSP violation


def start_session(page: Page, graph: str, fields: dict[str, str]) -> None:
    page.get_by_role("button", name="+ New session").click()
    form = page.get_by_role("form", name="New session")
    form.get_by_label("Mode").select_option(graph)
    for label, value in fields.items():
        form.get_by_label(re.compile(rf"^{re.escape(label)}( \*)?$", re.I)).fill(value)
    form.get_by_role("button", name="Start").click()
