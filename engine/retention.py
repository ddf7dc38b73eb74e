"""The retention job: delete what clew no longer needs, one process at a time (a Postgres advisory lock).

One pass (:func:`run_retention`) does, in order:

1. **events** — stream events of runs that ended more than ``CLEW_EVENT_RETENTION_DAYS`` ago (a finished run's
   stream can no longer be replayed after that; its status, output and checkpoints stay);
2. **checkpoints** — threads idle (or errored) for ``CLEW_CHECKPOINT_RETENTION_DAYS`` with no pending or
   running run are pruned to their latest checkpoint with langgraph-checkpoint-postgres's
   ``aprune(strategy="keep_latest")`` (their state and a resume from it keep working; older history and
   time travel to it go). Busy and interrupted threads, and any thread with a queued run, are never touched;
3. **knowledge chunks** — vectors in Qdrant whose document row no longer exists (left by a crash between the
   two deletes), when this process has the knowledge base open;
4. **content sessions** — sessions of the content pipeline expired for ``CLEW_CONTENT_SESSION_RETENTION_HOURS``
   with no pending or running run: their thread with everything in it (the session row goes with it);
5. **housekeeping** — stream events of runs that no longer exist, expired rate-limit windows, refresh
   tokens expired for a day, heartbeats of workers gone for a day.

``dry_run`` counts instead of deleting. ``clew retention [--dry-run]`` runs one pass; ``clew serve`` and
``clew worker`` run one every ``CLEW_RETENTION_INTERVAL_SECONDS`` (the lock makes the others skip).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import structlog

from config_schema.settings import RuntimeSettings
from persistence import retention_sql as sql
from persistence.db import Database

log = structlog.get_logger("clew.retention")

@dataclass
class RetentionReport:
    dry_run: bool
    ran: bool = True  # False: another process held the lock
    counts: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        verb = "would delete" if self.dry_run else "deleted"
        if not self.ran:
            return ["retention: another process is running it now; nothing done"]
        return [f"{name}: {verb} {n}" for name, n in self.counts.items()] + [f"note: {n}" for n in self.notes]


@dataclass
class RetentionContext:
    """What a retention pass needs: settings, database, the checkpointer, and the knowledge base if open."""

    settings: RuntimeSettings
    db: Database
    saver: Any
    knowledge: Any = None


async def run_retention(ctx: RetentionContext, *, dry_run: bool = False) -> RetentionReport:
    report = RetentionReport(dry_run=dry_run)
    s = ctx.settings
    async with ctx.db.connection() as lock_conn:
        if not await sql.try_lock(lock_conn):
            report.ran = False
            return report
        try:
            async with ctx.db.connection() as conn:
                report.counts["run_events"] = await sql.old_events(
                    conn, s.event_retention_days * 86400.0, delete=not dry_run)
            await _checkpoints(ctx, report, dry_run)
            await _orphan_chunks(ctx, report, dry_run)
            await _content_sessions(ctx, report, dry_run)
            async with ctx.db.connection() as conn:
                for name in sql.HOUSEKEEPING:
                    report.counts[name] = await sql.housekeeping(conn, name, delete=not dry_run)
        finally:
            await sql.unlock(lock_conn)
    if not dry_run and any(report.counts.values()):
        log.info("retention pass", **report.counts)
    return report


async def _checkpoints(ctx: RetentionContext, report: RetentionReport, dry_run: bool) -> None:
    async with ctx.db.connection() as conn:
        threads = await sql.idle_threads(conn, ctx.settings.checkpoint_retention_days * 86400.0)
    ids = [t for t, _ in threads]
    report.counts["pruned_threads"] = len(ids)
    if dry_run:
        # at least every root checkpoint but the latest (plus subgraph checkpoints of those steps)
        report.counts["checkpoints"] = sum(n - 1 for _, n in threads)
        return
    if not ids:
        report.counts["checkpoints"] = 0
        return
    async with ctx.db.connection() as conn:
        before = await sql.count_checkpoints(conn, ids)
    pruned: list[str] = []
    for thread_id in ids:  # one thread at a time: a failure (a run started meanwhile) skips only that thread
        try:
            await ctx.saver.aprune([thread_id], strategy="keep_latest")
            pruned.append(thread_id)
        except Exception as exc:
            report.notes.append(f"thread {thread_id} not pruned: {type(exc).__name__}")
    async with ctx.db.connection() as conn:
        after = await sql.count_checkpoints(conn, ids)
    report.counts["checkpoints"] = before - after


async def _content_sessions(ctx: RetentionContext, report: RetentionReport, dry_run: bool) -> None:
    from persistence import threads as threads_repo

    async with ctx.db.connection() as conn:
        expired = await sql.expired_content_sessions(conn, ctx.settings.content_session_retention_hours * 3600.0)
    report.counts["content_sessions"] = len(expired)
    if dry_run:
        return
    deleted = 0
    for thread_id, user_id in expired:
        async with ctx.db.transaction() as conn:
            if await sql.lock_idle_thread(conn, thread_id):
                deleted += int(await threads_repo.delete(conn, user_id, thread_id))
    report.counts["content_sessions"] = deleted


async def _orphan_chunks(ctx: RetentionContext, report: RetentionReport, dry_run: bool) -> None:
    kb = ctx.knowledge
    if kb is None:
        report.notes.append("knowledge chunks not checked: the knowledge base is not open in this process")
        return
    store = kb.store
    found: dict[str, tuple[str, int]] = {}  # document_id -> (user_id, chunks)
    offset: Any = None
    for _ in range(100_000):  # bounded: 256 points a page
        try:
            points, offset = await store.scroll_all(store.collection, offset=offset)
        except Exception as exc:
            report.notes.append(f"knowledge chunks not checked: {exc}")
            return
        for p in points:
            payload = p.payload or {}
            doc, user = payload.get("document_id"), payload.get("user_id")
            if doc and user:
                _, n = found.get(str(doc), (str(user), 0))
                found[str(doc)] = (str(user), n + 1)
        if offset is None:
            break
    orphans: dict[str, tuple[str, int]] = {}
    ids = list(found)
    for i in range(0, len(ids), 1000):
        chunk = ids[i:i + 1000]
        async with ctx.db.connection() as conn:
            present = await sql.documents_present(conn, chunk)
        orphans.update({d: found[d] for d in chunk if d not in present})
    report.counts["knowledge_chunks"] = sum(n for _, n in orphans.values())
    if not dry_run:
        for doc, (user, _) in orphans.items():
            await store.delete_document(user, doc)
