"""Thin handlers: a contract's reward ledger, an inventor's own lines, an institution's export."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from contracts import errors
from contracts.contract.schemas import contract_subject
from contracts.contract.service import ContractService
from contracts.reward.rules import format_bp
from contracts.reward.schemas import DeductionRead, DistributionRead, LedgerRead, LineRead, MyLinePage, MyLineRead
from contracts.reward.service import EXPORT_COLUMNS, RewardService, export_rows
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan
from core.tabular import MEDIA_TYPES, export_bytes
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OtherOrganization

router = APIRouter(prefix="/api/v1", tags=["rewards"])


def _yuan(fen: int) -> str:
    return f"{'-' if fen < 0 else ''}{fen_to_yuan(abs(fen))}"


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
            gross=_yuan(d.gross_fen),
            deductions=_yuan(d.deductions_fen),
            net=_yuan(d.net_fen),
            team=_yuan(d.team_fen),
            institution=_yuan(d.institution_fen),
            rate=format_bp(d.rate_bp),
            rule=d.rule,
            created_at=d.created_at,
            lines=[
                LineRead(
                    beneficiary=line.beneficiary,
                    position=line.position,
                    name=line.name,
                    user_id=line.user_id,
                    amount=_yuan(line.amount_fen),
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
        totals={"received": _yuan(received), "net": _yuan(net), "team": _yuan(team), "institution": _yuan(net - team)},
    ).about(contract_subject(contract))


@router.get(
    "/rewards/mine",
    response_model=MyLinePage,
    summary="成果完成人查看本人的分配",
    responses=problem_responses(*AUTH_ERRORS),
)
async def my_rewards(principal: CurrentPrincipal, session: SessionDep) -> MyLinePage:
    lines = await RewardService(session).repository.lines_of_user(principal.user.id or 0)
    return MyLinePage(
        items=[
            MyLineRead(
                contract_id=x.contract_id,
                distribution_id=x.distribution_id,
                name=x.name,
                amount=_yuan(x.amount_fen),
                created_at=x.created_at,
            )
            for x in lines
        ],
        total=len(lines),
        sum=_yuan(sum(x.amount_fen for x in lines)),
    ).about(Subject(user=principal.user.id))  # the lines of the caller as inventor


@router.get(
    "/rewards/export",
    summary="单位导出本单位的收益分配 (CSV 或 XLSX)",
    responses={
        200: {"content": {MEDIA_TYPES["csv"]: {}, MEDIA_TYPES["xlsx"]: {}}},
        **problem_responses(*AUTH_ERRORS, OtherOrganization),
    },
)
async def export_rewards(
    principal: CurrentPrincipal, session: SessionDep, format: Literal["csv", "xlsx"] = "csv"
) -> Response:
    if principal.organization is None:
        raise OtherOrganization("只有单位账号可以导出本单位的收益分配")
    rows = export_rows(await RewardService(session).repository.lines_of_institution(principal.organization.id or 0))
    content = await export_bytes(format, EXPORT_COLUMNS, rows, title="收益分配")
    return Response(
        content,
        media_type=MEDIA_TYPES[format],
        headers={"Content-Disposition": f'attachment; filename="reward-distributions.{format}"'},
    )
