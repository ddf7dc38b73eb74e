"""Where a data connection may point: never at clew's own database, only at hosts and SQLite directories the
administrator allows (``data.allowed_hosts``, ``data.sqlite_directories``, system scope).

A data connection runs the SQL a user (or a model) writes with the connection's credentials. Pointed at
clew's own database it would serve every user's API keys, threads and settings through schema samples or
an edited query, so a target is checked three times:

- when a connection is created or updated (:func:`check_target`): the host (a name, an IP, or a unix
  socket directory) is resolved and compared with clew's own connection (``DATABASE_URL`` or the embedded
  server's socket directory inside ``CLEW_DATA_DIR``); any host path inside the data directory is refused;
  the host must be allowed by ``data.allowed_hosts``, a SQLite file must lie in ``data.sqlite_directories``;
- when a PostgreSQL session is opened (:func:`resolve_for_connect` pins the address it checked, so a DNS
  answer cannot change between the check and the connection);
- once connected (:func:`refuse_if_own`): the server's ``current_database()`` and
  ``pg_postmaster_start_time()`` are compared with clew's own pool's, which catches every alias (another
  name or address of the same server, a settings change) the static checks cannot see.

Errors are :class:`TargetRefused` with a text safe to show to the user: a host that is not allowed is named
as the setting that refuses it, never with what it resolves to or whether it answers.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from psycopg.conninfo import conninfo_to_dict

from config_schema.categories.data import DEFAULT_ALLOWED_HOSTS, DEFAULT_SQLITE_DIRECTORIES

DEFAULT_PORTS = {"postgresql": 5432, "mysql": 3306}

NOT_ALLOWED = "this host is not allowed for data connections (an administrator sets data.allowed_hosts)"
OWN_DATABASE = "a data connection may not point at clew's own database"
OWN_DATA_DIR = "a data connection may not point into clew's own data directory"


class TargetRefused(ValueError):
    """The target is clew's own database or not allowed; the message is safe to show to the user."""


@dataclass(frozen=True)
class OwnDatabase:
    """Where clew's own Postgres is: ``host`` (a name, an IP or a socket directory, None for libpq's default),
    ``port`` and ``dbname`` from its connection URL."""

    host: str | None
    port: int
    dbname: str

    @classmethod
    def from_url(cls, url: str) -> OwnDatabase:
        info = conninfo_to_dict(url)
        host = (info.get("host") or "").split(",")[0] or None
        port = str(info.get("port") or "5432").split(",")[0]
        return cls(host=host, port=int(port or 5432), dbname=str(info.get("dbname") or info.get("user") or "postgres"))


def _is_path(host: str | None) -> bool:
    return bool(host) and (str(host).startswith("/") or str(host).startswith("@"))


def _resolve_path(path: str) -> Path:
    return Path(path).expanduser().resolve()


def _inside(path: Path, directory: Path) -> bool:
    return path == directory or path.is_relative_to(directory)


async def _addresses(host: str, port: int) -> set[str]:
    """The IP addresses ``host`` resolves to (an IP literal resolves to itself); empty when it does not
    resolve."""
    try:
        return {str(ipaddress.ip_address(host))}
    except ValueError:
        pass
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError:
        return set()
    return {str(ipaddress.ip_address(str(i[4][0]).split("%")[0])) for i in infos}


def _loopback(address: str) -> bool:
    return ipaddress.ip_address(address).is_loopback


def _address_allowed(address: str, entries: Sequence[str]) -> bool:
    ip = ipaddress.ip_address(address)
    for entry in entries:
        try:
            if ip in ipaddress.ip_network(entry, strict=False):
                return True
        except ValueError:
            continue
    return False


def check_sqlite(path: str, data_dir: Path, directories: Sequence[str]) -> None:
    """Refuse a SQLite file inside clew's data directory or outside every allowed directory."""
    resolved = _resolve_path(path)
    if _inside(resolved, _resolve_path(str(data_dir))):
        raise TargetRefused("a SQLite connection may not point into clew's own data directory")
    if "*" in directories:
        return
    if not any(_inside(resolved, _resolve_path(d)) for d in directories if d):
        raise TargetRefused(
            "this SQLite file is not in a directory allowed for data connections "
            "(an administrator sets data.sqlite_directories)"
        )


def _check_socket_dir(host: str, data_dir: Path, own: OwnDatabase | None, allowed_hosts: Sequence[str]) -> None:
    """A unix socket directory (file system reads: run in a thread). ``own`` is clew's database when the
    target's port and database name are the same as clew's."""
    path = _resolve_path(host.lstrip("@"))
    if _inside(path, _resolve_path(str(data_dir))):
        raise TargetRefused(OWN_DATA_DIR)
    if own is not None and (own.host is None or (_is_path(own.host) and path == _resolve_path(own.host))):
        raise TargetRefused(OWN_DATABASE)
    if "*" not in allowed_hosts and not any(_is_path(e) and _inside(path, _resolve_path(e)) for e in allowed_hosts):
        raise TargetRefused(NOT_ALLOWED)


async def check_target(
    driver: str,
    host: str | None,
    port: int | None,
    database: str,
    *,
    data_dir: Path,
    own_url: str,
    allowed_hosts: Sequence[str],
    sqlite_directories: Sequence[str],
) -> str | None:
    """Raise :class:`TargetRefused` when the target is clew's own database, inside the data directory or not
    allowed. Returns the IP address to connect to for a host name (so the connection uses the address that
    was checked), None for a socket directory or SQLite."""
    if driver == "sqlite":
        await asyncio.to_thread(check_sqlite, database, data_dir, sqlite_directories)
        return None
    port = port or DEFAULT_PORTS.get(driver, 5432)
    host = host or "127.0.0.1"
    own = OwnDatabase.from_url(own_url) if driver == "postgresql" else None
    same_db = own is not None and port == own.port and database == own.dbname
    if _is_path(host):
        await asyncio.to_thread(_check_socket_dir, host, data_dir, own if same_db else None, allowed_hosts)
        return None
    addresses = await _addresses(host, port)
    if same_db and own is not None:
        if own.host is None or _is_path(own.host):
            # clew talks to its server over a local socket; the same port and database on this machine is it
            if any(_loopback(a) for a in addresses) or host.lower() == "localhost":
                raise TargetRefused(OWN_DATABASE)
        else:
            own_addresses = await _addresses(own.host, own.port)
            if addresses & own_addresses or host.lower() == own.host.lower() or (
                any(_loopback(a) for a in addresses) and any(_loopback(a) for a in own_addresses)
            ):
                raise TargetRefused(OWN_DATABASE)
    named = host.lower() in {e.lower() for e in allowed_hosts if not _is_path(e)}
    if "*" not in allowed_hosts and not named and not (addresses and all(_address_allowed(a, allowed_hosts) for a in addresses)):
        raise TargetRefused(NOT_ALLOWED)
    return sorted(addresses)[0] if addresses else None


def setting_list(values: dict[str, Any], key: str, default: Iterable[str]) -> list[str]:
    value = values.get(key)
    return [str(v) for v in value] if isinstance(value, list) else list(default)


# --------------------------------------------------------------------- the running server's identity
def refuse_if_own(theirs: tuple[str, str], own: tuple[str, str] | None) -> None:
    if own is not None and theirs == own:
        raise TargetRefused(OWN_DATABASE)
