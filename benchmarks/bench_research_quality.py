"""Research quality on real documents: does the report name the answer, cite it, and cite the right files?

The question set (``benchmarks/research_questions.json``) was written from manuals that Debian packages
install (PDF and HTML; the file names each document by package and path). The documents are read from this
machine, never shipped with clew: install the packages first, for example

    apt-get install -y shared-mime-info libtasn1-doc base-passwd libffi8 ninja-build

(the benchmark lists any document it cannot find, with the package that ships it, and stops).

It runs the production path a user gets from ``clew research --source local --docs DIR`` with no model
configured: every document is ingested into a fresh knowledge base (embedded Qdrant, scratch Postgres
database), then each question runs through the knowledge research graph (``knowledge_research``, offline
engine). For each question it reports:

- **in report**: how many of the expected answer strings appear in the report's text (sources list excluded);
- **in cited sentence**: how many appear in a sentence that carries a ``[n]`` citation;
- **in summary**: how many appear in a cited sentence of the report's Summary (the answer a reader sees first);
- **precision**: the share of cited sentences that state the fact (contain an expected string);
- **relevant cited**: documents that state the answer and are cited, out of those that state it;
- **documents cited**: distinct documents the report cites;
- **junk**: cited sentences that are table-of-contents lines (leader dots), carry page furniture or extraction
  damage (a running header "Chapter 3: …", a Texinfo "[Function]" tag, a word split by hyphenation
  "man- agement", an expected identifier with spaces for underscores) or run past 90 words (the offline
  engine's own cap);
- **cut**: cited sentences that do not end like a sentence (cut before their end, or a heading glued on).

Strings are compared case-insensitively with whitespace collapsed.

    uv run python benchmarks/bench_research_quality.py [--questions FILE] [--report-dir DIR]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import sys
import tempfile
import time
import uuid
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from config_schema.settings import RuntimeSettings  # noqa: E402
from engine.context import AUTH_USER_ID  # noqa: E402
from persistence.db import Database  # noqa: E402
from retrieval.knowledge import open_knowledge_base  # noqa: E402

HERE = Path(__file__).resolve().parent
_CITED_UNIT = re.compile(r"(.+?)((?:\s*\[\d{1,3}\])+)")
_LEADER = re.compile(r"(?:\.\s?){4,}")
# Page furniture and extraction damage: a running header ("Chapter 3: Utilities 7"), a Texinfo category tag,
# a word split by line-break hyphenation ("man- agement").
_ARTEFACT = re.compile(r"\bChapter \d+: |\[(?:Function|Macro|Variable)\]|\b[a-z]{2,}- [a-z]{2,}\b")
_ENDINGS = (".", "!", "?", ":", ")", '"', "”", "’", "'")


def norm(text: str) -> str:
    return " ".join(text.split()).lower()


def has(text: str, expected: str) -> bool:
    """Whether ``expected`` occurs in ``text`` as a whole word or phrase (normalised)."""
    return re.search(rf"(?<!\w){re.escape(expected)}(?!\w)", norm(text)) is not None


def has_any(text: str, answers: list[str]) -> bool:
    """Whether any of the acceptable spellings of one expected answer occurs in ``text``."""
    return any(has(text, a) for a in answers)


def body_of(report: str) -> str:
    """The report without its ``## Sources`` list."""
    return re.split(r"^## Sources\s*$", report, maxsplit=1, flags=re.MULTILINE)[0]


def summary_of(body: str) -> str:
    """The report's ``## Summary`` section (empty when it has none)."""
    m = re.search(r"^## Summary\s*$(.*?)(?=^## |\Z)", body, flags=re.MULTILINE | re.DOTALL)
    return m.group(1) if m else ""


def cited_units(body: str) -> list[tuple[str, list[int]]]:
    """Each stretch of text that ends in one or more ``[n]`` marks, with those numbers."""
    out: list[tuple[str, list[int]]] = []
    for paragraph in re.split(r"\n\s*\n", body):
        if paragraph.lstrip().startswith(("#", ">")):
            continue
        for m in _CITED_UNIT.finditer(" ".join(paragraph.split())):
            numbers = [int(n) for n in re.findall(r"\[(\d{1,3})\]", m.group(2))]
            out.append((m.group(1).strip(), numbers))
    return out


def score(question: dict[str, Any], values: dict[str, Any]) -> dict[str, Any]:
    report = str(values.get("report") or "")
    body = body_of(report)
    # an expected answer is a string, or a list of strings any of which answers (one of several right values)
    expected = [[norm(a) for a in ([e] if isinstance(e, str) else e)] for e in question["expected"]]
    units = cited_units(body)
    in_report = sum(1 for e in expected if has_any(body, e))
    in_cited = sum(1 for e in expected if any(has_any(u, e) for u, _ in units))
    summary = cited_units(summary_of(body))
    in_summary = sum(1 for e in expected if any(has_any(u, e) for u, _ in summary))
    with_fact = [u for u, _ in units if any(has_any(u, e) for e in expected)]
    numbers = {n for _, ns in units for n in ns}
    by_n = {int(s["n"]): s for s in values.get("sources") or []}
    cited_files = sorted(
        {
            str((by_n[n].get("metadata") or {}).get("filename") or by_n[n].get("title"))
            for n in numbers
            if n in by_n
        }
    )
    relevant = list(question["relevant"])
    relevant_cited = [r for r in relevant if r in cited_files]
    spaced = [a.replace("_", " ") for e in expected for a in e if "_" in a]
    junk = [
        u
        for u, _ in units
        if _LEADER.search(u) or _ARTEFACT.search(u) or len(u.split()) > 90 or any(has(u, s) for s in spaced)
    ]
    cut = [u for u, _ in units if not u.rstrip().endswith(_ENDINGS)]
    return {
        "id": question["id"],
        "expected": len(expected),
        "in_report": in_report,
        "in_cited": in_cited,
        "in_summary": in_summary,
        "units": len(units),
        "with_fact": len(with_fact),
        "relevant": len(relevant),
        "relevant_cited": len(relevant_cited),
        "cited_files": cited_files,
        "junk": len(junk),
        "cut": len(cut),
    }


