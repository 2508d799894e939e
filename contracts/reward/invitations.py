"""Inventors link their accounts to a contract's inventor entries, so each sees their own reward lines.

The seller organization invites an entry (its position in the contract's inventor list) by e-mail or
mobile number. The platform has no mail or SMS gateway: the code is returned once to the inviter, who
sends it to that address; only its SHA-256 is stored (the code carries 100 random bits), with an
expiry of ``INVITATION_DAYS``. A signed-in user who enters the code is linked to the entry: from then
on ``/rewards/mine`` shows that entry's lines, those appended before the link included. Inviting
the entry again replaces the invitation (the earlier code stops working); the account the new one
links replaces the earlier account once it is accepted, so an invitation sent by mistake does not cut
the inventor off. One account per entry, and one entry per account within a contract.
"""

from __future__ import annotations

import hashlib
import secrets
from collections.abc import Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.reward import errors
from contracts.reward.models import InventorLink, InvitationChannel
from core import audit
from core.types import utcnow
from market.identity.service import Principal

INVITATION_DAYS = 7
CODE_ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"  # Crockford's base32: no I, L, O or U to misread
CODE_LENGTH = 20  # 100 bits: not guessable, so no attempt counter is needed


class InvitingContract(Protocol):
    """What an invitation reads of a contract (the contract package's model has it)."""

    @property
    def id(self) -> int | None: ...
    @property
    def seller_org_id(self) -> int: ...
    @property
    def inventors(self) -> Sequence[Mapping[str, Any]]: ...


def new_code() -> str:
    raw = "".join(secrets.choice(CODE_ALPHABET) for _ in range(CODE_LENGTH))
    return "-".join(raw[i : i + 4] for i in range(0, CODE_LENGTH, 4))


def normalize_code(code: str) -> str:
    """As typed from a message: any case, with or without hyphens and spaces, O for 0 and I or L for 1."""
    text = "".join(code.split()).replace("-", "").upper()
    return text.translate(str.maketrans("OIL", "011"))


def code_digest(code: str) -> str:
    return hashlib.sha256(f"inventor-invitation:{normalize_code(code)}".encode()).hexdigest()


class InvitationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def links(self, contract_id: int) -> dict[int, InventorLink]:
        statement = select(InventorLink).where(col(InventorLink.contract_id) == contract_id)
        return {link.position: link for link in (await self.session.execute(statement)).scalars().all()}

    async def holders(self, contract_id: int) -> dict[int, int]:
        """The account linked to each entry (position -> user id) of those that have one."""
        return {p: link.user_id for p, link in (await self.links(contract_id)).items() if link.user_id is not None}

    async def invite(
        self, principal: Principal, contract: InvitingContract, position: int, channel: InvitationChannel, address: str
    ) -> tuple[InventorLink, str]:
        """A new code for the entry, replacing any earlier invitation. The caller holds the contract's lock."""
        if not principal.belongs_to(contract.seller_org_id):
            raise errors.InvitationSellerOnly()
        if not 1 <= position <= len(contract.inventors):
            raise errors.InventorNotFound()
        name = str(contract.inventors[position - 1]["name"])
        contract_id, code, now = contract.id or 0, new_code(), utcnow()
        fields: dict[str, Any] = {
            "name": name,
            "channel": channel,
            "address": address,
            "code_digest": code_digest(code),
            "expires_at": now + timedelta(days=INVITATION_DAYS),
            "invited_by": principal.user.id,
            "invited_at": now,
            "accepted_at": None,
        }
        link = (await self.links(contract_id)).get(position)
        if link is None:
            link = InventorLink(contract_id=contract_id, position=position, **fields)
            self.session.add(link)
        else:  # the earlier code stops working; the linked account stays until the new code is accepted
            for key, value in fields.items():
                setattr(link, key, value)
        await self.session.flush()
        await audit.record(
            self.session,
            "contract",
            contract_id,
            "inventor_invited",
            actor_user_id=principal.user.id,
            changes={"position": position, "name": name, "channel": channel.value},
        )
        return link, code

    async def accept(self, principal: Principal, code: str) -> InventorLink:
        """Link the caller to the invited entry (again: no change)."""
        if principal.via_api_key:
            raise errors.PersonalLoginRequired()
        statement = select(InventorLink).where(col(InventorLink.code_digest) == code_digest(code)).with_for_update()
        link = (await self.session.execute(statement)).scalars().first()
        if link is None:
            raise errors.InvitationNotFound()
        user_id = principal.user.id
        if link.accepted_at is not None:
            if link.user_id == user_id:
                return link
            raise errors.InvitationAlreadyAccepted()
        now = utcnow()
        if link.expires_at <= now:
            raise errors.InvitationExpired()
        held = (await self.links(link.contract_id)).values()
        if any(other.user_id == user_id and other.id != link.id for other in held):
            raise errors.InventorAlreadyLinked()
        previous = link.user_id
        link.user_id, link.linked_at, link.accepted_at = user_id, now, now
        await self.session.flush()
        await audit.record(
            self.session,
            "contract",
            link.contract_id,
            "inventor_linked",
            actor_user_id=user_id,
            changes={"position": link.position, "name": link.name, "user_id": [previous, user_id]},
        )
        return link
