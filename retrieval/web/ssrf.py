"""SSRF guard for page fetches: a URL may only lead to a public internet address.

URLs to fetch come from search results and models, so they are untrusted. Before every request (and again
for every redirect target) the host is resolved and each address checked: loopback, private, link-local,
multicast, reserved, unspecified, shared (CGNAT) and cloud-metadata addresses are refused, as are the
metadata host names, unless the administrator allow-listed the host, the address or a network containing it
(``search.allowed_hosts``). The fetcher then connects to the address that was checked, never resolving the
name a second time, so DNS rebinding cannot swap in a private address between check and connection.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address
IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network

METADATA_HOSTS: frozenset[str] = frozenset(
    {
        "metadata.google.internal",
        "metadata.goog",
        "metadata",
        "instance-data",
        "instance-data.ec2.internal",
        "metadata.azure.internal",
    }
)
METADATA_ADDRESSES: frozenset[IPAddress] = frozenset(
    {
        ipaddress.ip_address("169.254.169.254"),  # AWS, GCP, Azure, OpenStack, DigitalOcean
        ipaddress.ip_address("fd00:ec2::254"),  # AWS over IPv6
        ipaddress.ip_address("169.254.170.2"),  # AWS ECS task metadata
        ipaddress.ip_address("100.100.100.200"),  # Alibaba Cloud
    }
)

ALLOWED_SCHEMES = ("http", "https")


class FetchError(Exception):
    """A page could not be fetched (network, status, size, type, time)."""

    def __init__(self, url: str, message: str) -> None:
        super().__init__(f"{url}: {message}")
        self.url = url
        self.message = message


class BlockedUrlError(FetchError):
    """The URL leads somewhere the guard refuses (a non-public address or scheme)."""


@dataclass(frozen=True, slots=True)
class AllowList:
    """Hosts and networks exempt from the guard."""

    hosts: frozenset[str] = frozenset()
    networks: tuple[IPNetwork, ...] = ()

    @classmethod
    def parse(cls, entries: Iterable[str] | None) -> AllowList:
        hosts: set[str] = set()
        networks: list[IPNetwork] = []
        for raw in entries or ():
            entry = str(raw).strip().lower().rstrip(".")
            if not entry:
                continue
            try:
                networks.append(ipaddress.ip_network(entry.strip("[]"), strict=False))
            except ValueError:
                hosts.add(entry)
        return cls(frozenset(hosts), tuple(networks))

    def allows_host(self, host: str) -> bool:
        return host in self.hosts

    def allows_address(self, ip: IPAddress) -> bool:
        return any(ip in net for net in self.networks if net.version == ip.version)


def refusal_reason(ip: IPAddress) -> str | None:
    """Why ``ip`` must not be reached, or None for a public address."""
    if isinstance(ip, ipaddress.IPv6Address):
        mapped = ip.ipv4_mapped or ip.sixtofour
        if mapped is not None:
            return refusal_reason(mapped)
    if ip in METADATA_ADDRESSES:
        return "a cloud metadata address"
    if ip.is_loopback:
        return "a loopback address"
    if ip.is_link_local:
        return "a link-local address"
    if ip.is_multicast:
        return "a multicast address"
    if ip.is_unspecified:
        return "an unspecified address"
    if ip.is_reserved:
        return "a reserved address"
    if ip.is_private:
        return "a private address"
    if not ip.is_global:
        return "not a public address"
    return None


@dataclass(frozen=True, slots=True)
class Target:
    """A checked URL: its parts and the addresses that may be connected to."""

    url: str
    scheme: str
    host: str
    port: int
    addresses: tuple[IPAddress, ...]


async def _resolve(host: str, port: int) -> list[IPAddress]:
    loop = asyncio.get_running_loop()
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    out: list[IPAddress] = []
    for _family, _type, _proto, _canon, sockaddr in infos:
        ip = ipaddress.ip_address(str(sockaddr[0]).split("%", 1)[0])
        if ip not in out:
            out.append(ip)
    return out


async def check_url(url: str, allow: AllowList) -> Target:
    """Resolve and check ``url``; raises :class:`BlockedUrlError` or :class:`FetchError`."""
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise BlockedUrlError(url, f"malformed URL ({exc})") from exc
    scheme = parts.scheme.lower()
    if scheme not in ALLOWED_SCHEMES:
        raise BlockedUrlError(url, f"scheme {scheme or '(none)'!r} is not allowed; only http and https")
    host = (parts.hostname or "").lower().rstrip(".")
    if not host:
        raise BlockedUrlError(url, "the URL has no host")
    port = port or (443 if scheme == "https" else 80)
    host_allowed = allow.allows_host(host)
    if host in METADATA_HOSTS and not host_allowed:
        raise BlockedUrlError(url, f"{host} is a cloud metadata host")
    try:
        addresses = [ipaddress.ip_address(host)]
    except ValueError:
        try:
            addresses = await _resolve(host, port)
        except (OSError, UnicodeError) as exc:
            raise FetchError(url, f"cannot resolve {host} ({exc})") from exc
    if not addresses:
        raise FetchError(url, f"{host} has no address")
    if not host_allowed:
        for ip in addresses:
            if allow.allows_address(ip):
                continue
            reason = refusal_reason(ip)
            if reason is not None:
                raise BlockedUrlError(url, f"{host} resolves to {ip}, {reason}")
    return Target(url=url, scheme=scheme, host=host, port=port, addresses=tuple(addresses))
