"""QA: what a new user sees on the terminal before anything else.

- Every command on the embedded Postgres (the quickstart's ``clew research``, ``clew serve``) printed a
  ``RuntimeDirWarning: XDG_RUNTIME_DIR is not set`` with a line of platformdirs' source where
  ``XDG_RUNTIME_DIR`` is unset (root over ssh, containers, CI): pgserver asks platformdirs for a runtime
  directory when it is imported; the fallback it gets (``/tmp/runtime-UID``) works, the warning is noise.
- ``clew serve`` never said where it listens (uvicorn's "running on" line is below its log level), so a new
  user had to guess the address of the page the README tells them to open.
- ``clew serve`` stopped with SIGTERM (``kill``, a process supervisor, the tests' own stop) left its
  embedded Postgres running for good: uvicorn re-raises the signal it caught once it has shut down, so the
  process died by the signal and pgserver's exit handler (which stops the server when no other clew process
  uses it) never ran; its pid stayed in the server's list of users, so no later command stopped it either.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

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


def test_clew_serve_stopped_with_sigterm_stops_its_embedded_postgres(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("CLEW_") and k != "DATABASE_URL"}
    env.update(CLEW_DATA_DIR=str(tmp_path), CLEW_WORKERS="1")
    port = ClewProcess("", tmp_path).port
    with open(tmp_path / "serve.log", "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "cli.main", "serve", "--port", str(port)],
                                cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline and proc.poll() is None:
                try:
                    if httpx.get(f"http://127.0.0.1:{port}/ok", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    time.sleep(0.5)
            assert (tmp_path / "pg" / "postmaster.pid").exists(), (tmp_path / "serve.log").read_text()[-2000:]
            proc.send_signal(signal.SIGTERM)
            proc.wait(60)
        finally:
            if proc.poll() is None:
                proc.kill()
    assert not (tmp_path / "pg" / "postmaster.pid").exists(), (tmp_path / "serve.log").read_text()[-2000:]
