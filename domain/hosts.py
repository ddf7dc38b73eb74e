"""Host names and origins as clew compares them: the name part of a ``Host`` header, loopback names, an origin
reduced to ``scheme://host[:port]``. Used by the browser-safety middleware (``api/security.py``) and by
``clew doctor`` (``cli/ops.py``).
"""

from __future__ import annotations

import ipaddress
from urllib.parse import urlsplit


def split_host(host: str) -> str:
    """The name part of a ``Host`` header: ``[::1]:2024`` → ``::1``, ``localhost:80`` → ``localhost``."""
    host = host.strip().lower()
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host  # a bare IPv6 address or a name without a port


def is_loopback(name: str) -> bool:
    if name == "localhost" or name.endswith(".localhost"):
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


def normalise_origin(origin: str) -> str:
    parts = urlsplit(origin.strip())
    if not parts.scheme or not parts.netloc:
        return origin.strip().lower()
    return f"{parts.scheme.lower()}://{parts.netloc.lower()}"
