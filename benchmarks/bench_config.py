"""Configuration resolution latency: cached vs uncached (issue 5; design doc §7.2 asks < 50 ms).

Builds a :class:`ConfigService` on a fresh database (DATABASE_URL's server, or an embedded Postgres in a
temporary directory), stores administrator overrides and, for each of ``--users`` users, a handful of user
values, then measures:

- ``cached lookup``: the in-memory resolution of a user (:meth:`ConfigService.cached`), what a process serves
  while its cache is warm (kept fresh by LISTEN/NOTIFY);
- ``cached, session overlay``: the same plus validating and laying three session values on top
  (:meth:`ConfigService.resolve` with ``verify=False``);
- ``run resolution (warm)``: :meth:`ConfigService.resolve_for_run`, what every run start does: one
  primary-key read of the layer generations, then the cached layers and the session overlay;
- ``uncached``: the cache emptied before every call, so the system and user layers are read from Postgres,
  validated and merged again (``resolve_for_run`` after :meth:`ConfigService.cache_clear`).

    uv run python benchmarks/bench_config.py [--users 1000] [--iterations 20000] [--db-iterations 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import sys
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from config_schema.service import ConfigService  # noqa: E402
from config_schema.settings import RuntimeSettings  # noqa: E402
from persistence.db import Database  # noqa: E402


def pct(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


def server_url(tmp: Path) -> tuple[str, Any]:
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    import pgserver

    server = pgserver.get_server(tmp / "pg", cleanup_mode="stop")
    return server.get_uri(), server


async def measure(fn: Callable[[], Awaitable[Any]], n: int) -> list[float]:
    out: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        await fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


def measure_sync(fn: Callable[[], Any], n: int) -> list[float]:
    out: list[float] = []
    for _ in range(n):
        t0 = time.perf_counter_ns()
        fn()
        out.append((time.perf_counter_ns() - t0) / 1e6)
    return out


async def run(args: argparse.Namespace) -> dict[str, Any]:
    tmp = Path(tempfile.mkdtemp(prefix="clew-bench-config-"))
    admin_url, server = server_url(tmp)
    name = f"clew_bench_config_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_conninfo(admin_url, dbname=name)
    db = await Database.open(RuntimeSettings(pool_min_size=2, pool_max_size=4), url=url)
    try:
        service = ConfigService(db, settings=RuntimeSettings())
        await service.start()
        await service.set_values(
            "system",
            "",
            {"research.depth": 3, "llm.provider": "openai", "search.max_results": 20},
            actor="admin",
            admin=True,
        )
        users = [f"user{i}" for i in range(args.users)]
        rng = random.Random(7)
        for user in users:
            await service.set_values(
                "user",
                user,
                {
                    "ui.theme": rng.choice(["light", "dark"]),
                    "ui.font_size": rng.randint(12, 24),
                    "research.tone": rng.choice(["formal", "objective"]),
                    "research.report_word_budget": 2000,
                    "agent_behavior.summary_length": "short",
                },
                actor=user,
                admin=False,
            )
        session = {"research.depth": 2, "research.source_mode": "local", "my_graph_option": True}
        thread_id = str(uuid.uuid4())
        hot = users[: min(len(users), 100)]
        for user in hot:  # warm the cache
            await service.user_resolved(user)
        pick = iter(lambda: rng.choice(hot), None)

        results: dict[str, list[float]] = {}
        results["cached lookup"] = measure_sync(lambda: service.cached(next(pick)), args.iterations)
        results["cached, session overlay"] = await measure(
            lambda: service.resolve(next(pick), run=session, verify=False), args.iterations
        )
        results["run resolution (warm)"] = await measure(
            lambda: service.resolve_for_run(next(pick), thread_id, session), args.db_iterations
        )

        async def uncached() -> Any:
            service.cache_clear()
            return await service.resolve_for_run(rng.choice(users), thread_id, session)

        results["uncached"] = await measure(uncached, args.db_iterations)
        keys = len(await service.resolve_for_run(users[0], thread_id, session))
    finally:
        await db.close()
        with psycopg.connect(admin_url, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if server is not None:
            server.cleanup()
    return {
        "users": args.users,
        "resolved_keys": keys,
        "postgres": "DATABASE_URL" if os.environ.get("DATABASE_URL") else "embedded",
        "host": conninfo_to_dict(admin_url).get("host", ""),
        "results_ms": {
            k: {"n": len(v), "p50": pct(v, 0.5), "p95": pct(v, 0.95), "p99": pct(v, 0.99), "max": max(v)}
            for k, v in results.items()
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--users", type=int, default=1000)
    parser.add_argument("--iterations", type=int, default=20000, help="samples of the in-memory paths")
    parser.add_argument(
        "--db-iterations", type=int, default=2000, help="samples of the paths reading Postgres"
    )
    parser.add_argument("--json", action="store_true", help="print the result as JSON")
    args = parser.parse_args()
    report = asyncio.run(run(args))
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(
        f"configuration resolution: {report['users']} users, {report['resolved_keys']} keys per resolution, "
        f"{report['postgres']} Postgres"
    )
    print(f"{'path':<28}{'n':>7}{'p50 ms':>10}{'p95 ms':>10}{'p99 ms':>10}{'max ms':>10}")
    for path, r in report["results_ms"].items():
        print(f"{path:<28}{r['n']:>7}{r['p50']:>10.4f}{r['p95']:>10.4f}{r['p99']:>10.4f}{r['max']:>10.3f}")


if __name__ == "__main__":
    main()
