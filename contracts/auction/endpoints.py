"""Thin handlers: auctions, deposits, bids, the live stream, and the admins' views."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response, status
from fastapi.responses import StreamingResponse

from contracts import errors as contract_errors
from contracts.auction import errors, stream
from contracts.auction.deposits import DepositService
from contracts.auction.models import HELD, Auction, AuctionBid, AuctionDeposit, AuctionStatus, DepositStatus
from contracts.auction.repository import AuctionRepository
from contracts.auction.rules import minimum_bid
from contracts.auction.schemas import (
    AuctionCreate,
    AuctionPage,
    AuctionRead,
    BidIn,
    BidPage,
    BidRead,
    DepositPage,
    DepositRead,
)
from contracts.auction.service import AuctionService
from contracts.deps import ProviderDep
from core.deps import SessionDep
from core.errors import problem_responses
from core.money import fen_to_yuan, yuan_to_fen
from core.pagination import PageQuery
from core.visibility import Subject
from market.identity.deps import CurrentPrincipal
from market.identity.endpoints import AUTH_ERRORS

router = APIRouter(prefix="/api/v1", tags=["auctions"])


def _yuan(fen: int | None) -> object:
    return None if fen is None else fen_to_yuan(fen)


def read(auction: Auction) -> AuctionRead:
    live = auction.status == AuctionStatus.live
    parties = frozenset({auction.winner_org_id}) if auction.winner_org_id else frozenset[int]()
    return AuctionRead(
        id=auction.id or 0,
        achievement_id=auction.achievement_id,
        seller_org_id=auction.seller_org_id,
        title=auction.title,
        start_price=fen_to_yuan(auction.start_price_fen),
        reserve_price=fen_to_yuan(auction.reserve_fen),
        increment=fen_to_yuan(auction.increment_fen),
        deposit=fen_to_yuan(auction.deposit_fen),
        starts_at=auction.starts_at,
        ends_at=auction.ends_at,
        scheduled_end_at=auction.scheduled_end_at,
        extension_minutes=auction.extension_minutes,
        sign_days=auction.sign_days,
        status=auction.status,
        current_price=_yuan(auction.current_price_fen),
        minimum_bid=_yuan(
            minimum_bid(auction.start_price_fen, auction.current_price_fen, auction.increment_fen) if live else None
        ),
        bid_count=auction.bid_count,
        winner_org_id=auction.winner_org_id,
        price=_yuan(auction.price_fen),
        contract_id=auction.contract_id,
        closed_at=auction.closed_at,
        sign_due_at=auction.sign_due_at,
        created_at=auction.created_at,
    ).about(Subject(owner=auction.seller_org_id, parties=parties))


def _bid(bid: AuctionBid, paddle: int | None) -> BidRead:
    return BidRead(
        id=bid.id or 0,
        auction_id=bid.auction_id,
        seq=bid.seq,
        amount=fen_to_yuan(bid.amount_fen),
        paddle=paddle,
        created_at=bid.created_at,
    )


def _deposit(deposit: AuctionDeposit) -> DepositRead:
    return DepositRead(
        id=deposit.id or 0,
        auction_id=deposit.auction_id,
        organization_id=deposit.organization_id,
        amount=fen_to_yuan(deposit.amount_fen),
        status=deposit.status,
        provider_intent_id=deposit.provider_intent_id,
        created_at=deposit.created_at,
        resolved_at=deposit.resolved_at,
    ).about(Subject(owner=deposit.organization_id))


@router.post(
    "/auctions",
    response_model=AuctionRead,
    status_code=status.HTTP_201_CREATED,
    summary="卖方发起成果拍卖 (英式增价; 保留价不公开)",
    responses=problem_responses(
        *AUTH_ERRORS,
        contract_errors.ListingNotFound,
        errors.AchievementNotAuctionable,
        errors.AuctionAlreadyLive,
        errors.InvalidAuctionTerms,
    ),
)
async def create_auction(data: AuctionCreate, principal: CurrentPrincipal, session: SessionDep) -> AuctionRead:
    return read(await AuctionService(session).create(principal, data))


@router.get("/auctions", response_model=AuctionPage, responses=problem_responses(*AUTH_ERRORS))
async def list_auctions(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    status_: Annotated[AuctionStatus | None, Query(alias="status")] = None,
) -> AuctionPage:
    del principal
    auctions, total = await AuctionRepository(session).listed(status_, page.offset, page.limit)
    return AuctionPage.of([read(a) for a in auctions], total, page)


@router.get(
    "/auctions/{auction_id}",
    response_model=AuctionRead,
    responses=problem_responses(*AUTH_ERRORS, errors.AuctionNotFound),
)
async def get_auction(auction_id: int, principal: CurrentPrincipal, session: SessionDep) -> AuctionRead:
    del principal
    return read(await AuctionService(session).get(auction_id))


@router.post(
    "/auctions/{auction_id}/deposit",
    response_model=DepositRead,
    summary="缴纳竞价保证金 (经支付服务; 幂等)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.AuctionNotFound,
        errors.OwnAuction,
        errors.AuctionNotOpen,
        contract_errors.ProviderUnavailableError,
        contract_errors.ProviderRejectedError,
    ),
)
async def pay_deposit(
    auction_id: int, principal: CurrentPrincipal, session: SessionDep, provider: ProviderDep
) -> DepositRead:
    return _deposit(await DepositService(session, provider).pay(principal, auction_id))


@router.post(
    "/auctions/{auction_id}/bids",
    response_model=BidRead,
    status_code=status.HTTP_201_CREATED,
    summary="出价 (须带 Idempotency-Key; 重试返回原出价, 状态码 200)",
    responses=problem_responses(
        *AUTH_ERRORS,
        errors.AuctionNotFound,
        errors.OwnAuction,
        errors.DepositRequired,
        errors.AuctionNotOpen,
        errors.BidTooLow,
        errors.AlreadyLeading,
        errors.IdempotencyKeyRequired,
        errors.IdempotencyKeyReused,
    ),
)
async def place_bid(
    auction_id: int,
    data: BidIn,
    response: Response,
    principal: CurrentPrincipal,
    session: SessionDep,
    provider: ProviderDep,
    idempotency_key: Annotated[str | None, Header(alias="Idempotency-Key", max_length=64)] = None,
) -> BidRead:
    bid, created, paddle = await AuctionService(session, provider).bid(
        principal, auction_id, yuan_to_fen(data.amount), idempotency_key
    )
    if not created:
        response.status_code = status.HTTP_200_OK
    return _bid(bid, paddle)


@router.get(
    "/auctions/{auction_id}/bids",
    response_model=BidPage,
    responses=problem_responses(*AUTH_ERRORS, errors.AuctionNotFound),
)
async def list_bids(auction_id: int, principal: CurrentPrincipal, session: SessionDep, page: PageQuery) -> BidPage:
    del principal
    await AuctionService(session).get(auction_id)
    bids, total = await AuctionRepository(session).bids(auction_id, page.offset, page.limit)
    return BidPage.of([_bid(b, None) for b in bids], total, page)


@router.get(
    "/auctions/{auction_id}/events",
    summary="实时竞价流 (Server-Sent Events: bid / extended / closed; 支持 Last-Event-ID)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(*AUTH_ERRORS, errors.AuctionNotFound)},
)
async def auction_events(
    auction_id: int,
    request: Request,
    principal: CurrentPrincipal,
    session: SessionDep,
    last_event_id: Annotated[int | None, Header(alias="Last-Event-ID", ge=0)] = None,
    after: Annotated[int, Query(ge=0, description="从该事件序号之后开始 (同 Last-Event-ID)")] = 0,
) -> StreamingResponse:
    del principal
    await AuctionService(session).get(auction_id)
    cursor = last_event_id if last_event_id is not None else after
    body = stream.events(request.app.state.database, auction_id, cursor, request.is_disconnected)
    return StreamingResponse(body, media_type="text/event-stream", headers={"Cache-Control": "no-cache"})


@router.get(
    "/auction-deposits",
    response_model=DepositPage,
    summary="保证金台账 (平台管理员): held=在管, forfeited=没收, 亦可按其他状态",
    responses=problem_responses(*AUTH_ERRORS, errors.AdminOnlyView),
)
async def list_deposits(
    principal: CurrentPrincipal,
    session: SessionDep,
    page: PageQuery,
    status_: Annotated[DepositStatus, Query(alias="status")] = DepositStatus.held,
) -> DepositPage:
    if not principal.is_platform_admin:
        raise errors.AdminOnlyView()
    statuses = list(HELD) if status_ == DepositStatus.held else [status_]
    repository = AuctionRepository(session)
    deposits, total = await repository.deposits_in(statuses, page.offset, page.limit)
    totals = {kind: fen_to_yuan(fen) for kind, fen in (await repository.ledger_totals()).items()}
    return DepositPage.of([_deposit(d) for d in deposits], total, page, totals=totals)
