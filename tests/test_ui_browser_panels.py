"""The web UI's panels in a real browser (Debian's Chromium, Playwright) against a real ``clew serve``.

One server per module (API-key auth on, alice an administrator, the scripted graphs of tests/langgraph.json);
each test opens a fresh page signed in as alice and saves screenshots under ``test-results/ui/``.

Flows: a setting changed twice and rolled back through the history is effective with the old value; a
secret setting is written but never shown back (the field only says it is set; no API answer carries it);
a knowledge document uploaded, found, deleted is gone from the list and from search; todos filed by a run
the page did not start, and finished outside the page, appear and disappear in the open todo panel by push
(no poll while the push is up); a multi-agent research shows each section's progress live (written, in
review, done, of how many) and its report's title once.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.support.server import ClewProcess

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.support.browser import ensure_corpus, launch, open_page, shot  # noqa: E402
from tests.support.browser import ui_server as serve_ui  # noqa: E402

SECRET = "tvly-never-shown-4711"


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClewProcess, str]]:
    env = {"CLEW_AUTH": "api_key", "CLEW_ADMIN_USERS": '["alice"]'}
    with serve_ui(tmp_path_factory.mktemp("clew-ui-panels"), "clew_ui_panels", env) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def api(server: ClewProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=server.url, headers={"x-api-key": key}, timeout=30)


def open_setting(page: Page, key: str):  # noqa: ANN201 - a Playwright Locator
    page.get_by_role("button", name="Settings").click()
    setting = page.locator(f"form[data-key='{key}']")
    category = page.locator("details.category", has=setting)
    if category.get_attribute("open") is None:
        category.locator("summary").click()
    return setting


def test_settings_rollback_through_history(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    setting = open_setting(page, "ui.font_size")
    for size in ("18", "20"):
        setting.locator("input").fill(size)
        setting.get_by_role("button", name="Save").click()
        expect(page.locator("html")).to_have_attribute("style", re.compile(rf"font-size: {size}px"))
    expect(setting).to_contain_text("from user")
    with api(server, key) as http:
        history = http.get("/api/v1/users/settings/history").json()
    set_18 = next(v["version"] for v in history
                  if any(c["key"] == "ui.font_size" and c["new_value"] == 18 for c in v["changes"]))
    shot(page, "10-settings-history")
    entry = page.locator(".history li").filter(has_text=re.compile(rf"^v{set_18} "))
    entry.get_by_role("button", name="Roll back to this version").click()
    # the old value is effective again: in the page, in the form and for the server
    expect(page.locator("html")).to_have_attribute("style", re.compile(r"font-size: 18px"))
    expect(setting.locator("input")).to_have_value("18")
    with api(server, key) as http:
        assert http.get("/api/v1/users/settings").json()["values"]["ui.font_size"] == 18
        newest = http.get("/api/v1/users/settings/history").json()[0]
        assert newest["version"] > set_18 + 1 and newest["action"] == "rollback"
    shot(page, "10-settings-rolled-back")
    setting.get_by_role("button", name="Reset to default").click()
    expect(page.locator("html")).to_have_attribute("style", re.compile(r"font-size: 16px"))


def test_secret_setting_is_write_only(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    answers: list[str] = []
    page.on("response", lambda r: answers.append(r.url) if "/settings" in r.url or "/config" in r.url else None)
    setting = open_setting(page, "search.tavily_api_key")
    field = setting.locator("input")
    expect(field).to_have_attribute("type", "password")
    field.fill(SECRET)
    setting.get_by_role("button", name="Save").click()
    expect(setting).to_contain_text("from user")
    expect(field).to_have_value("")  # never shown back: the field only says it is set
    expect(field).to_have_attribute("placeholder", "(set — write only)")
    shot(page, "11-secret-set")
    page.reload()
    setting = open_setting(page, "search.tavily_api_key")
    expect(setting.locator("input")).to_have_attribute("placeholder", "(set — write only)")
    assert SECRET not in page.content()
    assert answers  # the page read the settings through the API ...
    with api(server, key) as http:  # ... and no answer of it carries the secret
        for path in ("/api/v1/users/settings", "/api/v1/users/settings/history", "/api/v1/config/definitions",
                     "/api/v1/system/config", "/api/v1/system/config/history"):
            r = http.get(path)
            assert r.status_code == 200 and SECRET not in r.text, path
        assert http.get("/api/v1/users/settings").json()["values"]["search.tavily_api_key"] not in ("", None)
    setting.get_by_role("button", name="Reset to default").click()
    expect(setting.locator("input")).not_to_have_attribute("placeholder", "(set — write only)")


def test_knowledge_document_delete(browser: Browser, ui_server: tuple[ClewProcess, str], tmp_path: Path) -> None:
    server, key = ui_server
    note = tmp_path / "tallowmere-orchard.md"
    note.write_text("# Tallowmere\n\nThe quince orchard of Tallowmere was planted in 1821 by Mirela Osk, "
                    "who kept bees between the rows.\n")
    page = open_page(browser, server, key)
    page.get_by_role("button", name="Knowledge").click()
    page.locator("#upload").set_input_files(str(note))
    delete = page.get_by_role("button", name="Delete: tallowmere-orchard.md")
    expect(page.locator(".documents li[data-status=ready]").filter(has=delete)).to_have_count(1)

    def search() -> None:
        with page.expect_response(lambda r: r.url.endswith("/api/v1/knowledge/search")):
            page.get_by_role("button", name="Search the knowledge base").click()

    page.get_by_label("Search the knowledge base").fill("quince orchard Tallowmere Mirela Osk")
    search()
    expect(page.locator(".hits li").first).to_contain_text("Tallowmere")
    shot(page, "12-knowledge-found")
    delete.click()
    expect(delete).to_have_count(0)
    expect(page.locator(".documents")).not_to_contain_text("Tallowmere")
    search()
    expect(page.locator(".knowledge")).not_to_contain_text("Mirela Osk")
    shot(page, "12-knowledge-deleted")
    with api(server, key) as http:
        names = [d["filename"] for d in http.get("/api/v1/knowledge/documents").json()["documents"]]
        assert "tallowmere-orchard.md" not in names
        hits = http.post("/api/v1/knowledge/search", json={"query": "quince orchard Tallowmere", "k": 8}).json()
        assert "Tallowmere" not in str(hits["results"])


def test_todos_are_pushed_to_the_open_panel(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    polls: list[str] = []
    page.on("request", lambda r: polls.append(r.url) if re.search(r"/todos\?", r.url) else None)
    page.get_by_role("button", name=re.compile("^Todos")).click()
    panel = page.get_by_role("region", name="Todos")
    expect(panel).to_have_attribute("data-feed", "live")
    with api(server, key) as http:  # a run this page did not start files two todos
        tid = http.post("/threads", json={}).json()["thread_id"]
        http.post(f"/threads/{tid}/runs/wait", json={"assistant_id": "hitl_todos", "input": {"n": 2}})
        todos = http.get(f"/threads/{tid}/todos").json()
        expect(page.get_by_role("form", name="todo 0")).to_be_visible()
        expect(page.get_by_role("form", name="todo 1")).to_be_visible()
        expect(page.get_by_test_id("todo-count")).to_have_text("2")
        shot(page, "13-todos-pushed")
        # finished elsewhere: gone from the page
        r = http.post(f"/todos/{todos[0]['todo_id']}/complete", json={"result": {"decision": "approve"}})
        assert r.status_code == 200
        expect(page.get_by_role("form", name="todo 0")).to_have_count(0)
        page.get_by_role("form", name="todo 1").get_by_role("button", name="Cancel").click()
        expect(page.get_by_text("No pending todos.")).to_be_visible()
        assert http.get(f"/threads/{tid}/todos", params={"status": "pending"}).json() == []
        http.delete(f"/threads/{tid}")
    assert polls == [], polls  # pushed, not polled


# every section status the panel showed, in order, recorded in the page as it changes
RECORD_SECTIONS = """
window.__sectionStatuses = [];
new MutationObserver(() => {
  for (const li of document.querySelectorAll('.section-items li')) {
    const seen = li.getAttribute('value') + ':' + li.dataset.status;
    if (!window.__sectionStatuses.includes(seen)) window.__sectionStatuses.push(seen);
  }
}).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-status'] });
"""


def test_multi_agent_sections_live_and_report_title_once(
    browser: Browser, ui_server: tuple[ClewProcess, str]
) -> None:
    server, key = ui_server
    ensure_corpus(server, key)
    page = open_page(browser, server, key)
    page.add_init_script(RECORD_SECTIONS)
    page.reload()
    question = "What is the history of the Velmora lighthouse?"
    page.get_by_role("button", name="+ New session").click()
    page.get_by_role("form", name="New session").get_by_label("Mode").select_option("multi_agent_research")
    start_session_fields(page, question)
    dialog = page.get_by_role("dialog")
    expect(dialog.get_by_role("button", name="Approve")).to_be_visible()  # the outline, for the human
    shot(page, "14-outline")
    dialog.get_by_role("button", name="Approve").click()
    report = page.get_by_role("region", name="Report")
    expect(report).to_contain_text("Velmora")
    sections = page.get_by_test_id("sections")
    expect(sections).to_have_text(re.compile(r"^(\d+)/\1$"))
    total = int(sections.inner_text().split("/")[1])
    items = page.locator(".section-items li")
    expect(items).to_have_count(total)
    expect(page.locator(".section-items li[data-status=done]")).to_have_count(total)
    shot(page, "14-sections-done")
    seen = page.evaluate("window.__sectionStatuses")
    # live: each section was shown while written and while in review (subgraph events), then done
    for n in range(1, total + 1):
        assert {f"{n}:writing", f"{n}:reviewing", f"{n}:done"} <= set(seen), seen
    # the question is the session's heading once: the report does not repeat it as its title
    expect(page.get_by_role("heading", name=question)).to_have_count(1)
    expect(report.locator("h1")).to_have_count(0)


def start_session_fields(page: Page, question: str) -> None:
    form = page.get_by_role("form", name="New session")
    form.get_by_label(re.compile(r"^question( \*)?$", re.I)).fill(question)
    source = form.get_by_label(re.compile(r"^source( \*)?$", re.I))
    if source.count():
        source.select_option("local")
    form.get_by_role("button", name="Start").click()

