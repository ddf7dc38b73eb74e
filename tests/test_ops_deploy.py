"""Deployment files and ``clew doctor``.

No Docker daemon runs on these machines, so the image is not built here: compose.yaml is validated against
the Compose specification's JSON schema (``tests/data/compose-spec.json``, the schema docker-compose 1.29.2
ships, kept in the repository so no network is needed) plus clew's own rules, and the Dockerfile's structure
is checked line by line.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from importlib.metadata import version
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from tests.support.server import ROOT, free_port

SCHEMA = Path(__file__).parent / "data" / "compose-spec.json"


def _compose() -> dict[str, Any]:
    return dict(yaml.safe_load((ROOT / "compose.yaml").read_text()))


def test_compose_matches_the_compose_specification() -> None:
    schema = json.loads(SCHEMA.read_text())
    jsonschema.Draft7Validator(schema).validate(_compose())
    # the schema does catch mistakes
    broken = _compose()
    broken["services"]["api"]["healthcheck"]["interval"] = {"seconds": 5}
    assert list(jsonschema.Draft7Validator(schema).iter_errors(broken))


def test_compose_rules() -> None:
    services = _compose()["services"]
    assert {"postgres", "qdrant", "api", "worker"} <= set(services)
    for name, svc in services.items():
        assert "healthcheck" in svc and svc["healthcheck"]["test"], f"{name} has no health check"
    # the Qdrant server's major.minor is the client's
    image = services["qdrant"]["image"]
    server = re.search(r":v?(\d+)\.(\d+)", image)
    assert server, image
    client = version("qdrant-client").split(".")[:2]
    assert [server.group(1), server.group(2)] == client, (image, version("qdrant-client"))
    # the worker scales: no fixed name, no published port
    worker = services["worker"]
    assert "container_name" not in worker and "ports" not in worker
    assert worker["command"][:2] == ["clew", "worker"]
    # clew waits for healthy dependencies and runs with auth on
    for name in ("api", "worker"):
        deps = services[name]["depends_on"]
        assert all(d["condition"] == "service_healthy" for d in deps.values()), name
        assert services[name]["environment"]["CLEW_AUTH"] != "none"


def test_dockerfile_structure() -> None:
    lines = [ln.strip() for ln in (ROOT / "Dockerfile").read_text().splitlines()
             if ln.strip() and not ln.strip().startswith("#")]
    froms = [i for i, ln in enumerate(lines) if ln.startswith("FROM ")]
    assert len(froms) >= 2, "multi-stage"
    build = lines[froms[0]:froms[1]]
    final = lines[froms[-1]:]
    copy_lock = next(i for i, ln in enumerate(build) if ln.startswith("COPY") and "uv.lock" in ln)
    sync_deps = next(i for i, ln in enumerate(build) if "uv sync --frozen" in ln and "--no-install-project" in ln)
    copy_src = next(i for i, ln in enumerate(build) if re.match(r"COPY \. ", ln))
    assert copy_lock < sync_deps < copy_src, "dependencies are installed before the sources are copied"
    users = [ln for ln in final if ln.startswith("USER ")]
    assert users and users[-1].split()[1] not in ("root", "0")
    assert any(ln.startswith("HEALTHCHECK") for ln in final)
    assert any("fonts-wqy" in ln or "fonts-noto-cjk" in ln for ln in final), "CJK fonts for PDF export"
    ignored = (ROOT / ".dockerignore").read_text().split()
    assert {".git", ".venv"} <= set(ignored)


def _doctor(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    base = {k: v for k, v in os.environ.items() if not k.startswith("CLEW_")}
    return subprocess.run([sys.executable, "-m", "cli.main", "doctor"], cwd=ROOT, env={**base, **env},
                          capture_output=True, text=True, timeout=300)


def _lines(out: str) -> dict[str, str]:
    found = {}
    for ln in out.splitlines():
        m = re.match(r"^(OK|WARN|FAIL)\s+([\w /]+):", ln)
        if m:
            found[m.group(2)] = m.group(1)
        else:
            assert ln.startswith("     fix: "), ln
    return found


def test_doctor(db_url: str, tmp_path: Path) -> None:
    out = _doctor({"DATABASE_URL": db_url, "CLEW_DATA_DIR": str(tmp_path), "CLEW_AUTH": "none"})
    assert out.returncode == 0, out.stdout + out.stderr
    checks = _lines(out.stdout)
    assert checks["database"] == "OK" and checks["migrations"] == "OK"
    assert {"workers", "vector store", "models", "retrievers", "auth/CORS", "fonts"} <= set(checks)
    assert checks["auth/CORS"] == "OK"
    if checks["models"] == "WARN":
        assert "llm.provider" in out.stdout  # the fix is named


def test_doctor_fails_with_the_fix(db_url: str, tmp_path: Path) -> None:
    out = _doctor({"DATABASE_URL": f"postgresql://nobody@127.0.0.1:{free_port()}/none", "CLEW_DATA_DIR": str(tmp_path),
                   "CLEW_AUTH": "none", "CLEW_CORS_ORIGINS": '["*"]'})
    assert out.returncode == 1
    checks = _lines(out.stdout)
    assert checks["database"] == "FAIL" and checks["auth/CORS"] == "FAIL"
    assert "fix: check DATABASE_URL" in out.stdout
