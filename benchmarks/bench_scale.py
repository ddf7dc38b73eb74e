"""Scale: N concurrent standard research runs on one ``clew serve`` (issue 18; ``compare_peer.py --scale N``).

A scripted OpenAI-compatible model (``tests/support/openai_stub.py``) answers every call after ``--model-delay``
seconds (0.2): the strategic model plans three queries, the fast model extracts a cited learning, the smart
model writes a short cited report. Research reads the local knowledge base, into which the test corpus
(``tests/support/research.CORPUS``) is uploaded first. All N runs are started at once through the
``langgraph-sdk`` (``runs.wait`` on a new thread each); reported: how many ended ``success``, errors, wall time,
runs/s, p50/p99 latency, peak RSS of the clew process, peak Postgres connections to its database (sampled every
0.25 s from ``pg_stat_activity`` through the test helper's connection).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import time
import uuid
from pathlib import Path
from typing import Any

import httpx
import psutil
from langgraph_sdk import get_client

from tests.support.openai_stub import OpenAIStub, Reply
from tests.support.pg import create_database, drop_database
from tests.support.research import CORPUS, QUESTION
from tests.support.server import ROOT, ClewProcess

REPLIES = {
    "planner": json.dumps({"queries": ["Velmora lighthouse history", "Velmora lamp fuel", "Quellin harbour"]}),
    "extractor": json.dumps({"learnings": [{"text": "The Velmora lighthouse was built in 1871.", "sources": [1]}],
                             "follow_ups": []}),
    "writer": "# The Velmora lighthouse\n\nThe Velmora lighthouse was built in 1871 [1].\n",
}


class SlowStub(OpenAIStub):
    """Answers each model's fixed reply after ``delay`` seconds."""

    def __init__(self, delay: float) -> None:
        super().__init__()
        self.delay = delay

    def _next(self, model: str, body: dict[str, Any]) -> Reply:
        return Reply(content=REPLIES.get(model, "ok"), delay=self.delay)


def _connections(db: str) -> int:
    import psycopg

    name = psycopg.conninfo.conninfo_to_dict(db)["dbname"]
    with psycopg.connect(db, autocommit=True) as conn:
        row = conn.execute("SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (name,)).fetchone()
    return int(row[0]) if row else 0


async def scale(args: argparse.Namespace, data: Path) -> None:
    n = int(args.scale)
    db = create_database("clew_bench_scale")
    async with SlowStub(args.model_delay) as stub:
        env = {
            "CLEW_LOG_LEVEL": "WARNING",
            "CLEW_SETTING__RESEARCH__SOURCE_MODE": "local",
            "CLEW_SETTING__LLM__PROVIDER": "openai",
            "CLEW_SETTING__LLM__BASE_URL": stub.base_url,
            "CLEW_SETTING__LLM__API_KEY": "bench",
            "CLEW_SETTING__LLM__STRATEGIC_MODEL": "planner",
            "CLEW_SETTING__LLM__FAST_MODEL": "extractor",
            "CLEW_SETTING__LLM__SMART_MODEL": "writer",
            "CLEW_SETTING__LLM__MAX_RETRIES": "0",
            **dict(e.split("=", 1) for e in args.clew_env),
        }
        clew = ClewProcess(db, data / "scale", config=ROOT / "langgraph.json", workers=args.scale_workers, env=env)
        (data / "scale").mkdir(exist_ok=True)
        clew.start()
        assert clew.proc is not None
        proc = psutil.Process(clew.proc.pid)
        peak = {"rss": 0, "conns": 0}
        done = asyncio.Event()

        async def sample() -> None:
            while not done.is_set():
                with contextlib.suppress(psutil.Error):
                    peak["rss"] = max(peak["rss"], proc.memory_info().rss
                                      + sum(c.memory_info().rss for c in proc.children(recursive=True)))
                peak["conns"] = max(peak["conns"], await asyncio.to_thread(_connections, db))
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(done.wait(), 0.25)

        client = get_client(url=clew.url, timeout=600)
        try:
            async with httpx.AsyncClient(base_url=clew.url, timeout=60) as http:
                for name, text in CORPUS.items():
                    r = await http.post("/api/v1/knowledge/upload", files={"file": (name, text.encode(), "text/markdown")})
                    r.raise_for_status()
            rss_idle = proc.memory_info().rss
            lat: list[float] = []
            errors: list[str] = []

            async def one() -> None:
                t0 = time.perf_counter()
                try:
                    out = await client.runs.wait(str(uuid.uuid4()), "research", input={"question": QUESTION},
                                                 if_not_exists="create", raise_error=False)
                    if not isinstance(out, dict) or "__error__" in out or not out.get("report"):
                        errors.append(str(out)[:200])
                        return
                except Exception as exc:  # counted, not raised: all N are reported
                    errors.append(f"{type(exc).__name__}: {exc}"[:200])
                    return
                lat.append(time.perf_counter() - t0)

            sampler = asyncio.create_task(sample())
            t0 = time.perf_counter()
            await asyncio.wait_for(asyncio.gather(*(one() for _ in range(n))), timeout=1800)
            wall = time.perf_counter() - t0
            done.set()
            await sampler
        finally:
            await client.http.client.aclose()
            clew.stop()
            drop_database(db)
    lat.sort()
    p = (lambda q: lat[min(len(lat) - 1, round(q * (len(lat) - 1)))] * 1000) if lat else (lambda q: float("nan"))
    print(f"\nscale: {n} concurrent research runs, clew serve --workers {args.scale_workers}, model delay "
          f"{args.model_delay * 1000:.0f} ms, {len(stub.requests)} model calls")
    print(f"completed with a report: {len(lat)}/{n}, errors: {len(errors)}, wall {wall:.1f} s, "
          f"{len(lat) / wall:.1f} runs/s, p50 {p(0.5):.0f} ms, p99 {p(0.99):.0f} ms; clew RSS idle "
          f"{rss_idle / 2**20:.0f} MiB, peak {peak['rss'] / 2**20:.0f} MiB; peak Postgres connections "
          f"{peak['conns']}")
    for e in errors[:5]:
        print("  error:", e)
