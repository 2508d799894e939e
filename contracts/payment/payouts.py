"""Payout events routed by purpose: each instrument that pays money out (后补助, 创新券 redemptions)
registers a handler for the ``purpose`` it writes into the payout's metadata.

The composition root registers the handlers (``app.models.install_listeners``), so importing this
package changes nothing and contracts.payment knows none of the instruments. A handler brings its
own record in line with the snapshot and returns what happened (``paid``, ``failed``, ``stale``...).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.payment.client import PayoutSnapshot

PURPOSE = "purpose"  # the metadata key every payout carries
PayoutHandler = Callable[[AsyncSession, PayoutSnapshot], Awaitable[str]]

_HANDLERS: dict[str, PayoutHandler] = {}


def register(purpose: str, handler: PayoutHandler) -> None:
    _HANDLERS[purpose] = handler


async def apply(session: AsyncSession, snapshot: PayoutSnapshot) -> str:
    handler = _HANDLERS.get(snapshot.metadata.get(PURPOSE, ""))
    if handler is None:
        return "unknown_payout"
    return await handler(session, snapshot)
