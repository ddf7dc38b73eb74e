"""Hot reload of configuration across processes: the change NOTIFY, the cache invalidation it causes, and the
``config_updated`` events open SSE streams receive.

A write commits a new generation of its layer and a ``NOTIFY clew_config`` (:func:`notify_change`) in the
same transaction; every process's LISTEN connection relays it to :meth:`ConfigFeed.on_notify`, which drops
the affected cache entries and tells the watching streams of the affected users. The writing process handles
its own change at once (:meth:`ConfigFeed.handle`); the NOTIFY echo is recognised by its id and skipped.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import uuid
from collections import deque
from collections.abc import Awaitable, Callable, Iterator
from typing import TYPE_CHECKING, Any, Protocol

import structlog

from config_schema.cache import ResolutionCache
from config_schema.changes import ChangeResult
from config_schema.registry import Registry
from config_schema.resolver import mask, readable
from persistence import config_repo as repo
from persistence.channels import CONFIG_CHANNEL, notify

if TYPE_CHECKING:
    from persistence.db import Conn

log = structlog.get_logger("clew.config")

_SEEN_MAX = 1024
_PAYLOAD_MAX = 7900  # NOTIFY payloads stop at 8000 bytes


class Listener(Protocol):
    """What relays NOTIFY payloads of a channel to a handler (the engine's broker)."""

    def on(self, channel: str, handler: Callable[[str], Awaitable[None]]) -> Any: ...


async def notify_change(conn: Conn, result: ChangeResult, *, user_id: str | None = None) -> dict[str, Any]:
    """Announce ``result`` in the writer's transaction (NOTIFY): every process hears of it exactly when it
    commits. Returns the payload, for the writer to handle at once."""
    payload: dict[str, Any] = {
        "id": uuid.uuid4().hex,
        "layer": result.layer,
        "owner": result.owner,
        "user_id": user_id if user_id is not None else (result.owner if result.layer == "user" else None),
        "version": result.version,
        "keys": result.keys,
    }
    text = json.dumps(payload, separators=(",", ":"))
    if len(text.encode()) > _PAYLOAD_MAX:  # too long: name no keys
        payload["keys"] = []
        text = json.dumps(payload, separators=(",", ":"))
    await notify(conn, CONFIG_CHANNEL, text)
    return payload


class ConfigWatch:
    """What an SSE stream receives: ``config_updated`` payloads, and a wake-up of the stream's event."""

    def __init__(self, user_id: str, wake: asyncio.Event) -> None:
        self.user_id = user_id
        self.wake = wake
        self._events: deque[dict[str, Any]] = deque(maxlen=64)

    def push(self, event: dict[str, Any]) -> None:
        self._events.append(event)
        self.wake.set()

    def drain(self) -> list[dict[str, Any]]:
        out = list(self._events)
        self._events.clear()
        return out


class ConfigFeed:
    """Applies change notifications to the cache and tells the watching streams."""

    def __init__(self, cache: ResolutionCache, registry: Registry) -> None:
        self.cache = cache
        self.registry = registry
        self._watchers: dict[str, set[ConfigWatch]] = {}
        self._seen: deque[str] = deque(maxlen=_SEEN_MAX)
        self._seen_set: set[str] = set()
        self._tasks: set[asyncio.Task[None]] = set()

    def listen(self, listener: Listener) -> None:
        listener.on(CONFIG_CHANNEL, self.on_notify)

    async def stop(self) -> None:
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    async def on_notify(self, text: str) -> None:
        try:
            payload = json.loads(text) if text else None
        except json.JSONDecodeError:
            payload = None
        if not isinstance(payload, dict):  # reconnect, migrations, or unknown: start from scratch
            self.cache.invalidate_all()
            return
        self.handle(payload)

    def handle(self, payload: dict[str, Any]) -> None:
        """Drop what the change made stale and tell the affected users' streams (once per change id)."""
        ident = str(payload.get("id", ""))
        if ident:
            if ident in self._seen_set:
                return
            if len(self._seen) == self._seen.maxlen:
                self._seen_set.discard(self._seen[0])
            self._seen.append(ident)
            self._seen_set.add(ident)
        layer = str(payload.get("layer", ""))
        owner = str(payload.get("owner", ""))
        if layer == "user" and owner:
            self.cache.invalidate("user", owner)
        elif layer != "session":  # the system layer (or anything unexpected): every user's resolution
            self.cache.invalidate_all()
        if not self._watchers:
            return
        if layer == "system":
            users = list(self._watchers)
        else:
            uid = payload.get("user_id")
            users = [uid] if isinstance(uid, str) and uid in self._watchers else []
        for uid in users:
            task = asyncio.get_running_loop().create_task(self._tell(uid, payload))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _tell(self, user_id: str, payload: dict[str, Any]) -> None:
        """Push a ``config_updated`` event with the new effective values to ``user_id``'s open streams."""
        keys = [k for k in payload.get("keys") or [] if readable(self.registry.get(k), admin=False)]
        if payload.get("keys") and not keys:
            return  # only keys users cannot read changed
        try:
            resolved = await self.cache.user_resolved(user_id, verify=True)
            if payload.get("layer") == "session":
                async with self.cache.db.connection() as conn:
                    thread = await repo.thread_config(conn, str(payload.get("owner")), user_id=user_id)
                resolved = resolved.overlay("thread", thread or {})
        except Exception as exc:
            log.warning("config_updated: could not resolve", user_id=user_id, error=str(exc))
            return
        event: dict[str, Any] = {
            "layer": payload.get("layer"),
            "version": payload.get("version"),
            "keys": keys,
            "values": {k: mask(self.registry.get(k), resolved.values.get(k)) for k in keys},
            "sources": {k: resolved.sources.get(k) for k in keys},
        }
        if payload.get("layer") == "session":
            event["thread_id"] = payload.get("owner")
        for watch in list(self._watchers.get(user_id, ())):
            watch.push(event)

    @contextlib.contextmanager
    def watch(self, user_id: str, wake: asyncio.Event) -> Iterator[ConfigWatch]:
        """Receive ``config_updated`` payloads for ``user_id`` while the block runs (``wake`` set on each)."""
        w = ConfigWatch(user_id, wake)
        self._watchers.setdefault(user_id, set()).add(w)
        try:
            yield w
        finally:
            group = self._watchers.get(user_id)
            if group is not None:
                group.discard(w)
                if not group:
                    self._watchers.pop(user_id, None)
