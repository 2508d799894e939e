"""Attachments: upload, list, link, download and delete, with each attachment's visibility.

The object an attachment hangs on (a listing, deal or contract) is resolved by its own package into a
``Holder``: found only if the caller may see it, with whom it concerns (``core.visibility.Subject``)
and which organizations may attach to it. Content is stored once per SHA-256; the last attachment
removed puts the object on the outbox (``attachment.object``) and the worker deletes it, so a
request never deletes bytes another request may be about to point to.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.ext.asyncio import AsyncSession

from core import audit, outbox
from core.settings import Settings
from core.storage import ObjectStore
from core.types import utcnow
from core.visibility import Subject, Viewer, Visible
from market.attachments import repository
from market.attachments.errors import AttachmentForbidden, AttachmentNotFound, LinkInvalid
from market.attachments.models import (
    Attachment,
    AttachmentCategory,
    AttachmentVisibility,
    OwnerKind,
)
from market.attachments.upload import Received

OBJECT_TOPIC = "attachment.object"
DOWNLOAD_PATH = "/api/v1/attachments/{id}/content"


def object_key(sha256: str) -> str:
    return f"objects/{sha256[:2]}/{sha256}"


@dataclass(frozen=True, slots=True)
class Holder:
    """What attachments hang on, as its own package found it for this caller (who may see it)."""

    kind: OwnerKind
    id: int
    subject: Subject  # owner, parties, governing regions (core.visibility)
    writers: frozenset[int]  # organizations whose members may attach files to it


def _grants(viewer: Viewer, holder: Holder) -> frozenset[Visible]:
    return viewer.grants(holder.subject)


def levels_for(viewer: Viewer, holder: Holder) -> set[AttachmentVisibility]:
    """The visibilities the caller sees on this object (``owner`` ones of their own organization come on top)."""
    grants = _grants(viewer, holder)
    if Visible.admin in grants:
        return set(AttachmentVisibility)
    levels = {AttachmentVisibility.public}
    if Visible.parties in grants:
        levels.add(AttachmentVisibility.parties)
    return levels


def may_see(viewer: Viewer, holder: Holder, attachment: Attachment) -> bool:
    if attachment.visibility in levels_for(viewer, holder):
        return True
    return (
        attachment.visibility == AttachmentVisibility.owner
        and viewer.organization_id is not None
        and attachment.organization_id == viewer.organization_id
    )


def may_attach(viewer: Viewer, holder: Holder) -> bool:
    return Visible.admin in _grants(viewer, holder) or (
        viewer.organization_id is not None and viewer.organization_id in holder.writers
    )


def may_delete(viewer: Viewer, holder: Holder, attachment: Attachment) -> bool:
    """The uploading organization, or an admin governing the object."""
    if Visible.admin in _grants(viewer, holder):
        return True
    return viewer.organization_id is not None and attachment.organization_id == viewer.organization_id


async def attachments_of(
    session: AsyncSession, *, owner_kind: str, owner_id: int, category: str | None = None
) -> list[Attachment]:
    """Every attachment of an achievement, demand, deal or contract, oldest first (``category``: only those).

    For services checking documents (registration materials); callers' lists go through visibility."""
    return await repository.attachments_of(session, owner_kind=owner_kind, owner_id=owner_id, category=category)


async def upload(
    session: AsyncSession,
    store: ObjectStore,
    viewer: Viewer,
    holder: Holder,
    received: Received,
    *,
    category: AttachmentCategory,
    visibility: AttachmentVisibility,
) -> Attachment:
    """Attach a received file: its object counted (and stored if new or gone), the row written, audited."""
    if not may_attach(viewer, holder):
        raise AttachmentForbidden()
    key = object_key(received.sha256)
    await repository.take_reference(
        session, sha256=received.sha256, size=received.size, media_type=received.kind.media_type
    )
    # The reference is held (row locked on PostgreSQL) until commit, so no cleanup can delete the
    # object between this check and the commit; an object missing for any reason is stored again.
    if not await store.exists(key):
        await store.put_file(key, received.path, media_type=received.kind.media_type)
    attachment = Attachment(
        owner_kind=holder.kind,
        owner_id=holder.id,
        category=category,
        visibility=visibility,
        filename=received.filename,
        media_type=received.kind.media_type,
        size=received.size,
        sha256=received.sha256,
        organization_id=viewer.organization_id,
        uploaded_by=viewer.user_id,
    )
    session.add(attachment)
    await session.flush()
    await audit.record(
        session,
        "attachment",
        attachment.id or 0,
        "upload",
        actor_user_id=viewer.user_id,
        changes=_described(attachment),
    )
    return attachment