async def run(args: argparse.Namespace) -> list[dict[str, Any]]:
    from langgraph.checkpoint.memory import InMemorySaver

    from engine.current import runtime_scope
    from graphs import research as standard

    spec = args.spec
    scratch = f"clew_bench_quality_{uuid.uuid4().hex[:8]}"
    async with await psycopg.AsyncConnection.connect(args.admin_url, autocommit=True) as admin:
        await admin.execute(f'CREATE DATABASE "{scratch}"')
    url = f"{args.admin_url.rpartition('/')[0]}/{scratch}"
    tmp = Path(tempfile.mkdtemp(prefix="clew-bench-quality-"))
    settings = RuntimeSettings(data_dir=tmp, database_url=url, qdrant_url=None)
    db = await Database.open(settings)
    kb = await open_knowledge_base(settings, db)
    user = "bench"
    rows: list[dict[str, Any]] = []
    report_dir = Path(args.report_dir) if args.report_dir else None
    if report_dir is not None:
        report_dir.mkdir(parents=True, exist_ok=True)
    try:
        t0 = time.perf_counter()
        for name, data in args.files:
            await kb.ingest_file(user, name, data, background=False)
        print(
            f"ingested {len(spec['documents'])} documents in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        # the graph's nodes read the knowledge base from the current runtime (engine/current.py)
        with runtime_scope(SimpleNamespace(knowledge=kb, db=db, settings=settings)):  # type: ignore[arg-type]
            for q in spec["questions"]:
                graph = standard.knowledge_graph.copy(update={"checkpointer": InMemorySaver()})
                config = {
                    "configurable": {"thread_id": str(uuid.uuid4()), AUTH_USER_ID: user},  # as the executor sets it
                    "recursion_limit": 200,
                }
                await graph.ainvoke({"question": q["question"]}, config, context={})
                values = (await graph.aget_state(config)).values
                if report_dir is not None:
                    (report_dir / f"{q['id']}.md").write_text(str(values.get("report") or ""))
                rows.append(score(q, values))
    finally:
        await kb.close()
        await db.close()
        async with await psycopg.AsyncConnection.connect(args.admin_url, autocommit=True) as admin:
            await admin.execute(f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    return rows


def table(rows: list[dict[str, Any]]) -> str:
    lines = [
        "| question | in report | in cited sentence | in summary | precision | relevant cited | documents cited | junk | cut |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        precision = f"{r['with_fact']}/{r['units']}" if r["units"] else "0/0"
        lines.append(
            f"| {r['id']} | {r['in_report']}/{r['expected']} | {r['in_cited']}/{r['expected']} | "
            f"{r['in_summary']}/{r['expected']} | {precision} | "
            f"{r['relevant_cited']}/{r['relevant']} | {len(r['cited_files'])} | {r['junk']} | {r['cut']} |"
        )
    expected = sum(r["expected"] for r in rows)
    units = sum(r["units"] for r in rows)
    lines.append(
        f"| **total** | {sum(r['in_report'] for r in rows)}/{expected} | {sum(r['in_cited'] for r in rows)}/{expected} "
        f"| {sum(r['in_summary'] for r in rows)}/{expected} | {sum(r['with_fact'] for r in rows)}/{units} | {sum(r['relevant_cited'] for r in rows)}/"
        f"{sum(r['relevant'] for r in rows)} | {sum(len(r['cited_files']) for r in rows) / max(1, len(rows)):.1f} avg "
        f"| {sum(r['junk'] for r in rows)} | {sum(r['cut'] for r in rows)} |"
    )
    return "\n".join(lines)


def main() -> None:
    import logging

    import structlog

    structlog.configure(wrapper_class=structlog.make_filtering_bound_logger(logging.WARNING))
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--questions", default=str(HERE / "research_questions.json"))
    parser.add_argument("--report-dir", default=None, help="also write each question's report here")
    parser.add_argument("--admin-url", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    args.spec = json.loads(Path(args.questions).read_text())
    missing = [d for d in args.spec["documents"] if not Path(d["path"]).is_file()]
    if missing:
        for d in missing:
            print(f"missing {d['path']} (apt-get install {d['package']})", file=sys.stderr)
        raise SystemExit(2)
    args.files = [(Path(d["path"]).name, Path(d["path"]).read_bytes()) for d in args.spec["documents"]]
    rows = asyncio.run(run(args))
    print(table(rows))
    print(f"\n_{os.cpu_count()} CPU(s), Python {sys.version.split()[0]}_")


if __name__ == "__main__":
    main()
