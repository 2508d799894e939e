"""On completion: the 成交公示 of the deal and its 交易鉴证.

A contract completed after a listing or auction award takes over that award's deal notice; any other
contract on an achievement publishes one (协议定价). Every completed contract gets one certificate:
a unique number and the SHA-256 of the contract's terms in their canonical form
(``contracts.contract.terms``: the same digest both parties signed). Anyone may check a number, and
whether a digest they hold matches it, without learning the terms.
"""

from __future__ import annotations

import secrets
from collections.abc import Sequence
from datetime import date

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.models import Contract
from contracts.contract.service import ContractService
from contracts.pricing.deal_notices import publish_deal_notice
from contracts.pricing.models import DealMode, TransactionCertificate
from contracts.pricing.repository import PricingRepository
from contracts.pricing.schemas import CertificateCheck

DIGEST_LENGTH = 64


def new_number(issued_on: date) -> str:
    """JZ + issue date + 10 random hex digits: unique (a clash is retried by the unique index) and not guessable."""
    return f"JZ{issued_on:%Y%m%d}{secrets.token_hex(5).upper()}"


async def on_completed(
    session: AsyncSession, contract: Contract, achievement_ids: Sequence[int], today: date
) -> TransactionCertificate:
    repository = PricingRepository(session)
    cid = contract.id or 0
    notice = await repository.deal_notice_of_contract(cid)
    if notice is None:
        notice = await repository.unlinked_award(achievement_ids, contract.buyer_org_id, contract.total_fen)
        if notice is not None:
            notice.contract_id = cid
            await repository.add(notice)
        elif achievement_ids:
            notice = await publish_deal_notice(
                session,
                achievement_id=sorted(achievement_ids)[0],
                mode=DealMode.agreed.value,
                price_fen=contract.total_fen,
                seller_organization_id=contract.seller_org_id,
                buyer_organization_id=contract.buyer_org_id,
                contract_id=cid,
                deal_date=today,
            )
    existing = await repository.certificate_of_contract(cid)
    if existing is not None:
        return existing
    certificate = TransactionCertificate(
        number=new_number(today),
        contract_id=cid,
        deal_notice_id=notice.id if notice is not None else None,
        mode=notice.mode if notice is not None else DealMode.agreed,
        terms_digest=await ContractService(session).terms_digest(contract),
        issued_on=today,
    )
    await repository.add(certificate)
    return certificate


async def verify(session: AsyncSession, number: str, digest: str | None) -> CertificateCheck:
    certificate = await PricingRepository(session).certificate(number.strip().upper())
    if certificate is None:
        return CertificateCheck(number=number, genuine=False, digest_matches=None if digest is None else False)
    matches = (
        None
        if digest is None
        else secrets.compare_digest(digest.strip().lower().encode(), certificate.terms_digest.encode())
    )
    return CertificateCheck(
        number=certificate.number,
        genuine=True,
        issued_on=certificate.issued_on,
        mode=certificate.mode,
        digest_matches=matches,
    )
