"""SQL statements per run (issue 2): what one clew run of the 10-node ``steps10`` graph sends to Postgres.

Creates a scratch database with ``log_statement = all`` on DATABASE_URL's server (a superuser connection,
default the local Postgres), starts a real ``clew serve``, runs ``--runs`` runs one at a time through the
official SDK (``runs.wait`` on a new thread, as bench_runs.py does) and counts the statements of that database
in the server's log. With ``--resume``, the unit is an interrupt → resume cycle instead: ``--runs`` resumes of
compare_peer.py's ``loop`` graph on one thread, each streamed to its end. Needs read access to the Postgres log
(``--log``, default the Debian location).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres uv run python benchmarks/count_statements.py [--resume]
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import os
import re
import sys
import tempfile
import uuid
from pathlib import Path

import psycopg

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "benchmarks"))
os.environ.setdefault("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/postgres")

from compare_peer import _loop_thread, _resume_cycles, write_config  # noqa: E402
from langgraph_sdk import get_client  # noqa: E402

from tests.support.pg import create_database, drop_database  # noqa: E402
from tests.support.server import ClewProcess  # noqa: E402

_ENTRY = re.compile(r"\n(?=\d{4}-\d\d-\d\d )")  # log entries start with a timestamp (multi-line statements)
_TEXT = re.compile(r"LOG:  (?:statement|execute [^:]*): ")


async def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--log", type=Path, default=None, help="the Postgres server log")
    parser.add_argument("--resume", action="store_true", help="count per interrupt → resume cycle")
    args = parser.parse_args()
    url = create_database("clew_stmts")
    name = psycopg.conninfo.conninfo_to_dict(url)["dbname"]
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute(f"ALTER DATABASE \"{name}\" SET log_statement = 'all'")
            version = conn.execute("SHOW server_version_num").fetchone()
        major = int(version[0]) // 10000 if version else 15
        log = args.log or Path(f"/var/log/postgresql/postgresql-{major}-main.log")
        data = Path(tempfile.mkdtemp(prefix="clew-stmts-"))
        server = ClewProcess(url, data, config=write_config(data), workers=4).start()
        client = get_client(url=server.url)
        try:
            if args.resume:
                tid = await _loop_thread(client)
                await _resume_cycles(client, tid, 3)  # warm-up: prepared statements, caches
                start = log.stat().st_size
                await _resume_cycles(client, tid, args.runs, first=3)
            else:
                for _ in range(3):  # warm-up: prepared statements, caches
                    await client.runs.wait(
                        str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create"
                    )
                start = log.stat().st_size
                for _ in range(args.runs):
                    await client.runs.wait(
                        str(uuid.uuid4()), "steps10", input={"count": 0}, if_not_exists="create"
                    )
            await asyncio.sleep(1.0)
            text = log.read_bytes()[start:].decode(errors="replace")
        finally:
            await client.http.client.aclose()
            server.stop()
    finally:
        drop_database(url)
    entries = [e for e in _ENTRY.split(text) if f"@{name} " in e and _TEXT.search(e)]
    unit = "resume" if args.resume else "run"
    print(f"statements per {unit}: {len(entries) / args.runs:.1f} (over {args.runs} {unit}s, one at a time)")
    kinds = collections.Counter(" ".join(_TEXT.split(e, maxsplit=1)[-1].split())[:100] for e in entries)
    for text_, n in kinds.most_common():
        print(f"{n / args.runs:6.2f}  {text_}")


if __name__ == "__main__":
    asyncio.run(main())
