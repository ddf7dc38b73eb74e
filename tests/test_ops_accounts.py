"""Accounts: register, login, refresh with rotation and reuse detection, logout, me; API keys from the API and
the CLI; roles; login throttling; an external identity provider's keys from JWKS, rotated.

Servers run with ``CLEW_AUTH=api_key`` (clew's own tokens are accepted there) and ``CLEW_AUTH=jwt`` with a
JWKS served by a local HTTP server on loopback.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa
from langgraph_sdk import get_client

from tests.support.core import db_rows
from tests.support.pg import create_database, drop_database
from tests.support.server import ROOT, ClewProcess

PASSWORD = "correct horse battery"


@pytest.fixture(scope="module")
def accounts_db() -> Iterator[str]:
    url = create_database("clew_accounts")
    yield url
    drop_database(url)


@pytest.fixture(scope="module")
def acct_server(accounts_db: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ClewProcess]:
    proc = ClewProcess(accounts_db, tmp_path_factory.mktemp("accounts"), workers=1,
                       env={"CLEW_AUTH": "api_key", "CLEW_ADMIN_USERS": "[]",
                            "CLEW_LOGIN_ATTEMPTS_PER_ACCOUNT": "4/hour"}).start()
    yield proc
    proc.stop()


def _http(server: ClewProcess, token: str | None = None) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.AsyncClient(base_url=server.url, headers=headers, timeout=30.0)


async def _register(c: httpx.AsyncClient, name: str, password: str = PASSWORD) -> httpx.Response:
    return await c.post("/api/v1/auth/register", json={"username": name, "password": password})


async def _login(c: httpx.AsyncClient, name: str, password: str = PASSWORD) -> dict[str, Any]:
    r = await c.post("/api/v1/auth/login", json={"username": name, "password": password})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _cli(db_url: str, data_dir: Path, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DATABASE_URL": db_url, "CLEW_DATA_DIR": str(data_dir)}
    return subprocess.run([sys.executable, "-m", "cli.main", *args], cwd=ROOT, env=env, input=stdin,
                          capture_output=True, text=True, timeout=120)


async def test_register_first_is_admin_then_users(acct_server: ClewProcess, accounts_db: str) -> None:
    async with _http(acct_server) as c:
        first = await _register(c, "Ada")
        assert first.status_code == 201, first.text
        assert first.json()["user_id"] == "ada" and first.json()["role"] == "admin"
        second = await _register(c, "bert")
        assert second.status_code == 201 and second.json()["role"] == "user"
        dup = await _register(c, "ADA", "another password")
        assert dup.status_code == 409 and dup.json()["error"] == "conflict"
        assert (await _register(c, "carl", "short")).status_code == 422
        assert (await c.post("/api/v1/auth/register", json={"username": "x y", "password": PASSWORD})).status_code == 422
        r = await c.post("/api/v1/auth/register", json={"username": "dora", "password": PASSWORD, "admin": True})
        assert r.status_code == 422  # extra fields are refused, no role can be asked for
    rows = await db_rows(accounts_db, "SELECT user_id, password_hash FROM users WHERE user_id IN ('ada', 'bert')")
    assert all(r["password_hash"].startswith("$argon2id$") for r in rows)


async def test_login_me_and_roles(acct_server: ClewProcess) -> None:
    async with _http(acct_server) as c:
        bad = await c.post("/api/v1/auth/login", json={"username": "ada", "password": "wrong password"})
        assert bad.status_code == 401 and bad.json()["detail"] == "wrong username or password"
        unknown = await c.post("/api/v1/auth/login", json={"username": "nobody", "password": PASSWORD})
        assert unknown.status_code == 401 and unknown.json()["detail"] == bad.json()["detail"]
        ada, bert = await _login(c, "ada"), await _login(c, "bert")
    assert ada["token_type"] == "bearer" and ada["expires_in"] > 0
    async with _http(acct_server, ada["access_token"]) as c:
        me = (await c.get("/api/v1/auth/me")).json()
        assert me["user_id"] == "ada" and me["is_admin"] is True and me["role"] == "admin"
        assert (await c.get("/api/v1/system/config")).status_code == 200
        assert (await c.get("/api/v1/users")).status_code == 200
    async with _http(acct_server, bert["access_token"]) as c:
        me = (await c.get("/api/v1/auth/me")).json()
        assert me["user_id"] == "bert" and me["is_admin"] is False
        assert (await c.get("/api/v1/system/config")).status_code == 403
        assert (await c.get("/api/v1/users")).status_code == 403
        # a refresh token is not an access token
        assert (await c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {bert['refresh_token']}"})
                ).status_code == 401
    # a tampered token is refused
    head, body, sig = ada["access_token"].split(".")
    forged = ".".join([head, body, sig[:-2] + ("AA" if not sig.endswith("AA") else "BB")])
    async with _http(acct_server, forged) as c:
        assert (await c.get("/api/v1/auth/me")).status_code == 401
    # the access token works with the official SDK (a Bearer header), and data stays per user
    sdk = get_client(url=acct_server.url, headers={"Authorization": f"Bearer {bert['access_token']}"})
    other = get_client(url=acct_server.url, headers={"Authorization": f"Bearer {ada['access_token']}"})
    try:
        thread = await sdk.threads.create()
        out = await sdk.runs.wait(thread["thread_id"], "steps3", input={})
        assert out["count"] == 3
        with pytest.raises(httpx.HTTPStatusError) as exc:
            await other.threads.get(thread["thread_id"])
        assert exc.value.response.status_code == 404
    finally:
        await sdk.http.client.aclose()
        await other.http.client.aclose()


async def test_refresh_rotation_reuse_detection_and_logout(acct_server: ClewProcess) -> None:
    async with _http(acct_server) as c:
        first = await _login(c, "bert")
        r = await c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert r.status_code == 200, r.text
        second = r.json()
        assert second["refresh_token"] != first["refresh_token"]
        assert second["access_token"] != first["access_token"]
        # the new access token works
        me = await c.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {second['access_token']}"})
        assert me.json()["user_id"] == "bert"
        # rotation goes on
        r = await c.post("/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]})
        third = r.json()
        assert r.status_code == 200
        # the first refresh token is presented again: a stolen copy; the family is revoked
        reuse = await c.post("/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]})
        assert reuse.status_code == 401 and reuse.json()["error"] == "refresh_reused"
        after = await c.post("/api/v1/auth/refresh", json={"refresh_token": third["refresh_token"]})
        assert after.status_code == 401, "the family's newest token must be revoked too"
        # another sign-in is its own family and is unaffected
        other = await _login(c, "bert")
        ok = await c.post("/api/v1/auth/refresh", json={"refresh_token": other["refresh_token"]})
        assert ok.status_code == 200
        # logout revokes that family
        out = await c.post("/api/v1/auth/logout", json={"refresh_token": ok.json()["refresh_token"]})
        assert out.status_code == 204
        gone = await c.post("/api/v1/auth/refresh", json={"refresh_token": ok.json()["refresh_token"]})
        assert gone.status_code == 401
        # garbage and an access token are not refresh tokens
        assert (await c.post("/api/v1/auth/refresh", json={"refresh_token": "x.y.z"})).status_code == 401
        assert (await c.post("/api/v1/auth/refresh", json={"refresh_token": other["access_token"]})).status_code == 401
        assert (await c.post("/api/v1/auth/refresh", json={})).status_code == 422


async def test_login_attempts_are_rate_limited(acct_server: ClewProcess) -> None:
    async with _http(acct_server) as c:
        assert (await _register(c, "eve")).status_code == 201
        answers = [await c.post("/api/v1/auth/login", json={"username": "eve", "password": "guess " + str(i)})
                   for i in range(4)]
        assert [a.status_code for a in answers] == [401] * 4
        blocked = await c.post("/api/v1/auth/login", json={"username": "eve", "password": PASSWORD})
        assert blocked.status_code == 429, blocked.text
        assert int(blocked.headers["retry-after"]) > 0
        assert blocked.json()["error"] == "rate_limited" and blocked.json()["route_class"] == "login_account"
        # another account is not blocked by eve's counter
        assert (await c.post("/api/v1/auth/login", json={"username": "ada", "password": PASSWORD})).status_code == 200


async def test_api_keys_from_the_api(acct_server: ClewProcess) -> None:
    async with _http(acct_server) as c:
        bert, ada = await _login(c, "bert"), await _login(c, "ada")
    async with _http(acct_server, bert["access_token"]) as c:
        r = await c.post("/api/v1/keys", json={"name": "laptop"})
        assert r.status_code == 201, r.text
        key, key_id = r.json()["key"], r.json()["key_id"]
        assert key.startswith("clew_") and r.json()["name"] == "laptop"
        listed = (await c.get("/api/v1/keys")).json()
        assert [k["key_id"] for k in listed] == [key_id] and "key" not in listed[0]
        assert (await c.post("/api/v1/keys", json={"name": "x", "scope": "all"})).status_code == 422
    # the key works for programs
    async with httpx.AsyncClient(base_url=acct_server.url, headers={"x-api-key": key}) as k:
        assert (await k.get("/api/v1/auth/me")).json()["user_id"] == "bert"
    # another user can neither see nor revoke it: 404
    async with _http(acct_server, ada["access_token"]) as c:
        assert key_id not in [k["key_id"] for k in (await c.get("/api/v1/keys")).json()]
        assert (await c.delete(f"/api/v1/keys/{key_id}")).status_code == 404
        assert (await c.delete("/api/v1/keys/not-a-uuid")).status_code == 404
    async with httpx.AsyncClient(base_url=acct_server.url, headers={"x-api-key": key}) as k:
        assert (await k.get("/api/v1/auth/me")).status_code == 200
    # its owner revokes it: 401 from then on
    async with _http(acct_server, bert["access_token"]) as c:
        r = await c.delete(f"/api/v1/keys/{key_id}")
        assert r.status_code == 200 and r.json()["revoked_at"]
    async with httpx.AsyncClient(base_url=acct_server.url, headers={"x-api-key": key}) as k:
        r = await k.get("/api/v1/auth/me")
        assert r.status_code == 401 and r.json()["detail"] == "invalid API key"


async def test_cli_users_and_keys(acct_server: ClewProcess, accounts_db: str) -> None:
    data = acct_server.data_dir
    out = _cli(accounts_db, data, "users", "create", "Olga", "--admin", "--password-stdin", stdin=PASSWORD + "\n")
    assert out.returncode == 0, out.stderr
    assert "olga (admin)" in out.stdout
    async with _http(acct_server) as c:
        olga = await _login(c, "olga")
    assert olga["role"] == "admin"
    created = _cli(accounts_db, data, "keys", "create", "olga", "--name", "ci")
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("clew_")
    listing = _cli(accounts_db, data, "keys", "list", "olga")
    assert "ci" in listing.stdout and "active" in listing.stdout
    key_id = listing.stdout.split()[0]
    async with httpx.AsyncClient(base_url=acct_server.url, headers={"x-api-key": key}) as k:
        assert (await k.get("/api/v1/auth/me")).json()["user_id"] == "olga"
        revoked = _cli(accounts_db, data, "keys", "revoke", key_id)
        assert revoked.returncode == 0 and "revoked" in revoked.stdout
        r = await k.post("/threads/search", json={})
        assert r.status_code == 401 and r.json()["detail"] == "invalid API key"
    assert _cli(accounts_db, data, "keys", "revoke", str(uuid.uuid4())).returncode == 1
    users = _cli(accounts_db, data, "users", "list")
    assert "olga" in users.stdout and "admin" in users.stdout


def test_registration_can_be_turned_off(accounts_db: str, tmp_path: Path) -> None:
    proc = ClewProcess(accounts_db, tmp_path, workers=0,
                       env={"CLEW_AUTH": "api_key", "CLEW_AUTH_REGISTRATION": "false"}).start()
    try:
        r = httpx.post(proc.url + "/api/v1/auth/register", json={"username": "zed", "password": PASSWORD})
        assert r.status_code == 403 and r.json()["error"] == "registration_closed"
        # existing accounts still sign in
        assert httpx.post(proc.url + "/api/v1/auth/login",
                          json={"username": "ada", "password": PASSWORD}).status_code == 200
    finally:
        proc.stop()


# -- an external identity provider with a JWKS endpoint --------------------------------------------------


class _Jwks:
    def __init__(self) -> None:
        self.keys: dict[str, Any] = {}
        self.fetches = 0

    def add(self, kid: str) -> Any:
        private = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.keys[kid] = private
        return private

    def document(self) -> bytes:
        out = []
        for kid, private in self.keys.items():
            jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(private.public_key()))
            out.append({**jwk, "kid": kid, "use": "sig", "alg": "RS256"})
        return json.dumps({"keys": out}).encode()


@pytest.fixture(scope="module")
def jwks() -> Iterator[tuple[_Jwks, str]]:
    state = _Jwks()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802 - the standard library's name
            state.fetches += 1
            body = state.document()
            self.send_response(200)
            self.send_header("content-type", "application/json")
            self.send_header("content-length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield state, f"http://127.0.0.1:{httpd.server_address[1]}/.well-known/jwks.json"
    httpd.shutdown()


def _idp_token(private: Any, kid: str, sub: str) -> str:
    return jwt.encode({"sub": sub, "exp": int(time.time()) + 600, "aud": "clew", "iss": "https://idp.test"},
                      private, algorithm="RS256", headers={"kid": kid})


async def test_external_jwks_with_key_rotation(accounts_db: str, tmp_path: Path, jwks: tuple[_Jwks, str]) -> None:
    state, url = jwks
    first = state.add("k1")
    proc = ClewProcess(accounts_db, tmp_path, workers=0, env={
        "CLEW_AUTH": "jwt", "CLEW_JWT_JWKS_URL": url, "CLEW_JWT_AUDIENCE": "clew",
        "CLEW_JWT_ISSUER": "https://idp.test", "CLEW_JWT_JWKS_COOLDOWN_SECONDS": "0"}).start()
    try:
        async with _http(proc, _idp_token(first, "k1", "ivy@idp")) as c:
            me = await c.get("/api/v1/auth/me")
            assert me.status_code == 200 and me.json()["user_id"] == "ivy@idp"
        # the provider rotates: a new key, the old one withdrawn
        second = state.add("k2")
        del state.keys["k1"]
        fetches = state.fetches
        async with _http(proc, _idp_token(second, "k2", "ivy@idp")) as c:
            assert (await c.get("/api/v1/auth/me")).status_code == 200
        assert state.fetches == fetches + 1  # the unknown kid made clew fetch the key set again
        # a token signed by an unknown key, or with the wrong audience, is refused
        stranger = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        async with _http(proc, _idp_token(stranger, "k2", "mallory")) as c:
            assert (await c.get("/api/v1/auth/me")).status_code == 401
        async with _http(proc, _idp_token(stranger, "k9", "mallory")) as c:
            assert (await c.get("/api/v1/auth/me")).status_code == 401
        wrong_aud = jwt.encode({"sub": "ivy", "exp": int(time.time()) + 60, "aud": "other", "iss": "https://idp.test"},
                               second, algorithm="RS256", headers={"kid": "k2"})
        async with _http(proc, wrong_aud) as c:
            assert (await c.get("/api/v1/auth/me")).status_code == 401
        # clew's own accounts keep working next to the provider
        async with _http(proc) as c:
            await _register(c, "judy")
            judy = await _login(c, "judy")
        async with _http(proc, judy["access_token"]) as c:
            assert (await c.get("/api/v1/auth/me")).json()["user_id"] == "judy"
    finally:
        proc.stop()
