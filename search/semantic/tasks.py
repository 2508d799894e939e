"""The worker step that keeps every published listing's sentence vector current.

A vector costs ~30 ms of CPU, so it is computed here, off the request path, and stored; matching
only reads stored vectors. Several workers may run this at once: each writes what it computed with
an upsert, and two that computed the same listing wrote the same vector.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import numpy as np

from core.db import Database
from market.listings.kinds import ACHIEVEMENT, DEMAND
from search.matching.service import body_of
from search.semantic.encoder import SentenceEncoder
from search.semantic.repository import Computed, VectorRepository

BATCH = 32  # listings per round and kind: ~1 s of encoding, so a round stays short
# after a scan found nothing to encode, the next waits this long: a scan joins every published
# listing with its vector, too much to repeat on each idle round of the worker (every 0.5 s)
IDLE_SCAN_SECONDS = 15.0


def text_of(title: str, body: str, keywords: Sequence[str]) -> str:
    """What a listing's vector is computed from: its title, text and keywords."""
    return f"{title}。{body} {' '.join(keywords)}"


def digest_of(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


@cache
def load_encoder(folder: Path) -> SentenceEncoder:
    """One encoder per process and folder (~100 MB of weights)."""
    return SentenceEncoder(folder)


async def embed_once(database: Database, encoder: SentenceEncoder, *, limit: int = BATCH) -> int:
    """Compute the vectors of up to ``limit`` listings per kind that lack a current one; returns how many
    listings were brought up to date."""
    done = 0
    for kind in (ACHIEVEMENT, DEMAND):
        async with database.sessionmaker() as session:
            pending = await VectorRepository(session).pending(kind.model, kind.name, encoder.model, limit)
        if not pending:
            continue
        texts = [text_of(row.title, body_of(row), row.keywords) for row, _ in pending]
        digests = [digest_of(text) for text in texts]
        changed = [i for i, ((_, old), new) in enumerate(zip(pending, digests, strict=True)) if old != new]
        by_position: dict[int, np.ndarray] = {}
        if changed:
            vectors = await asyncio.to_thread(encoder.encode, [texts[i] for i in changed])
            by_position = {i: vectors[n] for n, i in enumerate(changed)}
        rows = [
            Computed(row.id or 0, row.updated_at, digest, by_position.get(i))
            for i, ((row, _), digest) in enumerate(zip(pending, digests, strict=True))
        ]
        async with database.unit_of_work() as session:
            await VectorRepository(session).save(kind.name, encoder.model, rows)
        done += len(pending)
    return done


class VectorKeeper:
    """The worker's step: encodes what is pending; once nothing is, scans again only after
    ``idle_seconds`` (a listing published meanwhile is matched by words alone until then, and counts
    as the others' mean nearness as a candidate)."""

    def __init__(self, database: Database, folder: Path, *, idle_seconds: float = IDLE_SCAN_SECONDS) -> None:
        self.database = database
        self.folder = folder
        self.idle_seconds = idle_seconds
        self.quiet_until = 0.0

    async def step(self) -> int:
        now = time.monotonic()
        if now < self.quiet_until:
            return 0
        done = await embed_once(self.database, load_encoder(self.folder))  # a broken folder fails here
        if done == 0:
            self.quiet_until = now + self.idle_seconds
        return done
