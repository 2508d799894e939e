"""Every query on attachments and stored objects."""

from __future__ import annotations

from sqlalchemy import and_, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from core.pagination import paged
from core.types import utcnow
from market.attachments.models import Attachment, AttachmentCategory, AttachmentVisibility, OwnerKind, StoredObject


async def attachments_of(
    session: AsyncSession,
    *,
    owner_kind: str,
    owner_id: int,
    category: str | None = None,
) -> list[Attachment]:
    """Every attachment of one object (oldest first), optionally of one category.

    No visibility filter: for services that check documents (e.g. registration materials), not for
    answering a caller (use ``page_for``)."""
    statement = select(Attachment).where(
        col(Attachment.owner_kind) == OwnerKind(owner_kind), col(Attachment.owner_id) == owner_id
    )
    if category is not None:
        statement = statement.where(col(Attachment.category) == AttachmentCategory(category))
    return list((await session.execute(statement.order_by(col(Attachment.id)))).scalars())


async def page_for(
    session: AsyncSession,
    *,
    owner_kind: OwnerKind,
    owner_id: int,
    visibilities: set[AttachmentVisibility],
    own_organization: int | None,
    category: AttachmentCategory | None,
    offset: int,
    limit: int,
) -> tuple[list[Attachment], int]:
    """One page of the attachments a caller may see: the granted levels, plus ``owner`` ones of their organization."""
    allowed = or_(
        col(Attachment.visibility).in_(sorted(visibilities)),
        and_(
            col(Attachment.visibility) == AttachmentVisibility.owner,
            col(Attachment.organization_id) == (own_organization or -1),
        ),
    )
    statement = select(Attachment).where(
        col(Attachment.owner_kind) == owner_kind, col(Attachment.owner_id) == owner_id, allowed
    )
    if category is not None:
        statement = statement.where(col(Attachment.category) == category)
    return await paged(session, statement.order_by(col(Attachment.id)), offset, limit)


async def get(session: AsyncSession, attachment_id: int) -> Attachment | None:
    return await session.get(Attachment, attachment_id)


async def object_by_sha(session: AsyncSession, sha256: str) -> StoredObject | None:
    return await session.get(StoredObject, sha256)


async def take_reference(session: AsyncSession, *, sha256: str, size: int, media_type: str) -> None:
    """Count one more attachment on the object, creating its row if absent (one upsert, so two
    uploads of the same new file cannot collide).

    The row stays locked to the end of the transaction (PostgreSQL; SQLite has one writer), so a
    cleanup that would delete the object waits, and then finds it referenced."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = insert(StoredObject).values(
        sha256=sha256, size=size, media_type=media_type, refcount=1, created_at=utcnow()
    )
    statement = statement.on_conflict_do_update(
        index_elements=[col(StoredObject.sha256)], set_={"refcount": StoredObject.refcount + 1}
    )
    await session.execute(statement)


async def drop_reference(session: AsyncSession, sha256: str) -> int:
    """One attachment fewer on the object; its remaining count."""
    await session.execute(
        update(StoredObject)
        .where(col(StoredObject.sha256) == sha256)
        .values(refcount=StoredObject.refcount - 1)
        .execution_options(synchronize_session=False)
    )
    remaining = await session.execute(select(col(StoredObject.refcount)).where(col(StoredObject.sha256) == sha256))
    return int(remaining.scalar_one_or_none() or 0)


async def forget_if_unreferenced(session: AsyncSession, sha256: str) -> bool:
    """Delete the object's row if no attachment counts on it (one atomic statement); True if deleted."""
    live = select(col(Attachment.id)).where(col(Attachment.sha256) == sha256).exists()
    result = await session.execute(
        delete(StoredObject)
        .where(col(StoredObject.sha256) == sha256, col(StoredObject.refcount) <= 0, ~live)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def all_objects(session: AsyncSession) -> dict[str, int]:
    """Every object row's digest and the number of attachments actually pointing to it."""
    counts = select(col(Attachment.sha256), func.count()).group_by(col(Attachment.sha256))
    referenced = dict((sha, int(n)) for sha, n in (await session.execute(counts)).all())
    rows = (await session.execute(select(col(StoredObject.sha256)))).scalars()
    return {sha: referenced.get(sha, 0) for sha in rows}


async def owned_by(session: AsyncSession, owner_kind: OwnerKind, owner_id: int) -> list[Attachment]:
    statement = select(Attachment).where(col(Attachment.owner_kind) == owner_kind, col(Attachment.owner_id) == owner_id)
    return list((await session.execute(statement.order_by(col(Attachment.id)))).scalars())


async def refcounts(session: AsyncSession) -> dict[str, int]:
    rows = await session.execute(select(col(StoredObject.sha256), col(StoredObject.refcount)))
    return {sha: int(count) for sha, count in rows.all()}


async def set_refcount(session: AsyncSession, sha256: str, refcount: int) -> None:
    await session.execute(
        update(StoredObject)
        .where(col(StoredObject.sha256) == sha256)
        .values(refcount=refcount)
        .execution_options(synchronize_session=False)
    )


async def claim_orphan(session: AsyncSession, sha256: str) -> bool:
    """Hold an object without a row by inserting one (refcount 0) for this transaction: an upload of the
    same content waits on it; False if a row exists (someone took the object since)."""
    dialect = session.get_bind().dialect.name
    insert = postgresql_insert if dialect == "postgresql" else sqlite_insert
    statement = (
        insert(StoredObject)
        .values(sha256=sha256, size=0, media_type="application/octet-stream", refcount=0, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[col(StoredObject.sha256)])
    )
    result = await session.execute(statement)
    return bool(getattr(result, "rowcount", 0))