async def page(
    session: AsyncSession,
    viewer: Viewer,
    holder: Holder,
    *,
    category: AttachmentCategory | None,
    offset: int,
    limit: int,
) -> tuple[list[Attachment], int]:
    return await repository.page_for(
        session,
        owner_kind=holder.kind,
        owner_id=holder.id,
        visibilities=levels_for(viewer, holder),
        own_organization=viewer.organization_id,
        category=category,
        offset=offset,
        limit=limit,
    )


async def visible_attachment(session: AsyncSession, viewer: Viewer, holder: Holder, attachment_id: int) -> Attachment:
    """The attachment if it is on this object and the caller may see it; else it does not exist for them."""
    attachment = await repository.get(session, attachment_id)
    if (
        attachment is None
        or attachment.owner_kind != holder.kind
        or attachment.owner_id != holder.id
        or not may_see(viewer, holder, attachment)
    ):
        raise AttachmentNotFound()
    return attachment


async def delete(session: AsyncSession, viewer: Viewer, holder: Holder, attachment_id: int) -> None:
    attachment = await visible_attachment(session, viewer, holder, attachment_id)
    if not may_delete(viewer, holder, attachment):
        raise AttachmentForbidden()
    await _remove(session, attachment, actor_user_id=viewer.user_id, action="delete")


async def detach_all(session: AsyncSession, owner_kind: OwnerKind, owner_id: int, *, actor_user_id: int | None) -> int:
    """Remove every attachment of an object that goes away (same transaction); objects are released
    through the outbox, never orphaned. Returns how many were removed."""
    rows = await repository.owned_by(session, owner_kind, owner_id)
    for attachment in rows:
        await _remove(session, attachment, actor_user_id=actor_user_id, action="delete_with_owner")
    return len(rows)


async def _remove(session: AsyncSession, attachment: Attachment, *, actor_user_id: int | None, action: str) -> None:
    await audit.record(
        session, "attachment", attachment.id or 0, action, actor_user_id=actor_user_id, changes=_described(attachment)
    )
    sha256 = attachment.sha256
    await session.delete(attachment)
    await session.flush()
    if await repository.drop_reference(session, sha256) <= 0:
        await outbox.enqueue(session, OBJECT_TOPIC, sha256, {"sha256": sha256})


def _described(attachment: Attachment) -> dict[str, object]:
    return {
        "owner_kind": attachment.owner_kind.value,
        "owner_id": attachment.owner_id,
        "category": attachment.category.value,
        "visibility": attachment.visibility.value,
        "filename": attachment.filename,
        "sha256": attachment.sha256,
        "size": attachment.size,
    }


# --- signed download links ------------------------------------------------------------------------


def _link_key(settings: Settings) -> bytes:
    """A key of its own, derived from the app secret: a link signature is never valid as anything else."""
    return hmac.new(settings.secret_key.encode(), b"techmarket attachment download links v1", hashlib.sha256).digest()


def _signature(settings: Settings, attachment_id: int, sha256: str, expires: int) -> str:
    message = f"{attachment_id}:{sha256}:{expires}".encode()
    digest = hmac.new(_link_key(settings), message, hashlib.sha256).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def signed_link(settings: Settings, attachment: Attachment, *, now: datetime | None = None) -> tuple[str, datetime]:
    """A download URL for a browser (no bearer header), bound to this attachment and its content, and its expiry."""
    expires_at = (now or utcnow()) + timedelta(seconds=settings.attachment_link_seconds)
    expires = int(expires_at.timestamp())
    signature = _signature(settings, attachment.id or 0, attachment.sha256, expires)
    return f"{DOWNLOAD_PATH.format(id=attachment.id)}?expires={expires}&signature={signature}", expires_at


async def by_link(
    session: AsyncSession, settings: Settings, attachment_id: int, expires: int, signature: str
) -> Attachment:
    """The attachment a link names, if the link is genuine, unexpired and still names its content."""
    if expires < int(utcnow().timestamp()):
        raise LinkInvalid()
    attachment = await repository.get(session, attachment_id)
    if attachment is None:
        raise LinkInvalid()
    expected = _signature(settings, attachment_id, attachment.sha256, expires)
    if not hmac.compare_digest(expected.encode(), signature.encode()):
        raise LinkInvalid()
    return attachment
