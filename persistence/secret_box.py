"""Secrets at rest (database connection passwords): Fernet tokens under one process-wide key.

Fernet (``cryptography``: AES-128-CBC + HMAC-SHA256, with a timestamp) is a vetted, misuse-resistant
recipe; clew adds nothing to it. The key comes from ``CLEW_SECRET_KEY`` (any string; a 32-byte Fernet key
is derived from it with HKDF-SHA256, so a pass phrase works too) or, when that is unset, from
``<data dir>/secret.key``, created on first use with 32 random bytes and mode 0600. Every process that
decrypts (API and workers) must see the same key: the same environment variable or the same data directory.

Losing the key makes the stored passwords unreadable (:class:`SecretUnreadable`); the user then sets the
password again. Nothing here logs a secret or a token.
"""

from __future__ import annotations

import base64
import os
import secrets
from functools import lru_cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

KEY_FILE = "secret.key"
_INFO = b"clew secret box v1"


class SecretUnreadable(RuntimeError):
    """A stored secret cannot be decrypted with this process's key (the key changed or was lost)."""


def _derive(material: bytes) -> bytes:
    key = HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=_INFO).derive(material)
    return base64.urlsafe_b64encode(key)


def _key_file(data_dir: Path) -> bytes:
    path = data_dir / KEY_FILE
    try:
        return base64.b64decode(path.read_bytes().strip())
    except FileNotFoundError:
        pass
    data_dir.mkdir(parents=True, exist_ok=True)
    raw = secrets.token_bytes(32)
    try:
        # O_EXCL: two processes starting together cannot both create (and disagree on) the key
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:
        return base64.b64decode(path.read_bytes().strip())
    with os.fdopen(fd, "wb") as fh:
        fh.write(base64.b64encode(raw) + b"\n")
    return raw


@lru_cache(maxsize=8)
def _fernet(env_key: str | None, data_dir: str) -> Fernet:
    material = env_key.encode("utf-8") if env_key else _key_file(Path(data_dir))
    return Fernet(_derive(material))


def box(data_dir: Path) -> Fernet:
    """The process's Fernet instance (``CLEW_SECRET_KEY`` or the key file in ``data_dir``)."""
    return _fernet(os.environ.get("CLEW_SECRET_KEY") or None, str(data_dir))


def encrypt(data_dir: Path, plaintext: str) -> str:
    return box(data_dir).encrypt(plaintext.encode("utf-8")).decode("ascii")


def decrypt(data_dir: Path, token: str) -> str:
    try:
        return box(data_dir).decrypt(token.encode("ascii")).decode("utf-8")
    except (InvalidToken, ValueError) as exc:
        raise SecretUnreadable("a stored password cannot be decrypted with this server's key") from exc
