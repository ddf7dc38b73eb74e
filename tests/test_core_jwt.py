"""JWT identity: HS256 and RS256 bearer tokens map to users; bad, expired or unsigned tokens are 401 JSON."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from tests.support.server import ClewProcess

SECRET = "test-secret-that-is-long-enough-for-hs256"


@pytest.fixture(scope="module")
def rsa_keys() -> tuple[str, str]:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                serialization.NoEncryption()).decode()
    public = key.public_key().public_bytes(serialization.Encoding.PEM,
                                           serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    return private, public


@pytest.fixture(scope="module")
def hs_server(db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(db_url, tmp_path_factory.mktemp("jwt-hs"), workers=1,
                       env={"CLEW_AUTH": "jwt", "CLEW_JWT_SECRET": SECRET, "CLEW_JWT_AUDIENCE": "clew"}).start()
    yield proc
    proc.stop()


@pytest.fixture(scope="module")
def rs_server(db_url: str, tmp_path_factory: pytest.TempPathFactory, rsa_keys: tuple[str, str]
              ) -> Iterator[ClewProcess]:
    proc = ClewProcess(db_url, tmp_path_factory.mktemp("jwt-rs"), workers=1,
                       env={"CLEW_AUTH": "jwt", "CLEW_JWT_ALGORITHM": "RS256",
                            "CLEW_JWT_PUBLIC_KEY": rsa_keys[1]}).start()
    yield proc
    proc.stop()


def _token(sub: str, key: str, alg: str = "HS256", **claims: Any) -> str:
    payload = {"sub": sub, "exp": int(time.time()) + 300, **claims}
    return jwt.encode(payload, key, algorithm=alg)


async def test_hs256_users_and_isolation(hs_server: ClewProcess) -> None:
    dana = {"Authorization": "Bearer " + _token("dana", SECRET, aud="clew")}
    erin = {"Authorization": "Bearer " + _token("erin", SECRET, aud="clew")}
    async with httpx.AsyncClient(base_url=hs_server.url) as http:
        r = await http.post("/threads", json={}, headers=dana)
        assert r.status_code == 200
        tid = r.json()["thread_id"]
        assert (await http.get(f"/threads/{tid}", headers=dana)).status_code == 200
        assert (await http.get(f"/threads/{tid}", headers=erin)).status_code == 404


@pytest.mark.parametrize("case", ["wrong_secret", "expired", "wrong_audience", "no_sub", "alg_none", "garbage"])
async def test_hs256_rejections(hs_server: ClewProcess, case: str) -> None:
    tokens = {
        "wrong_secret": _token("dana", "another-secret-that-is-long-enough", aud="clew"),
        "expired": jwt.encode({"sub": "dana", "exp": int(time.time()) - 10, "aud": "clew"}, SECRET),
        "wrong_audience": _token("dana", SECRET, aud="other"),
        "no_sub": jwt.encode({"exp": int(time.time()) + 60, "aud": "clew"}, SECRET),
        "alg_none": jwt.encode({"sub": "dana", "exp": int(time.time()) + 60, "aud": "clew"}, None, algorithm="none"),
        "garbage": "not.a.token",
    }
    async with httpx.AsyncClient(base_url=hs_server.url) as http:
        r = await http.post("/threads/search", json={}, headers={"Authorization": "Bearer " + tokens[case]})
    assert r.status_code == 401
    assert r.json()["error"] == "unauthorized" and "token" in r.json()["detail"]


async def test_rs256(rs_server: ClewProcess, rsa_keys: tuple[str, str]) -> None:
    good = {"Authorization": "Bearer " + _token("frank", rsa_keys[0], "RS256")}
    forged = {"Authorization": "Bearer " + _token("frank", SECRET, "HS256")}
    async with httpx.AsyncClient(base_url=rs_server.url) as http:
        assert (await http.post("/threads", json={}, headers=good)).status_code == 200
        r = await http.post("/threads", json={}, headers=forged)
        assert r.status_code == 401


async def test_api_keys_work_alongside_jwt(hs_server: ClewProcess, db_url: str, data_dir: Path) -> None:
    from tests.support.keys import make_key

    key = make_key(db_url, "gina")
    async with httpx.AsyncClient(base_url=hs_server.url) as http:
        assert (await http.post("/threads", json={}, headers={"x-api-key": key})).status_code == 200
        assert (await http.post("/threads", json={}, headers={"x-api-key": "clew_wrong"})).status_code == 401
