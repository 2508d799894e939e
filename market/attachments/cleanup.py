"""Removing objects no attachment points to any more, and checking storage against the database.

The outbox carries ``attachment.object`` events (the last attachment of an object was removed); the
worker deletes the object's row only if it is still unreferenced (one conditional DELETE, which an
upload's upsert of the same row waits for), then its bytes, in one savepoint per object: a storage
failure leaves the row, and the event is retried. ``reconcile`` compares the two sides for the
``techmarket attachments reconcile`` command.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

import structlog

from core import outbox
from core.db import Database
from core.storage import ObjectStore
from core.types import utcnow
from market.attachments import repository
from market.attachments.service import OBJECT_TOPIC, object_key

log = structlog.get_logger("techmarket.attachments")
PREFIX = "objects/"
BATCH = 50


async def cleanup_once(database: Database, store: ObjectStore, limit: int = BATCH) -> int:
    """Handle the due ``attachment.object`` events; the number handled (retries included)."""
    async with database.unit_of_work() as session:
        events = await outbox.claim_due(session, [OBJECT_TOPIC], limit)
        done = []
        for event in events:
            sha256 = str(event.payload.get("sha256", ""))
            try:
                async with session.begin_nested():
                    if await repository.forget_if_unreferenced(session, sha256):
                        await store.delete(object_key(sha256))
                        log.info("attachment_object_deleted", sha256=sha256)
            except Exception as exc:  # storage out of reach: the row stays, the event comes back later
                log.warning("attachment_object_cleanup_failed", sha256=sha256, error=repr(exc))
                outbox.schedule_retry(event, repr(exc))
                continue
            done.append(event.id or 0)
        await outbox.mark_processed(session, done)
    return len(events)


@dataclass
class Reconciliation:
    orphans: list[str] = field(default_factory=list)  # stored, no row: removable
    recent: list[str] = field(default_factory=list)  # stored, no row, younger than the grace (maybe in flight)
    missing: list[str] = field(default_factory=list)  # a row (attachments point to it), no bytes
    miscounted: dict[str, tuple[int, int]] = field(default_factory=dict)  # sha: (refcount, attachment rows)
    removed: list[str] = field(default_factory=list)

    @property
    def clean(self) -> bool:
        return not (self.orphans or self.missing or self.miscounted)


async def reconcile(
    database: Database, store: ObjectStore, *, remove: bool = False, grace: timedelta = timedelta(hours=1)
) -> Reconciliation:
    """Objects without a row (orphans), rows without an object (missing), and counts that disagree.

    ``remove`` deletes orphans older than ``grace`` (a younger one may belong to an upload still
    committing) and corrects the counts; missing objects can only be reported (upload them again)."""
    result = Reconciliation()
    async with database.unit_of_work() as session:
        rows = await repository.all_objects(session)
        counts = await repository.refcounts(session)
    stored: set[str] = set()
    cutoff = utcnow() - grace
    async for item in store.keys(PREFIX):
        sha256 = item.key.rsplit("/", 1)[-1]
        stored.add(sha256)
        if sha256 not in rows:
            (result.orphans if item.modified <= cutoff else result.recent).append(sha256)
    result.missing = sorted(sha for sha, referenced in rows.items() if sha not in stored)
    result.miscounted = {
        sha: (counts.get(sha, 0), referenced) for sha, referenced in rows.items() if counts.get(sha, 0) != referenced
    }
    if remove:
        for sha256 in result.orphans:
            async with database.unit_of_work() as session:
                if await repository.claim_orphan(session, sha256):  # still none: an upload of it now waits
                    await store.delete(object_key(sha256))
                    await repository.forget_if_unreferenced(session, sha256)
                    result.removed.append(sha256)
        async with database.unit_of_work() as session:
            for sha256, (_, referenced) in result.miscounted.items():
                await repository.set_refcount(session, sha256, referenced)
                if referenced == 0:
                    await outbox.enqueue(session, OBJECT_TOPIC, sha256, {"sha256": sha256})
    return result
