"""The live stream of a lot (Server-Sent Events), read from the database.

Each poll is a short transaction of its own reading the events after the cursor, so any API process
can serve any client and a reconnecting client resumes with ``Last-Event-ID`` (the event's ``seq``).
The stream ends after the lot's ``closed`` event (or after ``max_seconds``; the client reconnects).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable

from contracts.auction.repository import AuctionRepository
from core.db import Database

POLL_SECONDS = 0.25
KEEPALIVE_SECONDS = 15.0
MAX_SECONDS = 600.0


async def events(
    database: Database,
    auction_id: int,
    cursor: int,
    disconnected: Callable[[], Awaitable[bool]],
    *,
    poll_seconds: float = POLL_SECONDS,
    max_seconds: float = MAX_SECONDS,
) -> AsyncIterator[str]:
    loop = asyncio.get_running_loop()
    started = last_sent = loop.time()
    yield "retry: 1000\n\n"
    while loop.time() - started < max_seconds and not await disconnected():
        async with database.unit_of_work() as session:
            batch = await AuctionRepository(session).events_after(auction_id, cursor)
        for event in batch:
            cursor = event.seq
            payload = json.dumps({"seq": event.seq, **event.data}, ensure_ascii=False)
            yield f"id: {event.seq}\nevent: {event.kind}\ndata: {payload}\n\n"
            last_sent = loop.time()
            if event.kind == "closed":
                return
        if not batch:
            if loop.time() - last_sent >= KEEPALIVE_SECONDS:
                yield ": keepalive\n\n"
                last_sent = loop.time()
            await asyncio.sleep(poll_seconds)
