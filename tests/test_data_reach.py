"""Where data connections may point (nodes/data/reach.py): clew's own database is refused by address, by
socket directory and — for aliases the static check cannot see — by the connected server's identity; hosts
and SQLite directories outside the administrator's lists are refused without saying anything about them."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict

from nodes.data.connect import build_engine, spec_of
from nodes.data.reach import NOT_ALLOWED, OWN_DATABASE, TargetRefused, check_target
from tests.support.pg import create_database, drop_database
from tests.support.runtime import node_runtime

LOCAL = ("localhost", "127.0.0.0/8", "::1", "/tmp")
TMP = ("/tmp",)


async def _check(host: str | None, port: int | None, database: str, *, own: str, data_dir: Path,
                 hosts: Sequence[str] = LOCAL, dirs: Sequence[str] = TMP, driver: str = "postgresql") -> str | None:
    return await check_target(driver, host, port, database, data_dir=data_dir, own_url=own,
                              allowed_hosts=hosts, sqlite_directories=dirs)


async def test_own_database_by_another_name_is_refused(tmp_path: Path) -> None:
    own = "postgresql://postgres@127.0.0.1:5432/clew"
    for host in ("127.0.0.1", "localhost", "127.0.0.2"):
        with pytest.raises(TargetRefused, match="clew's own database"):
            await _check(host, 5432, "clew", own=own, data_dir=tmp_path)
    # another database of the same server, or the same name on another port, is not clew's
    assert await _check("localhost", 5432, "shop", own=own, data_dir=tmp_path) is not None
    assert await _check("127.0.0.1", 5433, "clew", own=own, data_dir=tmp_path) == "127.0.0.1"


async def test_own_database_over_its_socket_directory_is_refused(tmp_path: Path) -> None:
    sock = tmp_path / "sock"
    sock.mkdir()
    own = f"postgresql://postgres@/clew?host={sock}"
    with pytest.raises(TargetRefused, match="clew's own database"):
        await _check(str(sock), None, "clew", own=own, data_dir=tmp_path / "data")
    with pytest.raises(TargetRefused, match="clew's own database"):
        await _check("127.0.0.1", 5432, "clew", own=own, data_dir=tmp_path / "data")
    with pytest.raises(TargetRefused, match="data directory"):
        await _check(str(tmp_path / "data" / "pg"), None, "shop", own=own, data_dir=tmp_path / "data")


async def test_hosts_outside_the_setting_are_refused_without_details(tmp_path: Path) -> None:
    own = "postgresql://postgres@127.0.0.1:5432/clew"
    for host in ("10.1.2.3", "192.168.7.7", "/var/lib/elsewhere"):
        with pytest.raises(TargetRefused) as info:
            await _check(host, 5432, "shop", own=own, data_dir=tmp_path)
        assert str(info.value) == NOT_ALLOWED
        assert host not in str(info.value)
    assert await _check("10.1.2.3", 5432, "shop", own=own, data_dir=tmp_path, hosts=["10.0.0.0/8"]) == "10.1.2.3"
    assert await _check("10.1.2.3", 5432, "shop", own=own, data_dir=tmp_path, hosts=["*"]) == "10.1.2.3"
    with pytest.raises(TargetRefused, match="clew's own database"):  # "*" never lets clew's own through
        await _check("127.0.0.1", 5432, "clew", own=own, data_dir=tmp_path, hosts=["*"])


async def test_sqlite_files_outside_the_allowed_directories_are_refused(tmp_path: Path) -> None:
    own = "postgresql://postgres@127.0.0.1:5432/clew"
    kw: dict[str, Any] = {"own": own, "data_dir": tmp_path / "data", "driver": "sqlite"}
    assert await _check(None, None, str(tmp_path / "a.sqlite"), dirs=[str(tmp_path)], **kw) is None
    with pytest.raises(TargetRefused, match="data.sqlite_directories"):
        await _check(None, None, "/etc/x.sqlite", dirs=[str(tmp_path)], **kw)
    with pytest.raises(TargetRefused, match="data directory"):
        await _check(None, None, str(tmp_path / "data" / "k.sqlite"), dirs=["*"], **kw)


class _Db:
    def __init__(self, url: str) -> None:
        self.url = url

    @asynccontextmanager
    async def connection(self) -> AsyncIterator[psycopg.AsyncConnection[Any]]:
        async with await psycopg.AsyncConnection.connect(self.url) as conn:
            yield conn


@pytest.fixture
def own_db(tmp_path: Path) -> Iterator[str]:
    url = create_database("clew_reach")
    with node_runtime(db=_Db(url), settings=SimpleNamespace(data_dir=tmp_path)):
        yield url
    drop_database(url)


async def test_a_session_that_reaches_clews_own_database_is_closed(own_db: str) -> None:
    """The static check passed (say a DNS name that later pointed at clew): the session itself is refused."""
    info = conninfo_to_dict(own_db)
    row = {"connection_id": "00000000-0000-0000-0000-000000000001", "user_id": "u", "name": "alias",
           "driver": "postgresql", "host": info.get("host"), "port": int(info.get("port") or 5432),
           "database": info["dbname"], "username": info.get("user"), "options": {}, "allowed_tables": None}
    engine = build_engine(spec_of(row, info.get("password")))
    try:
        with pytest.raises(TargetRefused, match=OWN_DATABASE):
            async with engine.connect():
                pass
    finally:
        await engine.dispose()
    # another database of the same server opens
    other = create_database("clew_reach_other")
    try:
        engine = build_engine(spec_of({**row, "database": conninfo_to_dict(other)["dbname"]}, info.get("password")))
        try:
            async with engine.connect() as conn:
                await conn.rollback()
        finally:
            await engine.dispose()
    finally:
        drop_database(other)
