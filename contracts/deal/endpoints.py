"""Thin handlers for deals (意向) and their messages."""

from __future__ import annotations

from fastapi import APIRouter, status

from contracts import errors
from contracts.deal.schemas import (
    DealCreate,
    DealDrop,
    DealPage,
    DealRead,
    MessageCreate,
    MessagePage,
    MessageRead,
    deal_subject,
)
from contracts.deal.service import DealService
from core.deps import SessionDep
from core.errors import problem_responses
from core.pagination import PageQuery
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.errors import OrganizationNotVerified, OtherOrganization

router = APIRouter(prefix="/api/v1/deals", tags=["deals"])


@router.post(
    "",
    response_model=DealRead,
    status_code=status.HTTP_201_CREATED,
    summary="对成果表达意向, 或响应技术需求 (附首条留言)",
    responses=problem_responses(
        *AUTH_ERRORS, OtherOrganization, OrganizationNotVerified, errors.ListingNotFound, errors.OwnListing
    ),
)
async def open_deal(data: DealCreate, principal: CurrentPrincipal, session: SessionDep) -> DealRead:
    return DealRead.model_validate(await DealService(session).open(principal, data))


@router.get("", response_model=DealPage, summary="本单位的意向", responses=problem_responses(*AUTH_ERRORS))
async def list_deals(principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> DealPage:
    deals, total = await DealService(session).mine(principal, page.offset, page.limit)
    return DealPage.of([DealRead.model_validate(d) for d in deals], total, page)


@router.get("/{deal_id}", response_model=DealRead, responses=problem_responses(*AUTH_ERRORS, errors.DealNotFound))
async def get_deal(deal_id: int, principal: CurrentPrincipal, session: SessionDep) -> DealRead:
    return DealRead.model_validate(await DealService(session).get(principal, deal_id))


@router.post(
    "/{deal_id}/messages",
    response_model=MessageRead,
    status_code=status.HTTP_201_CREATED,
    summary="留言",
    responses=problem_responses(*AUTH_ERRORS, errors.DealNotFound, errors.DealClosed),
)
async def post_message(
    deal_id: int, data: MessageCreate, principal: CurrentPrincipal, session: SessionDep
) -> MessageRead:
    service = DealService(session)
    message = await service.post(principal, deal_id, data.body)
    return MessageRead.model_validate(message).about(deal_subject(await service.get(principal, deal_id)))


@router.get(
    "/{deal_id}/messages", response_model=MessagePage, responses=problem_responses(*AUTH_ERRORS, errors.DealNotFound)
)
async def list_messages(deal_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> MessagePage:
    service = DealService(session)
    messages, total = await service.messages(principal, deal_id, page.offset, page.limit)
    subject = deal_subject(await service.get(principal, deal_id))
    items = [MessageRead.model_validate(m).about(subject) for m in messages]
    return MessagePage.of(items, total, page)


@router.post(
    "/{deal_id}/drop",
    response_model=DealRead,
    summary="放弃意向",
    responses=problem_responses(*AUTH_ERRORS, errors.DealNotFound, errors.DealClosed),
)
async def drop_deal(deal_id: int, data: DealDrop, principal: CurrentPrincipal, session: SessionDep) -> DealRead:
    return DealRead.model_validate(await DealService(session).drop(principal, deal_id, data.reason))
