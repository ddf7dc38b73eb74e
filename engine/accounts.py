"""Accounts below the API: user names, passwords and API keys, for the HTTP routes and the ``clew`` command alike.

- User names: 2-64 characters of ``a-z 0-9 _ . @ -``, starting with a letter or digit, case-folded.
- Passwords are hashed with argon2id through ``pwdlib`` (its recommended parameters), off the event loop; an
  unknown account is verified against a dummy hash, so it costs as long as a wrong password.
- API keys are random 32-byte tokens prefixed ``clew_``; only their SHA-256 is stored, so a database leak does
  not leak keys (a fast hash is right here: the key has 256 bits of entropy, unlike a password).

Sign-in, tokens and request authentication are the API's (``api/accounts.py``, ``api/auth.py``).
"""

from __future__ import annotations

import asyncio
import hashlib
import re
import secrets
from typing import Any

from pwdlib import PasswordHash

from domain.errors import InvalidInput
from persistence import accounts as accounts_repo
from persistence.db import Database

USERNAME = re.compile(r"^[a-z0-9][a-z0-9_.@-]{1,63}$")

_hasher = PasswordHash.recommended()
# verified against when the account does not exist, so an unknown name costs as long as a wrong password
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))


async def hash_password(password: str) -> str:
    return await asyncio.to_thread(_hasher.hash, password)


async def verify_password(password: str, password_hash: str | None) -> bool:
    ok = await asyncio.to_thread(_hasher.verify, password, password_hash or _DUMMY_HASH)
    return bool(ok) and password_hash is not None


def check_username(name: str) -> str:
    """The user name ``name`` case-folded; :class:`InvalidInput` when it is not one."""
    name = name.strip().lower()
    if not USERNAME.match(name):
        raise InvalidInput("username: 2-64 characters of a-z, 0-9, '_', '.', '@', '-', "
                           "starting with a letter or digit")
    return name


def hash_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def new_key() -> str:
    return "clew_" + secrets.token_urlsafe(32)


async def create_api_key(db: Database, user_id: str, name: str = "") -> str:
    """Create a key for ``user_id`` (creating the user if needed) and return it; it is shown only once."""
    key, _ = await create_api_key_row(db, user_id, name)
    return key


async def create_api_key_row(db: Database, user_id: str, name: str = "") -> tuple[str, dict[str, Any]]:
    key = new_key()
    async with db.transaction() as conn:
        row = await accounts_repo.insert_key(conn, user_id, hash_key(key), name)
    return key, row
