"""Schema-driven fuzzing: every operation of ``/openapi.json`` with generated valid and invalid input, auth on.

Schemathesis reads the served schema, generates requests (bodies, path and query parameters, from the schema
and deliberately against it) and sends them to a real server with alice's API key. Asserted for every
response: no 5xx. The number of examples per operation is bounded
(``CLEW_FUZZ_EXAMPLES``, default 12) so the whole module stays around two minutes on two cores; raise it to
explore. Reusable: another module can call :func:`fuzz` with its own server and headers. (Schemathesis'
pytest plugin, ``from_fixture``, does not run under pytest 9, so the operations are driven here with
Hypothesis directly.)
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from typing import Any

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode

from tests.support.keys import make_key
from tests.support.server import ClewProcess, clew_server

EXAMPLES = int(os.environ.get("CLEW_FUZZ_EXAMPLES", "12"))

# operations that never end by themselves for a valid id (a live stream of a thread), or serve files
SKIP_PATHS = ("/threads/{thread_id}/stream",)


@pytest.fixture(scope="module")
def fuzz_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[ClewProcess, str]]:
    env = {"CLEW_AUTH": "api_key", "CLEW_ADMIN_USERS": '["admin"]', "CLEW_RUN_TIMEOUT_SECONDS": "20"}
    with clew_server(tmp_path_factory.mktemp("fuzz"), "clew_fuzz", workers=2, env=env) as proc:
        yield proc, make_key(proc.db_url, "alice")


def fuzz_schema(server: ClewProcess) -> Any:
    schema = schemathesis.openapi.from_url(server.url + "/openapi.json")
    return schema.exclude(path=list(SKIP_PATHS))


def _prober(server: ClewProcess, session: requests.Session, headers: dict[str, str], operation: Any,
            mode: GenerationMode, examples: int, found: list[str]) -> Any:
    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(max_examples=examples, deadline=None, phases=[Phase.explicit, Phase.generate],
              suppress_health_check=list(HealthCheck), derandomize=True, database=None)
    def probe(case: Any) -> None:
        response = case.call(base_url=server.url, session=session, headers=headers, timeout=30)
        if response.status_code >= 500:
            found.append(f"{response.status_code} {case.method} {case.formatted_path} ({mode.value}): "
                         f"{response.text[:300]} <- {case.body!r:.300}")

    return probe


def fuzz(server: ClewProcess, headers: dict[str, str], examples: int = EXAMPLES) -> list[str]:
    """Send ``examples`` generated requests (valid and invalid input) per operation; answer the 5xx found, as
    ``"<status> <METHOD> <path> (<mode>): <body> <- <request body>"`` lines (empty: none)."""
    found: list[str] = []
    session = requests.Session()
    for result in fuzz_schema(server).get_all_operations():
        operation = result.ok()
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            try:
                _prober(server, session, headers, operation, mode, examples, found)()
            except Unsatisfiable:  # nothing to make invalid (an operation without parameters or body)
                continue
    return found


def test_no_operation_answers_5xx(fuzz_server: tuple[ClewProcess, str]) -> None:
    server, key = fuzz_server
    found = fuzz(server, {"x-api-key": key})
    assert not found, "\n".join(found)


def test_no_operation_answers_5xx_without_a_key(fuzz_server: tuple[ClewProcess, str]) -> None:
    """The same schema with no credentials: protected operations answer 401, the sign-in routes (register,
    login, refresh, logout: api/routers/accounts.py) get the generated bodies themselves."""
    server, _ = fuzz_server
    found = fuzz(server, {}, examples=max(4, EXAMPLES // 2))
    assert not found, "\n".join(found)
