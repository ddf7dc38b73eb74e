"""QA: what a new user sees on the terminal before anything else.

- Every command on the embedded Postgres (the quickstart's ``clew research``, ``clew serve``) printed a
  ``RuntimeDirWarning: XDG_RUNTIME_DIR is not set`` with a line of platformdirs' source where
  ``XDG_RUNTIME_DIR`` is unset (root over ssh, containers, CI): pgserver asks platformdirs for a runtime
  directory when it is imported; the fallback it gets (``/tmp/runtime-UID``) works, the warning is noise.
- ``clew serve`` never said where it listens (uvicorn's "running on" line is below its log level), so a new
  user had to guess the address of the page the README tells them to open.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT, ClewProcess


def test_the_embedded_postgres_import_prints_no_runtime_dir_warning() -> None:
    env = {k: v for k, v in os.environ.items() if k != "XDG_RUNTIME_DIR"}
    out = subprocess.run(
        [sys.executable, "-W", "default", "-c", "from persistence.embedded import pgserver_module; pgserver_module()"],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=120,
    )
    assert out.returncode == 0, out.stderr
    assert "XDG_RUNTIME_DIR" not in out.stderr, out.stderr


def test_clew_serve_says_where_to_open_it(tmp_path: Path) -> None:
    url = create_database("clew_qa_cli_output")
    proc = ClewProcess(url, tmp_path, workers=1)
    try:
        proc.start()
        assert f"{proc.url}/" in proc.log_path.read_text()
    finally:
        proc.stop()
        drop_database(url)
