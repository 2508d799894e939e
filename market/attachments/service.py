"""Attachments: upload, list, link, download and delete, with each attachment's visibility."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from market.attachments import repository
from market.attachments.models import Attachment


async def attachments_of(
    session: AsyncSession, *, owner_kind: str, owner_id: int, category: str | None = None
) -> list[Attachment]:
    """Every attachment of an achievement, demand, deal or contract, oldest first (``category``: only those).

    For services checking documents (registration materials); callers' lists go through visibility."""
    return await repository.attachments_of(session, owner_kind=owner_kind, owner_id=owner_id, category=category)
