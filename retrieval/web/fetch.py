"""Page fetching: httpx with the SSRF guard on every hop, size / time / redirect limits, per-host limits.

Redirects are followed by hand so each target is checked by :mod:`retrieval.web.ssrf` before it is
requested, and the connection goes to the address that was checked (the URL's host is kept in the Host
header and, for https, as the TLS server name, so certificates are still verified against it). The body is
streamed and abandoned once it passes ``search.fetch_max_bytes``; the whole fetch, redirects included,
must finish within ``search.timeout_seconds``. At most ``search.per_host_concurrency`` fetches run against
one host at a time. HTML is reduced to its main text with trafilatura, PDFs with pypdfium2 (retrieval.pdf_text), both in a thread.
"""

from __future__ import annotations

import asyncio
import ipaddress
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import httpx
import structlog

from config_schema.access import setting
from retrieval.extract import ExtractionError, decode_text, extract_pdf, html_to_text
from retrieval.types import FetchedPage
from retrieval.web.ssrf import AllowList, BlockedUrlError, FetchError, Target, check_url

log = structlog.get_logger("clew.web")

REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
HTML_TYPES = ("text/html", "application/xhtml+xml")
TEXT_TYPES = ("text/plain", "text/markdown", "text/x-markdown")
PDF_TYPES = ("application/pdf",)


def _pinned_request(target: Target, ip: ipaddress.IPv4Address | ipaddress.IPv6Address) -> tuple[str, str]:
    """The URL with its host replaced by ``ip``, and the Host header value to send."""
    parts = urlsplit(target.url)
    literal = f"[{ip}]" if ip.version == 6 else str(ip)
    default_port = 443 if target.scheme == "https" else 80
    netloc = literal if target.port == default_port else f"{literal}:{target.port}"
    host_header = parts.hostname or target.host
    if ":" in host_header:
        host_header = f"[{host_header}]"
    if target.port != default_port:
        host_header = f"{host_header}:{target.port}"
    return urlunsplit((target.scheme, netloc, parts.path or "/", parts.query, "")), host_header


def _media_type(content_type: str) -> str:
    return content_type.split(";", 1)[0].strip().lower()


def _charset(content_type: str) -> str | None:
    for part in content_type.split(";")[1:]:
        key, _, value = part.partition("=")
        if key.strip().lower() == "charset" and value.strip():
            return value.strip().strip('"')
    return None


def _decode(body: bytes, content_type: str) -> str:
    charset = _charset(content_type)
    if charset:
        try:
            return body.decode(charset, errors="replace")
        except LookupError:
            pass
    return decode_text(body)


def _sniff(body: bytes) -> str:
    head = body[:1024].lstrip().lower()
    if head.startswith(b"%pdf-"):
        return "application/pdf"
    if head.startswith((b"<!doctype html", b"<html")) or b"<html" in head:
        return "text/html"
    return "text/plain"


def _to_text(url: str, body: bytes, content_type: str) -> tuple[str | None, str]:
    """(title, text) of a response body (blocking)."""
    media = _media_type(content_type) or _sniff(body)
    if media in HTML_TYPES or (media.endswith("+xml") and b"<html" in body[:2048].lower()):
        extracted = html_to_text(_decode(body, content_type), url=url)
        return extracted.title, extracted.text
    if media in PDF_TYPES:
        extracted = extract_pdf(body)
        return extracted.title, extracted.text
    if media in TEXT_TYPES:
        return None, _decode(body, content_type).strip()
    raise FetchError(url, f"unsupported content type {media}")


