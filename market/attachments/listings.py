"""Attachments on achievements and demands: who sees a listing sees its public files; its owner and
the admins governing the owner's region see the rest; the owner's members attach and delete."""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from market.attachments.endpoints import add_attachment_routes
from market.attachments.models import OwnerKind
from market.attachments.service import Holder
from market.identity.service import Principal
from market.listings.errors import ListingNotFound
from market.listings.kinds import ACHIEVEMENT, DEMAND, ListingKind
from market.listings.repository import ListingRepository
from market.listings.schemas import listing_subject
from market.listings.service import ListingService


async def listing_holder(
    kind: ListingKind, session: AsyncSession, principal: Principal | None, listing_id: int
) -> Holder:
    """The listing if the caller may see it (else ``listing_not_found``), as attachments see it."""
    listings = ListingService(ListingRepository(session))
    row = await listings.get(principal, kind, listing_id)
    region = await listings.repository.owner_region(row.owner_id)
    return Holder(
        kind=OwnerKind(kind.name),
        id=row.id or 0,
        subject=listing_subject(row.owner_id, region),
        writers=frozenset({row.owner_id}),
    )


def _router(kind: ListingKind, path: str) -> APIRouter:
    router = APIRouter(prefix=f"/api/v1/{path}", tags=[path])

    async def resolve(session: AsyncSession, principal: Principal | None, listing_id: int) -> Holder:
        return await listing_holder(kind, session, principal, listing_id)

    add_attachment_routes(
        router, kind=OwnerKind(kind.name), label=kind.label_zh, resolve=resolve, not_found=ListingNotFound
    )
    return router


achievement_attachments_router = _router(ACHIEVEMENT, "achievements")
demand_attachments_router = _router(DEMAND, "demands")
