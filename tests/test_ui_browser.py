"""The web UI in a real browser: Debian's Chromium driven by Playwright against a real ``clew serve``.

One server per module (API-key auth on, the scripted graphs of tests/langgraph.json, a short lease so a
killed server's run is taken over quickly); each test opens a fresh page signed in as alice. Each step saves
a screenshot under ``test-results/ui/`` (git ignores it; CI keeps it as an artefact).

Flows: sign in with an API key (a wrong one shows the server's message; no views while signed out); sign in
with a password, the access token refreshed on a 401 and retried, sign-out revoking the refresh token; a failed
refresh brings the sign-in back; a session started through the API is named by its input and shows no
unlabelled progress items; a question streams its answer token by token; a reload mid-stream rejoins
and shows the continuation once; an input interrupt answered with an invalid value shows the server's
problem inline, then a valid one resumes; completing the last todo resumes the run; documents uploaded to
the knowledge base are listed and found; a setting changed in the settings form applies to the next run
(human review → the plan approval dialog), and the report's citations open their sources; a server killed
mid-run and restarted finishes the session in the page.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.graphs.ui_scripted import SLOW_ANSWER
from tests.support.research import CORPUS
from tests.support.server import ClewProcess

pytest.importorskip("playwright")
from playwright.sync_api import Browser, Page, expect  # noqa: E402

from tests.support.browser import ensure_corpus, launch, open_page, shot, start_session  # noqa: E402
from tests.support.browser import ui_server as serve_ui  # noqa: E402


@pytest.fixture(scope="module")
def ui_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClewProcess, str]]:
    with serve_ui(tmp_path_factory.mktemp("clew-ui"), "clew_ui", {
        "CLEW_AUTH": "api_key", "CLEW_LEASE_SECONDS": "3", "CLEW_MAX_ATTEMPTS": "3",
    }) as server:
        yield server


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with launch() as b:
        yield b


def ai_text(page: Page) -> str:
    return page.get_by_test_id("message-ai").last.inner_text().strip()


def wait_partial_answer(page: Page) -> str:
    """Wait until some but not all words of the slow answer are shown; return what is shown."""
    expect(page.get_by_test_id("message-ai")).to_contain_text("Clew keeps")
    partial = ai_text(page)
    assert 0 < len(partial) < len(SLOW_ANSWER), partial
    assert SLOW_ANSWER.startswith(partial), partial
    return partial


def test_sign_in_with_api_key(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, None)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    # signed out: no views, no sign-out
    expect(page.get_by_role("navigation", name="views")).to_have_count(0)
    expect(page.get_by_role("button", name="Sign out")).to_have_count(0)
    page.get_by_label("API key").fill("not-a-key")
    page.get_by_role("button", name="Use API key").click()
    expect(page.get_by_role("alert")).to_contain_text("API key")  # the server's message, shown
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    shot(page, "01-sign-in")
    page.get_by_label("API key").fill(key)
    page.get_by_role("button", name="Use API key").click()
    expect(page.get_by_role("heading", name="New session")).to_be_visible()
    expect(page.get_by_role("button", name="Sign out")).to_be_visible()
    expect(page.get_by_role("navigation", name="views")).to_be_visible()
    shot(page, "01-signed-in")
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="views")).to_have_count(0)
    assert not page.errors  # type: ignore[attr-defined]


def register(server: ClewProcess, username: str, password: str) -> None:
    r = httpx.post(server.url + "/api/v1/auth/register", json={"username": username, "password": password})
    assert r.status_code == 201, r.text


def session_tokens(page: Page) -> dict[str, object]:
    raw = page.evaluate("window.sessionStorage.getItem('clew.tokens')")
    return json.loads(raw) if raw else {}


def test_sign_in_with_password_refresh_and_sign_out(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, _ = ui_server
    register(server, "carol@example.org", "carol-password-1")
    page = open_page(browser, server, None)
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    page.get_by_label("E-mail or username").fill("carol@example.org")
    page.get_by_label("Password").fill("wrong-password")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("alert")).to_be_visible()
    message = page.get_by_role("alert").inner_text()
    assert "password" in message.lower(), message
    expect(page.get_by_role("navigation", name="views")).to_have_count(0)
    shot(page, "01-password-wrong")
    page.get_by_label("Password").fill("carol-password-1")
    page.get_by_role("button", name="Sign in", exact=True).click()
    expect(page.get_by_role("heading", name="New session")).to_be_visible()
    first = session_tokens(page)
    assert first.get("access_token") and first.get("refresh_token"), first
    assert page.evaluate("window.sessionStorage.getItem('clew.apiKey')") is None
    # the SDK's requests carry the access token: a session started here is carol's
    start_session(page, "slow_chat", {"Question": "Whose session is this?"})
    expect(page.get_by_test_id("message-ai")).to_have_text(SLOW_ANSWER)
    bearer = {"Authorization": f"Bearer {first['access_token']}"}
    threads = httpx.post(server.url + "/threads/search", json={"limit": 10}, headers=bearer).json()
    assert [t["metadata"].get("title") for t in threads] == ["Whose session is this?"]

    # an access token the server refuses: the page refreshes (rotation) and retries, and stays signed in
    page.evaluate("""() => {
        const t = JSON.parse(sessionStorage.getItem('clew.tokens'));
        t.access_token = 'not-a-token';
        sessionStorage.setItem('clew.tokens', JSON.stringify(t));
    }""")
    page.reload()
    expect(page.get_by_role("navigation", name="Sessions")).to_contain_text("Whose session is this?")
    second = session_tokens(page)
    assert second["refresh_token"] != first["refresh_token"] and second["access_token"] != "not-a-token"
    expect(page.get_by_role("heading", name="Sign in")).to_have_count(0)
    # sign-out revokes the sign-in on the server
    page.get_by_role("button", name="Sign out").click()
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert session_tokens(page) == {}
    r = httpx.post(server.url + "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
    assert r.status_code == 401, r.text
    shot(page, "01-password-signed-out")


def test_failed_refresh_brings_sign_in_back(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, _ = ui_server
    context = browser.new_context()
    context.add_init_script("""window.sessionStorage.setItem('clew.tokens', JSON.stringify(
        {access_token: 'not-a-token', refresh_token: 'not-a-refresh-token', expires_at: Date.now() + 3600000}));""")
    page = context.new_page()
    page.goto(server.url + "/")
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    expect(page.get_by_role("navigation", name="views")).to_have_count(0)
    context.close()


def test_sdk_session_named_by_its_input_without_blank_progress(
    browser: Browser, ui_server: tuple[ClewProcess, str]
) -> None:
    server, key = ui_server
    headers = {"x-api-key": key}
    th = httpx.post(server.url + "/threads", json={"metadata": {"graph_id": "hitl_demo"}}, headers=headers)
    assert th.status_code == 200, th.text
    thread_id = th.json()["thread_id"]
    r = httpx.post(f"{server.url}/threads/{thread_id}/state", headers=headers, json={
        "values": {"topic": "Tides of the North Sea", "findings": ["first claim", "second claim"],
                   "progress": {"stage": "research", "percent": 60}},
        "as_node": "research",
    })
    assert r.status_code == 200, r.text
    page = open_page(browser, server, key)
    sessions = page.get_by_role("navigation", name="Sessions")
    expect(sessions).to_contain_text("Tides of the North Sea")
    expect(sessions).not_to_contain_text(f"hitl_demo {thread_id[:8]}")
    sessions.get_by_role("button", name=re.compile("^Tides of the North Sea")).click()
    expect(page.get_by_test_id("state")).to_contain_text("Tides of the North Sea")  # the thread's values are shown
    # plain-string findings are no progress items: no "(done)" line without a label
    expect(page.locator(".branches li")).to_have_count(0)
    expect(page.get_by_text("(done)")).to_have_count(0)
    shot(page, "01-sdk-session")
    page.context.close()
    assert httpx.delete(f"{server.url}/threads/{thread_id}", headers=headers).status_code in (200, 204)


def test_question_streams_tokens(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "slow_chat", {"Question": "What does clew keep?"})
    expect(page.get_by_test_id("message-human")).to_have_text("What does clew keep?")
    wait_partial_answer(page)
    shot(page, "02-streaming")
    expect(page.get_by_test_id("message-ai")).to_have_text(SLOW_ANSWER)
    expect(page.get_by_test_id("running")).to_have_count(0)
    shot(page, "02-streamed")
    # the session is in the list, named after the question; rename it, then delete it
    sessions = page.get_by_role("navigation", name="Sessions")
    expect(sessions).to_contain_text("What does clew keep?")
    sessions.get_by_role("button", name="Rename: What does clew keep?").click()
    sessions.get_by_label("Rename").fill("Kept threads")
    sessions.get_by_role("button", name="Save").click()
    expect(sessions.get_by_role("button", name="Kept threads", exact=True)).to_be_visible()
    page.reload()
    expect(page.get_by_role("navigation", name="Sessions").get_by_role("button", name="Kept threads", exact=True)).to_be_visible()
    page.get_by_role("button", name="Delete: Kept threads").click()
    expect(page.get_by_role("navigation", name="Sessions")).not_to_contain_text("Kept threads")
    expect(page.get_by_role("heading", name="New session")).to_be_visible()


def test_reload_mid_stream_rejoins_without_duplicates(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "slow_chat", {"Question": "Reload me"})
    wait_partial_answer(page)
    assert "thread=" in page.url
    page.reload()
    expect(page.get_by_test_id("running")).to_be_visible()
    shot(page, "03-after-reload")
    expect(page.get_by_test_id("message-ai")).to_have_text(SLOW_ANSWER)
    expect(page.get_by_test_id("message-ai")).to_have_count(1)
    expect(page.get_by_test_id("message-human")).to_have_count(1)
    expect(page.get_by_test_id("running")).to_have_count(0)
    shot(page, "03-rejoined")


def test_input_interrupt_invalid_then_valid(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "hitl_kinds", {"kind": "number"})
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("how many?")
    dialog.get_by_label("Answer").fill("42")
    dialog.get_by_role("button", name="Submit").click()
    problems = dialog.get_by_role("alert")
    expect(problems).to_contain_text(re.compile("maximum|greater", re.I))
    shot(page, "04-invalid-answer")
    dialog.get_by_label("Answer").fill("7")
    dialog.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_test_id("state")).to_contain_text('"numbered"')
    expect(page.get_by_test_id("state")).to_contain_text('"answer": 7')
    shot(page, "04-answered")


def test_selection_dialog(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "hitl_kinds", {"kind": "selection"})
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("which colour?")
    expect(dialog.get_by_role("button", name="Submit")).to_be_disabled()
    dialog.get_by_label("Red").check()
    shot(page, "04-selection")
    dialog.get_by_role("button", name="Submit").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(page.get_by_test_id("state")).to_contain_text('"red"')


def test_completing_last_todo_resumes_run(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "hitl_todos", {"n": "2"})
    expect(page.get_by_role("status")).to_contain_text("waiting for the todos")
    expect(page.get_by_role("navigation", name="Sessions")).to_contain_text("waiting for you")
    page.get_by_role("button", name=re.compile("^Todos")).click()
    todo0 = page.get_by_role("form", name="todo 0")
    todo1 = page.get_by_role("form", name="todo 1")
    expect(todo0).to_be_visible()
    shot(page, "05-todos")
    todo0.get_by_label("decision").select_option("approve")
    todo0.get_by_role("button", name="Complete").click()
    expect(todo0).to_have_count(0)
    todo1.get_by_label("text").fill("all done")
    todo1.get_by_role("button", name="Complete").click()
    expect(page.get_by_text("No pending todos.")).to_be_visible()
    page.get_by_role("button", name="Sessions", exact=True).click()
    state = page.get_by_test_id("state")
    expect(state).to_be_visible()
    expect(state).to_contain_text('"gate"')
    expect(state).to_contain_text("all done")
    expect(page.get_by_test_id("running")).to_have_count(0)
    shot(page, "05-resumed")
    # coming back to the session started nothing new: the first run and the resume, no new todos
    thread_id = re.search(r"thread=([0-9a-f-]+)", page.url).group(1)  # type: ignore[union-attr]
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as http:
        assert len(http.get(f"/threads/{thread_id}/runs").json()) == 2
        assert http.get("/todos", params={"status": "pending"}).json() == []
        assert http.get(f"/threads/{thread_id}").json()["status"] == "idle"


def test_upload_and_find_documents(browser: Browser, ui_server: tuple[ClewProcess, str], tmp_path: Path) -> None:
    server, key = ui_server
    files = []
    for name in ("velmora-lighthouse.md", "velmora-keepers.md"):
        (tmp_path / name).write_text(CORPUS[name])
        files.append(str(tmp_path / name))
    page = open_page(browser, server, key)
    page.get_by_role("button", name="Knowledge").click()
    page.locator("#upload").set_input_files(files)
    docs = page.locator(".documents li[data-status=ready]")
    expect(docs).to_have_count(2)
    shot(page, "06-uploaded")
    page.get_by_label("Search the knowledge base").fill("Ada Brennholt rescued sailors")
    page.get_by_role("button", name="Search the knowledge base").click()
    expect(page.locator(".hits li").first).to_contain_text("Brennholt")
    shot(page, "06-found")


def test_setting_applies_to_next_run_plan_approval_and_report(
    browser: Browser, ui_server: tuple[ClewProcess, str]
) -> None:
    server, key = ui_server
    ensure_corpus(server, key)
    page = open_page(browser, server, key)
    page.get_by_role("button", name="Settings").click()
    setting = page.locator("form[data-key='research.human_review']")
    page.locator("details.category", has=setting).locator("summary").click()  # unfold its category
    setting.get_by_role("checkbox").check()
    setting.get_by_role("button", name="Save").click()
    expect(setting).to_contain_text("from user")
    shot(page, "07-setting-saved")

    page.get_by_role("button", name="Sessions", exact=True).click()
    start_session(page, "knowledge_research", {"Question": "What is the history of the Velmora lighthouse?"})
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Research plan")
    shot(page, "07-plan-approval")
    dialog.get_by_role("button", name="Approve").click()
    expect(page.get_by_role("dialog").filter(has_text="Research plan")).to_have_count(0)
    report = page.get_by_role("region", name="Report")
    review = page.get_by_role("dialog").filter(has=page.get_by_role("button", name="Approve", disabled=False))
    expect(report.or_(review)).to_be_visible()
    if not report.count():  # human review also asks to approve the report
        review.get_by_role("button", name="Approve").click()
    expect(report).to_contain_text("Velmora")
    shot(page, "07-report")
    report.locator("button.cite").first.click()
    source = page.get_by_role("dialog")
    expect(source).to_contain_text("Velmora")
    shot(page, "07-citation")
    source.get_by_role("button", name="Close").click()
    expect(page.get_by_role("dialog")).to_have_count(0)
    with page.expect_download() as download:
        report.get_by_role("button", name="MD").click()
    path = download.value.path()
    assert download.value.suggested_filename.endswith(".md")
    assert "Velmora" in Path(path).read_text()


def test_edit_the_plan_before_research(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    ensure_corpus(server, key)
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as http:
        assert http.put("/api/v1/users/settings/research.human_review", json={"value": True}).status_code == 200
    page = open_page(browser, server, key)
    start_session(page, "knowledge_research", {"Question": "Who were the keepers of the Velmora lighthouse?"})
    dialog = page.get_by_role("dialog")
    expect(dialog).to_contain_text("Research plan")
    dialog.get_by_role("button", name="Edit").click()
    queries = dialog.get_by_label("Edit")
    expect(queries).to_have_value(re.compile("keepers", re.I))  # prefilled with the planned queries
    queries.fill("Ada Brennholt rescue\nVelmora keepers salary")
    shot(page, "07-plan-edit")
    dialog.get_by_role("button", name="Send edit").click()
    expect(page.get_by_role("region", name="Report")).to_be_visible()
    branches = page.locator(".branches li")
    expect(branches).to_have_count(2)
    expect(branches.first).to_contain_text("Ada Brennholt rescue")
    expect(branches.last).to_contain_text("Velmora keepers salary")
    shot(page, "07-edited-report")


def test_server_killed_mid_run_session_finishes(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "slow_chat", {"Question": "Survive a crash"})
    wait_partial_answer(page)
    server.kill()
    shot(page, "08-server-killed")
    server.start()
    expect(page.get_by_test_id("message-ai")).to_have_text(SLOW_ANSWER, timeout=90_000)
    expect(page.get_by_test_id("message-ai")).to_have_count(1)
    expect(page.get_by_test_id("running")).to_have_count(0)
    shot(page, "08-finished-after-restart")


def test_chart_from_a_vega_lite_spec(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    page = open_page(browser, server, key)
    start_session(page, "chart_demo", {"Question": "Rescues per keeper"})
    result = page.get_by_role("region", name="result")
    expect(result.locator("table tbody tr")).to_have_count(3)
    expect(result.locator("table")).to_contain_text("Ada Brennholt")
    expect(result.locator(".chart svg .mark-rect path, .chart svg .mark-rect")).not_to_have_count(0)
    expect(result.locator(".chart svg")).to_contain_text("keeper")
    shot(page, "10-chart")
    # this session's own settings: the session layer of the thread
    page.get_by_text("Session settings").click()
    breadth = page.locator(".session-settings form[data-key='research.breadth']")
    expect(breadth).to_contain_text("from default")
    breadth.get_by_role("spinbutton").fill("5")
    breadth.get_by_role("button", name="Save").click()
    expect(breadth).to_contain_text("from thread")
    thread_id = re.search(r"thread=([0-9a-f-]+)", page.url).group(1)  # type: ignore[union-attr]
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as http:
        view = http.get(f"/threads/{thread_id}/config").json()
    assert view["config"] == {"research.breadth": 5}
    shot(page, "10-session-settings")
    breadth.get_by_role("button", name="Reset to default").click()
    expect(breadth).to_contain_text("from default")


def test_narrow_window_and_dark_theme(browser: Browser, ui_server: tuple[ClewProcess, str]) -> None:
    server, key = ui_server
    with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as http:
        assert http.put("/api/v1/users/settings/ui.theme", json={"value": "dark"}).status_code == 200
        assert http.put("/api/v1/users/settings/ui.language", json={"value": "zh"}).status_code == 200
    try:
        page = open_page(browser, server, key, width=400)
        expect(page.get_by_role("button", name="会话", exact=True)).to_be_visible()
        assert page.evaluate("document.documentElement.dataset.theme") == "dark"
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= 400, width
        shot(page, "09-narrow-dark-zh")
    finally:
        with httpx.Client(base_url=server.url, headers={"x-api-key": key}) as http:
            http.delete("/api/v1/users/settings/ui.theme")
            http.delete("/api/v1/users/settings/ui.language")
