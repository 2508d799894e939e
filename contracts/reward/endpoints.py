"""Thin handlers: an inventor's own lines and accepting an invitation, an institution's export (a contract's
ledger and inviting its inventors: contracts.contract.ledger)."""

from __future__ import annotations

from typing import Literal

from fastapi import APIRouter, Response

from contracts.reward import errors
from contracts.reward.invitations import InvitationService
from contracts.reward.schemas import AcceptIn, LinkedEntryRead, MyLinePage, MyLineRead
from contracts.reward.service import EXPORT_COLUMNS, RewardService, export_rows, signed_yuan
from core.deps import SessionDep
from core.errors import problem_responses
from core.pagination import PageQuery
from core.tabular import MEDIA_TYPES, export_bytes
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OtherOrganization

router = APIRouter(prefix="/api/v1", tags=["rewards"])


@router.get(
    "/rewards/mine",
    response_model=MyLinePage,
    summary="成果完成人查看本人的分配",
    responses=problem_responses(*AUTH_ERRORS),
)
async def my_rewards(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> MyLinePage:
    """The lines of every inventor entry linked to the caller (by an accepted invitation), whenever
    they were written."""
    lines, total, amount = await RewardService(session).repository.lines_of_user(
        principal.user.id or 0, page.offset, page.limit
    )
    return MyLinePage.of(
        [
            MyLineRead(
                contract_id=x.contract_id,
                distribution_id=x.distribution_id,
                name=x.name,
                amount=signed_yuan(x.amount_fen),
                created_at=x.created_at,
            )
            for x in lines
        ],
        total,
        page,
        sum=signed_yuan(amount),
    ).about(Subject(user=principal.user.id))  # the lines of the caller as inventor


@router.post(
    "/rewards/invitations/accept",
    response_model=LinkedEntryRead,
    summary="成果完成人接受邀请, 将本人账号关联到合同中的完成人",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.PersonalLoginRequired,
        errors.InvitationNotFound,
        errors.InvitationExpired,
        errors.InvitationAlreadyAccepted,
        errors.InventorAlreadyLinked,
    ),
)
async def accept_invitation(principal: CurrentPrincipal, session: SessionDep, data: AcceptIn) -> LinkedEntryRead:
    link = await InvitationService(session).accept(principal, data.code)
    return LinkedEntryRead(
        contract_id=link.contract_id, position=link.position, name=link.name, linked_at=link.linked_at
    ).about(Subject(user=principal.user.id))


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
