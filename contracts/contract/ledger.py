"""A contract's reward ledger and its inventors' accounts: read through the contract, so only those who
may see the contract see them; the seller invites its inventors (``contracts.reward.invitations``).

Served under the ``rewards`` tag, next to the reward package's own routes (``contracts.routers``).
"""

from __future__ import annotations

from fastapi import APIRouter, status

from contracts import errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.reward import errors as reward_errors
from contracts.reward.invitations import InvitationService
from contracts.reward.models import InventorLink
from contracts.reward.rules import format_bp
from contracts.reward.schemas import (
    DeductionRead,
    DistributionRead,
    InventorEntryPage,
    InventorEntryRead,
    InvitationCreated,
    InvitationIn,
    InvitationRead,
    InvitationStatus,
    LedgerRead,
    LineRead,
)
from contracts.reward.service import RewardService, signed_yuan
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan
from core.pagination import PageQuery
from core.types import utcnow
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS

router = APIRouter(prefix="/api/v1", tags=["rewards"])


@router.get(
    "/contracts/{contract_id}/distributions",
    response_model=LedgerRead,
    summary="合同的收益分配台账 (只增不改; 退款为负数冲回)",
    responses=problem_responses(*AUTH_ERRORS, errors.ContractNotFound),
)
async def contract_ledger(contract_id: int, principal: CurrentPrincipal, session: SessionDep) -> LedgerRead:
    contract = await ContractService(session).get(principal, contract_id)
    repository = RewardService(session).repository
    distributions = await repository.distributions(contract_id)
    lines = await repository.lines([d.id or 0 for d in distributions])
    items = [
        DistributionRead(
            id=d.id or 0,
            contract_id=d.contract_id,
            payment_id=d.payment_id,
            source=d.source,
            gross=signed_yuan(d.gross_fen),
            deductions=signed_yuan(d.deductions_fen),
            net=signed_yuan(d.net_fen),
            team=signed_yuan(d.team_fen),
            institution=signed_yuan(d.institution_fen),
            rate=format_bp(d.rate_bp),
            rule=d.rule,
            created_at=d.created_at,
            lines=[
                LineRead(
                    beneficiary=line.beneficiary,
                    position=line.position,
                    name=line.name,
                    user_id=line.user_id,
                    amount=signed_yuan(line.amount_fen),
                )
                for line in lines
                if line.distribution_id == d.id
            ],
        )
        for d in distributions
    ]
    received, net, team, _ = await repository.totals(contract_id)
    return LedgerRead(
        contract_id=contract_id,
        deductions=[
            DeductionRead(kind=x.kind, description=x.description, amount=fen_to_yuan(x.amount_fen))
            for x in await repository.deductions(contract_id)
        ],
        items=items,
        total=len(items),
        totals={
            "received": signed_yuan(received),
            "net": signed_yuan(net),
            "team": signed_yuan(team),
            "institution": signed_yuan(net - team),
        },
    ).about(contract_subject(contract))


def _invitation(link: InventorLink | None) -> InvitationRead | None:
    if link is None:
        return None
    state = InvitationStatus.pending
    if link.accepted_at is not None:
        state = InvitationStatus.accepted
    elif link.expires_at <= utcnow():
        state = InvitationStatus.expired
    return InvitationRead(
        channel=link.channel,
        address=link.address,
        status=state,
        invited_at=link.invited_at,
        expires_at=link.expires_at,
        accepted_at=link.accepted_at,
    )


@router.get(
    "/contracts/{contract_id}/inventors",
    response_model=InventorEntryPage,
    summary="合同的成果完成人, 及其关联的账号和邀请",
    responses=problem_responses(*AUTH_ERRORS, errors.ContractNotFound),
)
async def contract_inventors(
    contract_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery
) -> InventorEntryPage:
    contract = await ContractService(session).get(principal, contract_id)
    links, subject = await InvitationService(session).links(contract_id), contract_subject(contract)
    entries = [
        InventorEntryRead(
            position=position,
            name=str(person["name"]),
            weight=int(person.get("weight", 1)),
            user_id=link.user_id if link is not None and link.user_id is not None else person.get("user_id"),
            linked_at=link.linked_at if link is not None else None,
            invitation=_invitation(link),
        ).about(subject)
        for position, person in enumerate(contract.inventors, start=1)
        for link in [links.get(position)]
    ]
    return InventorEntryPage.window(entries, page)


@router.post(
    "/contracts/{contract_id}/inventors/{position}/invitation",
    response_model=InvitationCreated,
    status_code=status.HTTP_201_CREATED,
    summary="卖方邀请成果完成人 (邮箱或手机号) 关联平台账号; 再次邀请取代上一次",
    responses=problem_responses(
        *AUTH_ERRORS, errors.ContractNotFound, reward_errors.InvitationSellerOnly, reward_errors.InventorNotFound
    ),
)
async def invite_inventor(
    contract_id: int, position: int, data: InvitationIn, principal: CurrentPrincipal, session: SessionDep
) -> InvitationCreated:
    contract = await ContractService(session).get(principal, contract_id, lock=True)
    link, code = await InvitationService(session).invite(principal, contract, position, data.channel, data.address)
    return InvitationCreated(
        contract_id=contract_id,
        position=position,
        name=link.name,
        channel=link.channel,
        address=link.address,
        expires_at=link.expires_at,
        code=code,
    ).about(contract_subject(contract))