class PageFetcher:
    """Fetches pages safely; one instance per process so its per-host limits are shared."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        # trust_env=False: a proxy from the environment would connect on our behalf and bypass the pinning.
        # No keep-alive: the pool is keyed by address, so a kept connection (with its TLS server name) could
        # otherwise be reused for another host name served from the same address.
        self._client = client or httpx.AsyncClient(
            follow_redirects=False,
            trust_env=False,
            timeout=httpx.Timeout(30.0, connect=10.0),
            limits=httpx.Limits(max_keepalive_connections=0),
        )
        self._host_slots: dict[tuple[str, int], asyncio.Semaphore] = {}

    def _slot(self, host: str, limit: int) -> asyncio.Semaphore:
        key = (host, limit)
        sem = self._host_slots.get(key)
        if sem is None:
            sem = self._host_slots[key] = asyncio.Semaphore(limit)
        return sem

    async def fetch(self, url: str, values: Mapping[str, Any] | None = None) -> FetchedPage:
        """Fetch ``url`` and reduce it to text; raises :class:`FetchError` (or :class:`BlockedUrlError`)."""
        timeout = float(setting(values, "search.timeout_seconds"))
        try:
            async with asyncio.timeout(timeout):
                return await self._fetch(url, values)
        except TimeoutError:
            raise FetchError(url, f"timed out after {timeout:g} s") from None

    async def fetch_many(
        self, urls: Sequence[str], values: Mapping[str, Any] | None = None
    ) -> list[FetchedPage | FetchError]:
        """Fetch several pages concurrently (per-host limits apply); failures are returned, not raised."""

        async def one(u: str) -> FetchedPage | FetchError:
            try:
                return await self.fetch(u, values)
            except FetchError as exc:
                return exc

        return list(await asyncio.gather(*(one(u) for u in urls)))

    async def _fetch(self, url: str, values: Mapping[str, Any] | None) -> FetchedPage:
        allow = AllowList.parse(setting(values, "search.allowed_hosts"))
        max_bytes = int(setting(values, "search.fetch_max_bytes"))
        max_redirects = int(setting(values, "search.fetch_max_redirects"))
        per_host = int(setting(values, "search.per_host_concurrency"))
        headers = {
            "User-Agent": str(setting(values, "search.user_agent")),
            "Accept": "text/html,application/xhtml+xml,text/plain;q=0.9,application/pdf;q=0.8,*/*;q=0.5",
        }
        current = url
        redirects: list[str] = []
        while True:
            target = await check_url(current, allow)
            async with self._slot(target.host, per_host):
                response = await self._send(target, headers)
                try:
                    location = response.headers.get("location")
                    if response.status_code in REDIRECT_STATUSES and location:
                        if len(redirects) >= max_redirects:
                            raise FetchError(url, f"more than {max_redirects} redirects")
                        current = urljoin(current, location)
                        redirects.append(current)
                        continue
                    if response.status_code >= 400:
                        raise FetchError(current, f"HTTP {response.status_code}")
                    body = await self._read(response, current, max_bytes)
                    content_type = response.headers.get("content-type", "")
                    status = response.status_code
                finally:
                    await response.aclose()
            try:
                title, text = await asyncio.to_thread(_to_text, current, body, content_type)
            except ExtractionError as exc:
                raise FetchError(current, str(exc)) from exc
            return FetchedPage(
                url=url,
                final_url=current,
                status_code=status,
                content_type=_media_type(content_type) or _sniff(body),
                title=title,
                text=text,
                redirects=redirects,
            )

    async def _send(self, target: Target, headers: dict[str, str]) -> httpx.Response:
        last: Exception | None = None
        for ip in target.addresses:
            pinned_url, host_header = _pinned_request(target, ip)
            extensions = {"sni_hostname": target.host} if target.scheme == "https" else {}
            request = self._client.build_request(
                "GET", pinned_url, headers={**headers, "Host": host_header}, extensions=extensions
            )
            try:
                return await self._client.send(request, stream=True, follow_redirects=False)
            except (httpx.ConnectError, httpx.ConnectTimeout) as exc:
                last = exc
            except httpx.HTTPError as exc:
                raise FetchError(target.url, f"request failed ({type(exc).__name__}: {exc})") from exc
        raise FetchError(target.url, f"cannot connect ({last})")

    @staticmethod
    async def _read(response: httpx.Response, url: str, max_bytes: int) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            raise FetchError(url, f"body of {declared} bytes exceeds the limit of {max_bytes}")
        chunks: list[bytes] = []
        size = 0
        try:
            async for chunk in response.aiter_bytes():
                size += len(chunk)
                if size > max_bytes:
                    raise FetchError(url, f"body exceeds the limit of {max_bytes} bytes")
                chunks.append(chunk)
        except httpx.HTTPError as exc:
            raise FetchError(url, f"reading the body failed ({exc})") from exc
        return b"".join(chunks)

    async def aclose(self) -> None:
        await self._client.aclose()


_default: PageFetcher | None = None


def default_fetcher() -> PageFetcher:
    """The process-wide fetcher (shared per-host limits)."""
    global _default
    if _default is None:
        _default = PageFetcher()
    return _default


__all__ = ["BlockedUrlError", "FetchError", "PageFetcher", "default_fetcher"]
