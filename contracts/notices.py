"""The contract journey's announcements for notification: a deal message, a signature, a payment, a
distribution (to the seller, and to each linked inventor their own share). Each is one outbox event in
the transaction of its change, naming whom it concerns; ``market.notifications`` tells those people
(in-app, webhook, e-mail)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.models import Contract, Milestone
from contracts.deal.models import Deal, DealMessage
from contracts.payment.models import Payment
from contracts.reward.models import BeneficiaryKind, Distribution, DistributionLine
from core.money import fen_to_yuan
from market.identity.service import Principal
from market.notifications.service import (
    DEAL_MESSAGE_TOPIC,
    DISTRIBUTION_TOPIC,
    PAYMENT_TOPIC,
    SIGNATURE_TOPIC,
    announce,
)

EXCERPT = 200


async def deal_message(session: AsyncSession, principal: Principal, deal: Deal, message: DealMessage) -> None:
    """The other party is told."""
    other = deal.buyer_org_id if message.organization_id == deal.seller_org_id else deal.seller_org_id
    author = principal.organization.name if principal.organization is not None else None
    data = {"deal_id": deal.id, "title": f"意向 #{deal.id}", "author": author, "excerpt": message.body[:EXCERPT]}
    await announce(
        session, DEAL_MESSAGE_TOPIC, f"deal:{deal.id}", f"msg_{message.id}", "deal.message",
        {**data, "organization_ids": [other]},
    )  # fmt: skip


async def signature(session: AsyncSession, principal: Principal, contract: Contract, digest: str) -> None:
    """One side signed: the other side is told; both signed: both are."""
    seller = principal.belongs_to(contract.seller_org_id)
    complete = contract.seller_signed_digest == digest and contract.buyer_signed_digest == digest
    parties = [contract.seller_org_id, contract.buyer_org_id]
    told = parties if complete else [contract.buyer_org_id if seller else contract.seller_org_id]
    signer = principal.organization.name if principal.organization is not None else None
    data = {"contract_id": contract.id, "title": contract.title, "complete": complete, "signer": signer}
    side = "seller" if seller else "buyer"
    event_id = f"sig_{contract.id}_{side}_{digest[:16]}"
    await announce(
        session, SIGNATURE_TOPIC, f"contract:{contract.id}", event_id, "contract.signature",
        {**data, "side": side, "organization_ids": told},
    )  # fmt: skip


async def payment(session: AsyncSession, contract: Contract, milestone: Milestone, paid: Payment) -> None:
    """Both parties are told a milestone was paid."""
    data = {
        "contract_id": contract.id,
        "title": contract.title,
        "milestone": milestone.title,
        "amount": str(fen_to_yuan(paid.amount_fen)),
        "organization_ids": [contract.seller_org_id, contract.buyer_org_id],
    }
    await announce(
        session, PAYMENT_TOPIC, f"contract:{contract.id}", f"pay_{paid.id}", "contract.payment_succeeded", data
    )


async def distribution(session: AsyncSession, contract: Contract, row: Distribution | None) -> None:
    """The seller (who pays its inventors) is told how a payment's income was split; each inventor whose
    account is linked to their entry is told only their own amount."""
    if row is None:
        return
    data = {
        "contract_id": contract.id,
        "title": contract.title,
        "gross": str(fen_to_yuan(row.gross_fen)),
        "deductions": str(fen_to_yuan(row.deductions_fen)),
        "net": str(fen_to_yuan(row.net_fen)),
        "team": str(fen_to_yuan(row.team_fen)),
        "organization_ids": [contract.seller_org_id],
    }
    await announce(
        session, DISTRIBUTION_TOPIC, f"contract:{contract.id}", f"dst_{row.id}", "contract.distribution", data
    )
    lines = await session.execute(
        select(DistributionLine).where(
            col(DistributionLine.distribution_id) == row.id,
            col(DistributionLine.beneficiary) == BeneficiaryKind.inventor,
            col(DistributionLine.user_id).is_not(None),
        )
    )
    for line in lines.scalars():  # each linked inventor is told their own amount, in an event of their own
        credited = {
            "contract_id": contract.id,
            "title": contract.title,
            "name": line.name,
            "amount": str(fen_to_yuan(line.amount_fen)),
            "organization_ids": [],
            "user_ids": [line.user_id],
        }
        await announce(
            session, DISTRIBUTION_TOPIC, f"contract:{contract.id}", f"dst_{row.id}_{line.position}",
            "contract.distribution_credited", credited,
        )  # fmt: skip
