"""``clew users create|list`` and ``clew keys create|list|revoke``: accounts and API keys from the shell.

They talk to the database directly (no server needed), so an operator can create the first administrator
(``clew users create NAME --admin``) before anyone can sign in. A new key is printed once, alone on stdout.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import sys
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from config_schema.settings import RuntimeSettings
from engine.logging_setup import configure

T = TypeVar("T")


class _DbRuntime:
    """The part of a runtime the account functions use: settings and database."""

    def __init__(self, settings: RuntimeSettings, db: Any) -> None:
        self.settings = settings
        self.db = db


def with_db(fn: Callable[[_DbRuntime], Awaitable[T]]) -> T:
    from persistence.db import Database

    settings = RuntimeSettings()
    configure(settings.log_format, "WARNING")

    async def main() -> T:
        db = await Database.open(settings)
        try:
            return await fn(_DbRuntime(settings, db))
        finally:
            await db.close()

    return asyncio.run(main())


def cmd_keys_create(args: argparse.Namespace) -> int:
    from engine.accounts import create_api_key

    print(with_db(lambda rt: create_api_key(rt.db, args.user, args.name or "")))
    return 0


def cmd_keys_list(args: argparse.Namespace) -> int:
    from persistence import accounts as repo

    async def main(rt: _DbRuntime) -> list[dict[str, Any]]:
        async with rt.db.connection() as conn:
            return await repo.list_keys(conn, args.user)

    for row in with_db(main):
        state = f"revoked {row['revoked_at']:%Y-%m-%d %H:%M}" if row["revoked_at"] else "active"
        print(f"{row['key_id']}  {row['user_id']:<20} {state:<24} {row['name']}")
    return 0


def cmd_keys_revoke(args: argparse.Namespace) -> int:
    import uuid

    from persistence import accounts as repo

    try:
        uuid.UUID(args.key_id)
    except ValueError:
        print(f"not a key id: {args.key_id} (see `clew keys list`)", file=sys.stderr)
        return 2

    async def main(rt: _DbRuntime) -> dict[str, Any] | None:
        async with rt.db.connection() as conn:
            return await repo.revoke_key(conn, args.key_id, None)

    row = with_db(main)
    if row is None:
        print(f"no API key {args.key_id}", file=sys.stderr)
        return 1
    print(f"revoked {row['key_id']} of {row['user_id']}")
    return 0


def cmd_users_create(args: argparse.Namespace) -> int:
    from domain.errors import ClewError
    from engine.accounts import check_username, hash_password
    from persistence import accounts as repo

    try:
        user_id = check_username(args.username)
    except ClewError as exc:
        print(exc.detail, file=sys.stderr)
        return 2
    password: str | None = None
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not args.no_password:
        password = getpass.getpass(f"password for {user_id}: ")
    if password is not None and len(password) < 8:
        print("the password needs at least 8 characters", file=sys.stderr)
        return 2

    async def main(rt: _DbRuntime) -> dict[str, Any]:
        hashed = await hash_password(password) if password is not None else None
        async with rt.db.transaction() as conn:
            return await repo.upsert_account(conn, user_id, hashed, args.email, "admin" if args.admin else "user")

    row = with_db(main)
    print(f"{row['user_id']} ({row['role']})")
    return 0


def cmd_users_list(args: argparse.Namespace) -> int:
    from persistence import accounts as repo

    async def main(rt: _DbRuntime) -> list[dict[str, Any]]:
        async with rt.db.connection() as conn:
            return await repo.list_users(conn)

    for row in with_db(main):
        print(f"{row['user_id']:<24} {row['role']:<6} {'password' if row['has_password'] else 'keys only':<10} "
              f"{row['email'] or ''}")
    return 0


def register(sub: Any) -> None:
    keys = sub.add_parser("keys", help="manage API keys")
    keys_sub = keys.add_subparsers(dest="keys_command", required=True)
    create = keys_sub.add_parser("create", help="create an API key for USER and print it")
    create.add_argument("user")
    create.add_argument("--name", default="")
    create.set_defaults(func=cmd_keys_create)
    listing = keys_sub.add_parser("list", help="list API keys (all users, or USER's)")
    listing.add_argument("user", nargs="?")
    listing.set_defaults(func=cmd_keys_list)
    revoke = keys_sub.add_parser("revoke", help="revoke an API key by its id")
    revoke.add_argument("key_id")
    revoke.set_defaults(func=cmd_keys_revoke)

    users = sub.add_parser("users", help="manage accounts")
    users_sub = users.add_subparsers(dest="users_command", required=True)
    ucreate = users_sub.add_parser("create", help="create (or update) an account")
    ucreate.add_argument("username")
    ucreate.add_argument("--admin", action="store_true", help="role admin (system configuration, users)")
    ucreate.add_argument("--email")
    ucreate.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    ucreate.add_argument("--no-password", action="store_true", help="API keys only, no password sign-in")
    ucreate.set_defaults(func=cmd_users_create)
    ulist = users_sub.add_parser("list", help="list accounts")
    ulist.set_defaults(func=cmd_users_list)
