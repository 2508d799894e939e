"""The cash part of a milestone: its amount less what other instruments (创新券, an auction winner's
credited deposit) paid of it.

Every path that asks the payment provider for a milestone's money, or checks what it asked for (the
first payment, a retry after a failure, reconciliation adopting a lost payment), uses ``cash_part``,
so a milestone partly paid by a voucher is never charged its full amount. The reward ledger counts
the covered part as income too (``covered``): the seller is owed it (redeemed from the budget, or
already held as the deposit). A milestone covered in full is paid without asking the provider.

Instruments register how much of a milestone they cover; the composition root registers them
(``app.models.install_listeners``), so contracts.payment knows none of them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import Milestone

CoveredPart = Callable[[AsyncSession, int], Awaitable[int]]  # (session, milestone id) -> fen covered

_COVERS: dict[str, CoveredPart] = {}


def register(instrument: str, covered_part: CoveredPart) -> None:
    _COVERS[instrument] = covered_part


async def covered(session: AsyncSession, milestone_id: int) -> int:
    """Fen of the milestone paid by instruments other than the payment provider."""
    return sum([await part(session, milestone_id) for part in _COVERS.values()])


async def cash_part(session: AsyncSession, milestone: Milestone) -> int:
    """What the payment provider is asked for: the milestone's amount less the covered part (never below 0)."""
    return max(0, milestone.amount_fen - await covered(session, milestone.id or 0))
