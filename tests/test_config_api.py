"""The configuration API against a real clew server: definitions, user, session and system layers.

Server A of the ``cluster`` fixture runs with a system TOML file (research.depth = 4, research.breadth = 5,
ui.font_size = 18) and environment variables (research.breadth = 6, agent_behavior.summary_length = long).
alice is an administrator; bob and carol are users.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import httpx
import pytest

if TYPE_CHECKING:
    from tests.support.config import Cluster

ECHO_KEYS = [
    "research.depth",
    "research.breadth",
    "research.sub_queries",
    "research.report_word_budget",
    "research.tone",
    "research.human_review",
    "research.concurrency",
    "agent_behavior.summary_length",
]


async def settings_of(http: httpx.AsyncClient, **params: str) -> dict[str, Any]:
    r = await http.get("/api/v1/users/settings", params=params)
    assert r.status_code == 200, r.text
    return r.json()


async def test_definitions(cluster: Cluster) -> None:
    async with cluster.http("bob") as bob, cluster.http("alice") as alice:
        r = await bob.get("/api/v1/config/definitions")
        assert r.status_code == 200
        body = r.json()
        defs = {d["key"]: d for d in body["definitions"]}
        cats = {c["code"] for c in body["categories"]}
        assert {"llm", "search", "ui", "reading", "agent_behavior", "search_enhancement", "research"} <= cats
        for key in (
            "llm.default_model",
            "llm.fallback_model",
            "llm.temperature",
            "llm.max_tokens",
            "llm.fast_model",
            "llm.smart_model",
            "llm.strategic_model",
            "search.max_results",
            "ui.theme",
            "ui.language",
            "ui.font_size",
            "reading.pdf_reader_mode",
            "reading.default_zoom",
            "reading.highlight_color",
            "agent_behavior.search_depth",
            "agent_behavior.summary_length",
            "agent_behavior.conversation_style",
            "search_enhancement.dense_weight",
            "search_enhancement.relevance_threshold",
            "research.breadth",
            "research.depth",
            "research.concurrency",
            "research.max_iterations",
            "research.report_word_budget",
            "research.tone",
            "research.source_mode",
            "research.human_review",
            "research.sub_queries",
        ):
            assert key in defs, key
        d = defs["ui.font_size"]
        assert (d["type"], d["default"], d["minimum"], d["maximum"], d["scope"]) == (
            "integer",
            16,
            10,
            32,
            "user",
        )
        assert defs["research.source_mode"]["options"] == ["web", "local", "hybrid"]
        assert defs["llm.provider"]["user_editable"] is False and defs["research.depth"]["session_editable"]
        assert "llm.api_key" not in defs  # not readable by users
        admin_defs = {
            d["key"]: d for d in (await alice.get("/api/v1/config/definitions")).json()["definitions"]
        }
        assert admin_defs["llm.api_key"]["secret"] is True


async def test_resolution_order_with_provenance(cluster: Cluster) -> None:
    sdk = cluster.sdk("carol")
    async with cluster.http("alice") as alice, cluster.http("carol") as carol:
        r = await alice.put(
            "/api/v1/system/config", json={"research": {"sub_queries": 7}, "research.tone": "formal"}
        )
        assert r.status_code == 200, r.text
        try:
            r = await carol.put(
                "/api/v1/users/settings/batch",
                json={"research.report_word_budget": 2500, "research.tone": "analytical"},
            )
            assert r.status_code == 200, r.text
            r = await carol.post("/threads", json={"config": {"research.tone": "simple"}})
            assert r.status_code == 200, r.text
            tid = r.json()["thread_id"]
            assert r.json()["config"] == {"research.tone": "simple"}
            r = await carol.get("/api/v1/agents/config_echo/config", params={"thread_id": tid})
            assert r.status_code == 200, r.text
            eff = r.json()
            expect = {
                "research.concurrency": (4, "default", "system"),
                "research.depth": (4, "file", "system"),
                "research.breadth": (6, "env", "system"),
                "agent_behavior.summary_length": ("long", "env", "system"),
                "research.sub_queries": (7, "admin", "system"),
                "research.report_word_budget": (2500, "user", "user"),
                "research.tone": ("simple", "thread", "session"),
            }
            rows = {s["key"]: (s["value"], s["source"], s["layer"]) for s in eff["settings"]}
            assert {k: rows[k] for k in expect} == expect
            # the run receives the same values, plus its own context on top
            result = await sdk.runs.wait(
                tid, "config_echo", input={"keys": ECHO_KEYS}, context={"research.human_review": True}
            )
            seen = result["seen"][0]
            assert seen == {
                "research.depth": 4,
                "research.breadth": 6,
                "research.sub_queries": 7,
                "research.report_word_budget": 2500,
                "research.tone": "simple",
                "research.human_review": True,
                "research.concurrency": 4,
                "agent_behavior.summary_length": "long",
            }
        finally:
            await alice.delete("/api/v1/system/config/research.sub_queries")
            await alice.delete("/api/v1/system/config/research.tone")
    await sdk.http.client.aclose()


BAD_VALUES = [
    ("ui.font_size", "big", "type"),
    ("ui.font_size", 12.5, "type"),
    ("ui.font_size", 4, "minimum"),
    ("ui.font_size", 99, "maximum"),
    ("reading.highlight_color", "yellow", "pattern"),
    ("ui.language", "english", "pattern"),
    ("ui.theme", "purple", "options"),
    ("search.retrievers", ["altavista"], "options"),
    ("search.retrievers", "searxng", "type"),
    ("research.human_review", "yes", "type"),
    ("research.depth", None, "type"),
    ("ui.colour", "red", "unknown"),
]


@pytest.mark.parametrize(("key", "value", "rule"), BAD_VALUES)
async def test_each_rule_rejects_with_422_and_stores_nothing(
    cluster: Cluster, key: str, value: Any, rule: str
) -> None:
    async with cluster.http("bob") as bob:
        before = await settings_of(bob)
        r = await bob.put(f"/api/v1/users/settings/{key}", json={"value": value})
        assert r.status_code == 422, r.text
        body = r.json()
        assert body["error"] == "invalid_setting" and body["key"] == key and body["rule"] == rule
        assert key in body["detail"]
        r = await bob.put("/api/v1/users/settings/batch", json={"ui.theme": "dark", key: value})
        assert r.status_code == 422 and r.json()["rule"] == rule
        after = await settings_of(bob)
        assert after["overrides"] == before["overrides"] and after["version"] == before["version"]
        if key.startswith("research."):  # session keys: the same rules on a thread and on a run
            r = await bob.post("/threads", json={"config": {key: value}})
            assert r.status_code == 422 and r.json()["key"] == key
            r = await bob.post("/threads", json={})
            tid = r.json()["thread_id"]
            r = await bob.put(f"/threads/{tid}/config", json={key: value})
            assert r.status_code == 422 and r.json()["rule"] == rule
            r = await bob.post(
                f"/threads/{tid}/runs",
                json={"assistant_id": "config_echo", "input": {}, "context": {key: value}},
            )
            assert r.status_code == 422 and r.json()["key"] == key
            assert (await bob.get(f"/threads/{tid}/runs")).json() == []
            assert (await bob.get(f"/threads/{tid}/config")).json()["config"] == {}


async def test_scope_enforcement(cluster: Cluster) -> None:
    async with cluster.http("bob") as bob, cluster.http("alice") as alice:
        before = await settings_of(bob)
        r = await bob.put("/api/v1/users/settings/llm.provider", json={"value": "openai"})
        assert r.status_code == 403 and r.json()["rule"] == "scope" and r.json()["key"] == "llm.provider"
        r = await bob.put("/api/v1/users/settings/batch", json={"ui.theme": "dark", "budget.daily_usd": 100})
        assert r.status_code == 403 and r.json()["key"] == "budget.daily_usd"
        for method, path, body in (
            ("GET", "/api/v1/system/config", None),
            ("PUT", "/api/v1/system/config", {"research.depth": 3}),
            ("PUT", "/api/v1/system/config/research.depth", {"value": 3}),
            ("DELETE", "/api/v1/system/config/research.depth", None),
            ("GET", "/api/v1/system/config/history", None),
        ):
            r = await bob.request(method, path, json=body)
            assert r.status_code == 403, (method, path)
        # the session layer takes session keys only: user and system keys are refused on a thread and a run
        r = await bob.post("/threads", json={"config": {"ui.theme": "dark"}})
        assert r.status_code == 403 and r.json()["key"] == "ui.theme"
        tid = (await bob.post("/threads", json={})).json()["thread_id"]
        r = await bob.put(f"/threads/{tid}/config", json={"research.concurrency": 2})
        assert r.status_code == 403 and r.json()["rule"] == "scope"
        r = await bob.post(
            f"/threads/{tid}/runs",
            json={"assistant_id": "config_echo", "input": {}, "context": {"llm.api_key": "stolen"}},
        )
        assert r.status_code == 403 and r.json()["key"] == "llm.api_key"
        assert (await settings_of(bob))["overrides"] == before["overrides"]
        # an administrator may set a system key for one user; that user cannot remove it
        r = await alice.put(
            "/api/v1/users/settings/budget.daily_usd", params={"user_id": "bob"}, json={"value": 5}
        )
        assert r.status_code == 200, r.text
        mine = await settings_of(bob)
        assert mine["values"]["budget.daily_usd"] == 5.0 and mine["sources"]["budget.daily_usd"] == "user"
        r = await bob.delete("/api/v1/users/settings/budget.daily_usd")
        assert r.status_code == 403
        r = await alice.delete("/api/v1/users/settings/budget.daily_usd", params={"user_id": "bob"})
        assert r.status_code == 200 and r.json()["source"] == "default"


async def test_batch_is_all_or_nothing(cluster: Cluster) -> None:
    async with cluster.http("bob") as bob:
        r = await bob.put("/api/v1/users/settings/batch", json={"ui.theme": "light"})
        assert r.status_code == 200
        before = await settings_of(bob)
        r = await bob.put(
            "/api/v1/users/settings/batch",
            json={
                "ui.theme": "dark",
                "ui": {"language": "de"},
                "reading.highlight_color": "#12345",
                "ui.font_size": 40,
            },
        )
        assert r.status_code == 422
        assert {e["key"] for e in r.json()["errors"]} == {"reading.highlight_color", "ui.font_size"}
        after = await settings_of(bob)
        assert after["overrides"] == before["overrides"] and after["version"] == before["version"]
        assert after["values"]["ui.theme"] == "light" and after["values"]["ui.language"] == "en"
        # nested objects are the same as dotted keys; a good batch is one version
        r = await bob.put("/api/v1/users/settings/batch", json={"ui": {"theme": "dark", "language": "de"}})
        assert r.status_code == 200, r.text
        assert r.json()["version"] == before["version"] + 1 and sorted(r.json()["changed"]) == [
            "ui.language",
            "ui.theme",
        ]
        assert r.json()["values"] == {"ui.theme": "dark", "ui.language": "de"}


async def test_delete_goes_back_to_the_inherited_value(cluster: Cluster) -> None:
    async with cluster.http("carol") as carol:
        r = await carol.put("/api/v1/users/settings/ui.font_size", json={"value": 22})
        assert r.json()["value"] == 22 and r.json()["source"] == "user"
        r = await carol.delete("/api/v1/users/settings/ui.font_size")
        assert r.status_code == 200
        assert (r.json()["value"], r.json()["source"]) == (18, "file")


async def test_history_and_rollback(cluster: Cluster) -> None:
    async with cluster.http("carol") as carol:
        start = (await settings_of(carol))["version"]
        await carol.put("/api/v1/users/settings/reading.pdf_reader_mode", json={"value": "two_page"})
        await carol.put("/api/v1/users/settings/reading.pdf_reader_mode", json={"value": "single_page"})
        await carol.put("/api/v1/users/settings/reading.default_zoom", json={"value": "125%"})
        r = await carol.get("/api/v1/users/settings/history", params={"key": "reading.pdf_reader_mode"})
        versions = r.json()
        assert [v["version"] for v in versions] == [start + 2, start + 1]
        newest = versions[0]
        assert newest["changed_by"] == "carol" and newest["action"] == "set" and newest["changed_at"]
        assert newest["changes"] == [
            {
                "key": "reading.pdf_reader_mode",
                "old_value": "two_page",
                "new_value": "single_page",
                "old_inherited": False,
                "new_inherited": False,
            }
        ]
        r = await carol.post("/api/v1/users/settings/rollback", json={"version": start + 1})
        assert r.status_code == 200, r.text
        assert sorted(r.json()["changed"]) == ["reading.default_zoom", "reading.pdf_reader_mode"]
        now = await settings_of(carol)
        assert now["values"]["reading.pdf_reader_mode"] == "two_page"
        assert (now["values"]["reading.default_zoom"], now["sources"]["reading.default_zoom"]) == (
            "fit_width",
            "default",
        )
        history = (await carol.get("/api/v1/users/settings/history", params={"limit": 1})).json()
        assert history[0]["action"] == "rollback" and history[0]["version"] == start + 4
        r = await carol.post("/api/v1/users/settings/rollback", json={"version": start + 99})
        assert r.status_code == 422
        r = await carol.post("/api/v1/users/settings/rollback", json={"version": -1})
        assert r.status_code == 422


async def test_thread_config_layer(cluster: Cluster) -> None:
    async with cluster.http("carol") as carol:
        tid = (
            await carol.post("/threads", json={"config": {"research.depth": 1, "my_graph_option": "x"}})
        ).json()["thread_id"]
        r = await carol.get(f"/threads/{tid}/config")
        body = r.json()
        assert body["config"] == {"research.depth": 1, "my_graph_option": "x"}
        assert (body["values"]["research.depth"], body["sources"]["research.depth"]) == (1, "thread")
        r = await carol.put(
            f"/threads/{tid}/config", json={"research.depth": 3, "research.source_mode": "local"}
        )
        assert r.status_code == 200, r.text
        assert sorted(r.json()["changed"]) == ["my_graph_option", "research.depth", "research.source_mode"]
        assert r.json()["version"] == 1
        history = (await carol.get(f"/threads/{tid}/config/history")).json()
        assert history[0]["version"] == 1 and {c["key"] for c in history[0]["changes"]} == {
            "my_graph_option",
            "research.depth",
            "research.source_mode",
        }
        sdk = cluster.sdk("carol")
        result = await sdk.runs.wait(
            tid, "config_echo", input={"keys": ["research.depth", "research.source_mode"]}
        )
        assert result["seen"][0] == {"research.depth": 3, "research.source_mode": "local"}
        await sdk.http.client.aclose()


async def test_another_users_settings_are_invisible(cluster: Cluster) -> None:
    async with cluster.http("bob") as bob, cluster.http("carol") as carol, cluster.http("alice") as alice:
        await bob.put("/api/v1/users/settings/batch", json={"ui.theme": "dark", "research.concurrency": 3})
        tid = (await bob.post("/threads", json={"config": {"research.tone": "formal"}})).json()["thread_id"]
        mine = await settings_of(carol)
        assert mine["user_id"] == "carol"
        assert "ui.theme" not in mine["overrides"] and mine["values"]["research.concurrency"] == 4
        for path in ("/api/v1/users/settings", "/api/v1/users/settings/history"):
            r = await carol.get(path, params={"user_id": "bob"})
            assert r.status_code == 403
        r = await carol.put(
            "/api/v1/users/settings/ui.theme", params={"user_id": "bob"}, json={"value": "light"}
        )
        assert r.status_code == 403
        r = await carol.post(
            "/api/v1/users/settings/rollback", params={"user_id": "bob"}, json={"version": 0}
        )
        assert r.status_code == 403
        for method, body in (("GET", None), ("PUT", {"research.tone": "simple"})):
            r = await carol.request(method, f"/threads/{tid}/config", json=body)
            assert r.status_code == 404
        r = await carol.get(f"/threads/{tid}/config/history")
        assert r.status_code == 404
        r = await carol.get("/api/v1/agents/config_echo/config", params={"thread_id": tid})
        assert r.status_code == 404
        eff = (await carol.get("/api/v1/agents/config_echo/config")).json()
        assert eff["values"]["ui.theme"] == "system" and eff["values"]["research.concurrency"] == 4
        theirs = await settings_of(alice, user_id="bob")  # an administrator may look
        assert theirs["overrides"]["ui.theme"] == "dark"
        assert (await bob.get(f"/threads/{tid}/config")).json()["config"] == {"research.tone": "formal"}


async def test_system_config_for_administrators(cluster: Cluster) -> None:
    async with cluster.http("alice") as alice, cluster.http("bob") as bob:
        r = await alice.get("/api/v1/system/config")
        assert r.status_code == 200
        body = r.json()
        assert (body["values"]["research.depth"], body["sources"]["research.depth"]) == (4, "file")
        assert (body["values"]["research.breadth"], body["sources"]["research.breadth"]) == (6, "env")
        r = await alice.put("/api/v1/system/config/llm.api_key", json={"value": "sk-secret"})
        assert r.status_code == 200
        try:
            assert r.json()["values"]["llm.api_key"] == "********"
            assert r.json()["overrides"]["llm.api_key"] == "********"
            assert "llm.api_key" not in (await settings_of(bob))["values"]
            history = (await alice.get("/api/v1/system/config/history", params={"key": "llm.api_key"})).json()
            assert history[0]["changes"][0]["new_value"] == "********"
            r = await alice.put("/api/v1/system/config", json={"research.depth": 0})
            assert r.status_code == 422 and r.json()["rule"] == "minimum"
            r = await alice.put("/api/v1/system/config", json={"nope.key": 1})
            assert r.status_code == 422 and r.json()["rule"] == "unknown"
        finally:
            r = await alice.delete("/api/v1/system/config/llm.api_key")
            assert r.status_code == 200 and r.json()["sources"]["llm.api_key"] == "default"
