"""A contract's reward ledger: read through the contract, so only those who may see the contract see it.

Served under the ``rewards`` tag, next to the reward package's own routes (``contracts.routers``).
"""

from __future__ import annotations

from fastapi import APIRouter

from contracts import errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.reward.rules import format_bp
from contracts.reward.schemas import DeductionRead, DistributionRead, LedgerRead, LineRead
from contracts.reward.service import RewardService, signed_yuan
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan
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
