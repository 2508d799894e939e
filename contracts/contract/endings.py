"""What other packages do when a contract ends without being performed (terminated), in its transaction.

A 创新券 spend on a milestone that will now never be paid goes back to its voucher, for one. Packages
register a handler; the composition root registers them (``app.models.install_listeners``), so the
contract package knows none of them. Each handler must be safe to call again for the same contract.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

OnTerminated = Callable[[AsyncSession, int, int | None], Awaitable[None]]  # (session, contract id, actor)

_HANDLERS: dict[str, OnTerminated] = {}


def register(name: str, handler: OnTerminated) -> None:
    _HANDLERS[name] = handler


async def terminated(session: AsyncSession, contract_id: int, actor_user_id: int | None) -> None:
    for handler in _HANDLERS.values():
        await handler(session, contract_id, actor_user_id)
