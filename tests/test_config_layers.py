"""The configuration service in process, on a real Postgres: layers, provenance, scope, cache, migrations.

These tests build :class:`ConfigService` objects directly (two of them on one database stand for two clew
processes, each with its own LISTEN connection), so they can look at the cache and at stored rows.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from psycopg.types.json import Jsonb

from api.errors import status_of
from config_schema.definitions import Setting
from config_schema.layers import ConfigSourceError, coerce_text, read_env, read_file
from config_schema.migrations import Remove, Rename, Transform
from config_schema.registry import REGISTRY, Registry
from config_schema.resolver import ConfigIssues, check_values
from config_schema.service import ConfigService
from config_schema.settings import RuntimeSettings
from domain.errors import InvalidInput
from engine.broker import Broker, Listener
from persistence.channels import CONFIG_CHANNEL
from persistence.db import Database


def uid() -> str:
    return f"u_{uuid.uuid4().hex[:8]}"


@pytest.fixture
async def pair(config_db: Database) -> AsyncIterator[tuple[ConfigService, ConfigService, list[Listener]]]:
    """Two services on one database, each fed by its own LISTEN connection (two processes, in one)."""
    services: list[ConfigService] = []
    listeners: list[Listener] = []
    for _ in range(2):
        broker = Broker()
        listener = Listener(config_db, broker)
        listener.start()
        await asyncio.wait_for(listener.ready.wait(), 30)
        service = ConfigService(config_db, broker, settings=RuntimeSettings())
        await service.start()
        services.append(service)
        listeners.append(listener)
    yield services[0], services[1], listeners
    for listener in listeners:
        await listener.stop()


async def test_resolution_order_and_provenance(
    config_db: Database, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    toml = tmp_path / "clew.toml"
    toml.write_text(
        "[research]\ndepth = 3\nbreadth = 4\nmax_iterations = 5\nsub_queries = 6\n"
        'report_word_budget = 900\n[ui]\ntheme = "dark"\n'
    )
    monkeypatch.setenv("CLEW_SETTING__RESEARCH__BREADTH", "7")
    monkeypatch.setenv("CLEW_SETTING__RESEARCH__MAX_ITERATIONS", "8")
    monkeypatch.setenv("CLEW_SETTING__RESEARCH__SUB_QUERIES", "9")
    service = ConfigService(config_db, settings=RuntimeSettings(config_file=toml))
    await service.start()
    user = uid()
    admin = uid()
    await service.set_values(
        "system",
        "",
        {"research.sub_queries": 5, "research.report_word_budget": 2000, "research.tone": "formal"},
        actor=admin,
        admin=True,
    )
    await service.set_values(
        "user",
        user,
        {"research.report_word_budget": 3000, "research.tone": "analytical", "ui.theme": "light"},
        actor=user,
        admin=False,
    )
    resolved = await service.resolve(
        user,
        assistant={"research.tone": "simple", "research.source_mode": "local"},
        thread={"research.source_mode": "web", "research.human_review": True},
        run={"research.human_review": False, "my_graph_knob": 1},
    )
    expect = {
        "research.concurrency": (4, "default"),
        "research.depth": (3, "file"),
        "research.breadth": (7, "env"),
        "research.max_iterations": (8, "env"),
        "research.sub_queries": (5, "admin"),  # admin beats env
        "research.report_word_budget": (3000, "user"),
        "ui.theme": ("light", "user"),
        "research.tone": ("simple", "assistant"),
        "research.source_mode": ("web", "thread"),
        "research.human_review": (False, "run"),
        "my_graph_knob": (1, "run"),  # a graph's own context key passes through
    }
    got = {k: (resolved.values[k], resolved.sources[k]) for k in expect}
    assert got == expect
    # what a run receives: the same flat values (assistant ← thread ← run merged by the engine)
    flat = await service.resolve_for_run(
        user,
        str(uuid.uuid4()),
        {
            "research.tone": "simple",
            "research.source_mode": "web",
            "research.human_review": False,
        },
    )
    assert flat["research.sub_queries"] == 5 and flat["research.report_word_budget"] == 3000
    assert flat["research.tone"] == "simple" and flat["llm.provider"] == "offline"
    await service.delete_values(
        "system",
        "",
        ["research.sub_queries", "research.report_word_budget", "research.tone"],
        actor=admin,
        admin=True,
    )


def test_scope_rules() -> None:
    # user layer: user- and session-scope keys only, unless an administrator writes it
    with pytest.raises(ConfigIssues) as err:
        check_values({"llm.provider": "openai"}, "user", REGISTRY)
    assert err.value.status == 403 and err.value.issues[0].rule == "scope"
    assert check_values({"llm.provider": "openai"}, "user", REGISTRY, admin=True) == {
        "llm.provider": "openai"
    }
    # session layer: session-scope keys only (even for an administrator), unknown keys of a category refused
    for key, value in (("ui.theme", "dark"), ("research.concurrency", 2), ("budget.daily_usd", 1.0)):
        with pytest.raises(ConfigIssues) as err:
            check_values({key: value}, "session", REGISTRY)
        assert err.value.issues[0].rule == "scope" and err.value.status == 403
    with pytest.raises(ConfigIssues) as err:
        check_values({"research.detph": 3}, "session", REGISTRY)
    assert err.value.issues[0].rule == "unknown" and err.value.status == 422
    assert check_values({"topic_hint": "x", "graph.knob": 2}, "session", REGISTRY) == {
        "topic_hint": "x",
        "graph.knob": 2,
    }
    # system layer: any declared key
    assert check_values({"research.depth": 5}, "system", REGISTRY) == {"research.depth": 5}


def test_toml_and_environment_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    toml = tmp_path / "c.toml"
    toml.write_text(
        '[llm]\nprices = { "m" = { input = 1.0, output = 2.0 } }\ntemperature = 0.5\n'
        '[search]\nretrievers = ["searxng"]\n[old]\nname = 1\n'
    )
    values = read_file(toml, REGISTRY, [Rename(2, "old.name", "research.depth")])
    assert values == {
        "llm.prices": {"m": {"input": 1.0, "output": 2.0}},
        "llm.temperature": 0.5,
        "search.retrievers": ["searxng"],
        "research.depth": 1,
    }
    monkeypatch.setenv("CLEW_SETTING__LLM__FAST_MODEL", "123")  # a string key keeps its text
    monkeypatch.setenv("CLEW_SETTING__RESEARCH__HUMAN_REVIEW", "yes")
    monkeypatch.setenv("CLEW_SETTING__SEARCH__RETRIEVERS", "searxng, duckduckgo")
    monkeypatch.setenv("CLEW_SETTING__LLM__TEMPERATURE", "null")
    monkeypatch.setenv("CLEW_SETTING__NOPE__X", "1")  # unknown: ignored with a warning
    assert read_env(REGISTRY, []) == {
        "llm.fast_model": "123",
        "research.human_review": True,
        "search.retrievers": ["searxng", "duckduckgo"],
        "llm.temperature": None,
    }
    monkeypatch.setenv("CLEW_SETTING__RESEARCH__DEPTH", "99")
    with pytest.raises(ConfigSourceError) as err:
        read_env(REGISTRY, [])
    assert err.value.key == "research.depth" and err.value.rule == "maximum"
    toml.write_text('[research]\nsource_mode = "satellite"\n')
    with pytest.raises(ConfigSourceError) as err:
        read_file(toml, REGISTRY, [])
    assert err.value.key == "research.source_mode" and err.value.rule == "options"
    setting = REGISTRY.get("research.depth")
    assert setting is not None
    with pytest.raises(ValueError):
        coerce_text(setting, "three")


async def test_cache_hits_and_cross_process_invalidation(
    pair: tuple[ConfigService, ConfigService, list[Listener]],
) -> None:
    one, two, _ = pair
    user = uid()
    assert two.cached(user) is None
    first = await two.user_resolved(user)
    assert two.cached(user) is first  # cached now
    assert first.values["ui.font_size"] == 16
    heard = asyncio.Event()
    two.broker.on(CONFIG_CHANNEL, lambda _payload: heard.set())  # type: ignore[union-attr]
    # a change through "process one" drops "process two"'s entry when its NOTIFY arrives ...
    await one.set_values("user", user, {"ui.font_size": 20}, actor=user, admin=False)
    await asyncio.wait_for(heard.wait(), 10)
    assert two.cached(user) is None
    assert (await two.user_resolved(user)).values["ui.font_size"] == 20
    # ... and a run's resolution checks generations, so it is current even before a NOTIFY arrives
    await two.user_resolved(user)
    async with one.db.transaction() as conn:  # a change whose NOTIFY nobody sends
        await conn.execute(
            "UPDATE config_values SET value = '24' WHERE owner = %s AND key = 'ui.font_size'", (user,)
        )
        await conn.execute(
            "UPDATE config_generations SET generation = generation + 1 WHERE owner = %s", (user,)
        )
    assert two.cached(user) is not None  # the cache still holds 20 ...
    assert (await two.resolve_for_run(user, str(uuid.uuid4()), {}))["ui.font_size"] == 24  # ... a run sees 24


async def test_batch_is_all_or_nothing(config_db: Database) -> None:
    service = ConfigService(config_db)
    await service.start()
    user = uid()
    await service.set_values("user", user, {"ui.theme": "dark"}, actor=user, admin=False)
    with pytest.raises(InvalidInput) as err:
        await service.set_values(
            "user",
            user,
            {"ui.theme": "light", "ui.font_size": 99, "ui.language": "english!"},
            actor=user,
            admin=False,
        )
    assert status_of(err.value) == 422
    assert {e["key"] for e in err.value.extra["errors"]} == {"ui.font_size", "ui.language"}
    version, stored = await service.stored("user", user)
    assert version == 1 and {k: v.value for k, v in stored.items()} == {"ui.theme": "dark"}


async def test_history_and_rollback(config_db: Database) -> None:
    service = ConfigService(config_db)
    await service.start()
    user = uid()
    r1 = await service.set_values(
        "user", user, {"ui.theme": "dark", "ui.font_size": 14}, actor=user, admin=False
    )
    r2 = await service.set_values("user", user, {"ui.theme": "light"}, actor=user, admin=False)
    r3 = await service.delete_values("user", user, ["ui.font_size"], actor=user, admin=False)
    r4 = await service.set_values(
        "user", user, {"reading.highlight_color": "#00FF00"}, actor=user, admin=False
    )
    assert [r1.version, r2.version, r3.version, r4.version] == [1, 2, 3, 4]
    noop = await service.set_values("user", user, {"ui.theme": "light"}, actor=user, admin=False)
    assert noop.version == 4 and not noop.changes  # the same value is no new version
    history = await service.history("user", user)
    assert [v["version"] for v in history] == [4, 3, 2, 1]
    assert history[1]["changes"] == [
        {
            "key": "ui.font_size",
            "old_value": 14,
            "new_value": None,
            "old_inherited": False,
            "new_inherited": True,
        }
    ]
    assert history[2]["changes"][0] == {
        "key": "ui.theme",
        "old_value": "dark",
        "new_value": "light",
        "old_inherited": False,
        "new_inherited": False,
    }
    assert all(v["changed_by"] == user for v in history)
    back = await service.rollback("user", user, 1, actor=user, admin=False)
    assert back.version == 5 and sorted(back.keys) == ["reading.highlight_color", "ui.font_size", "ui.theme"]
    _, stored = await service.stored("user", user)
    assert {k: v.value for k, v in stored.items()} == {"ui.theme": "dark", "ui.font_size": 14}
    assert (await service.history("user", user, limit=1))[0]["action"] == "rollback"
    # a rollback is a version too: undo it
    await service.rollback("user", user, 4, actor=user, admin=False)
    _, stored = await service.stored("user", user)
    assert {k: v.value for k, v in stored.items()} == {
        "ui.theme": "light",
        "reading.highlight_color": "#00FF00",
    }
    await service.rollback("user", user, 0, actor=user, admin=False)
    assert (await service.stored("user", user))[1] == {}
    with pytest.raises(InvalidInput) as err:
        await service.rollback("user", user, 99, actor=user, admin=False)
    assert status_of(err.value) == 422


async def test_definition_migrations_on_stored_values_of_an_older_version(config_db: Database) -> None:
    """Values stored under version 1 (old names and formats) are brought to version 4 once, at start-up."""
    registry = Registry()
    registry._loaded = True  # only the definitions below
    registry.register(
        [
            Setting(key="ui.font_size", category="ui", type="integer", default=16, minimum=10, maximum=32),
            Setting(
                key="ui.theme",
                category="ui",
                type="enum",
                default="system",
                options=("system", "light", "dark"),
            ),
            Setting(
                key="reading.zoom", category="reading", type="string", default="fit_width", scope="session"
            ),
        ]
    )
    migrations = [
        Rename(2, "ui.font", "ui.font_size"),
        Transform(3, "ui.font_size", lambda v: int(str(v).removesuffix("px")), "'14px' -> 14"),
        Rename(3, "reading.default_zoom", "reading.zoom"),
        Remove(4, "ui.legacy_sidebar"),
    ]
    alice, bob, carol = uid(), uid(), uid()
    thread_id = str(uuid.uuid4())
    async with config_db.transaction() as conn:  # what an older clew stored
        await conn.execute("DELETE FROM config_values")
        rows = [
            ("user", alice, "ui.font", "14px"),
            ("user", alice, "ui.legacy_sidebar", True),
            ("user", alice, "ui.theme", "dark"),
            ("user", bob, "ui.font", "huge"),
            ("user", carol, "ui.font", "12px"),
            ("user", carol, "ui.font_size", 20),
            ("system", "", "ui.font", "15px"),
        ]
        for layer, owner, key, value in rows:
            await conn.execute(
                "INSERT INTO config_values (layer, owner, key, value, updated_by) VALUES (%s, %s, %s, %s, 'old')",
                (layer, owner, key, Jsonb(value)),
            )
        await conn.execute(
            "INSERT INTO threads (thread_id, user_id, config) VALUES (%s, %s, %s)",
            (thread_id, alice, Jsonb({"reading.default_zoom": "150%", "graph_key": 1})),
        )
        await conn.execute("UPDATE config_schema_state SET version = 1")
    service = ConfigService(config_db, registry=registry, migrations=migrations)
    await service.start()
    _, a = await service.stored("user", alice)
    assert {k: v.value for k, v in a.items()} == {"ui.font_size": 14, "ui.theme": "dark"}
    _, b = await service.stored("user", bob)
    assert b == {}  # "huge" could not be transformed: dropped, so bob inherits
    _, c = await service.stored("user", carol)
    assert {k: v.value for k, v in c.items()} == {"ui.font_size": 20}  # the new name already held a value
    _, s = await service.stored("system", "")
    assert {k: v.value for k, v in s.items()} == {"ui.font_size": 15}
    async with config_db.connection() as conn:
        cur = await conn.execute("SELECT config FROM threads WHERE thread_id = %s", (thread_id,))
        assert (await cur.fetchone())["config"] == {"reading.zoom": "150%", "graph_key": 1}
        cur = await conn.execute("SELECT version FROM config_schema_state")
        assert (await cur.fetchone())["version"] == 4
    history = await service.history("user", alice)
    assert history[0]["action"] == "migrate" and history[0]["changed_by"] == "clew:migration"
    assert (await service.user_resolved(alice)).values["ui.font_size"] == 14
    # applied once: a second start (another process, or a restart) changes nothing
    again = ConfigService(config_db, registry=registry, migrations=migrations)
    assert await again.migrate_definitions() == 0
    assert len(await again.history("user", alice)) == 1
    async with config_db.transaction() as conn:  # leave the module's database as other tests expect it
        await conn.execute("DELETE FROM config_values WHERE layer = 'system'")
        await conn.execute("UPDATE config_schema_state SET version = 1")


async def test_stored_values_that_no_longer_fit_are_skipped(config_db: Database) -> None:
    service = ConfigService(config_db)
    await service.start()
    user = uid()
    async with config_db.transaction() as conn:
        for key, value in (("ui.font_size", 500), ("no.such_key", 1), ("llm.provider", "openai")):
            await conn.execute(
                "INSERT INTO config_values (layer, owner, key, value, updated_by) VALUES ('user', %s, %s, %s, 'x')",
                (user, key, Jsonb(value)),
            )
    resolved = await service.user_resolved(user)
    # out of bounds, unknown, and a system key a user wrote themselves (not an administrator): all ignored
    assert resolved.values["ui.font_size"] == 16 and resolved.values["llm.provider"] == "offline"
    assert "no.such_key" not in resolved.values
