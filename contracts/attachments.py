"""Attachments on deals and contracts (the contract text, reports shared while negotiating).

A deal's files are its two parties' (no admin reviews an expression of interest); a contract's are
its parties' and the admins governing either party's region, who see every file on it.
"""

from __future__ import annotations

from fastapi import APIRouter
from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.deal.schemas import deal_subject
from contracts.deal.service import DealService
from market.attachments.endpoints import add_attachment_routes
from market.attachments.models import OwnerKind
from market.attachments.service import Holder
from market.identity.errors import AuthenticationRequired
from market.identity.service import Principal


async def deal_holder(session: AsyncSession, principal: Principal | None, deal_id: int) -> Holder:
    if principal is None:
        raise AuthenticationRequired()
    deal = await DealService(session).get(principal, deal_id)
    parties = frozenset({deal.seller_org_id, deal.buyer_org_id})
    return Holder(kind=OwnerKind.deal, id=deal.id or 0, subject=deal_subject(deal), writers=parties)


async def contract_holder(session: AsyncSession, principal: Principal | None, contract_id: int) -> Holder:
    if principal is None:
        raise AuthenticationRequired()
    contract = await ContractService(session).get(principal, contract_id)
    parties = frozenset({contract.seller_org_id, contract.buyer_org_id})
    return Holder(kind=OwnerKind.contract, id=contract.id or 0, subject=contract_subject(contract), writers=parties)


deal_attachments_router = APIRouter(prefix="/api/v1/deals", tags=["deals"])
add_attachment_routes(
    deal_attachments_router, kind=OwnerKind.deal, label="交易意向", resolve=deal_holder, not_found=errors.DealNotFound
)
contract_attachments_router = APIRouter(prefix="/api/v1/contracts", tags=["contracts"])
add_attachment_routes(
    contract_attachments_router,
    kind=OwnerKind.contract,
    label="技术合同",
    resolve=contract_holder,
    not_found=errors.ContractNotFound,
)
