"""GET /api/v1/search/achievements and /api/v1/search/demands: full text, filters, facets, sort."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from core.deps import SessionDep
from core.errors import problem_responses
from core.money import Yuan, yuan_to_fen
from core.pagination import DEFAULT_LIMIT, Limit
from market.identity.deps import optional_principal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.models import OrganizationKind
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.models import IpType, Maturity, TransactionMode
from search.errors import QueryTooLong, SearchUnavailable
from search.pipeline import SearchEngine
from search.query import FACETS, FacetName, SearchQuery, Sort
from search.repository import SearchRepository
from search.service import SearchPage, SearchService

router = APIRouter(prefix="/api/v1/search", tags=["search"])


async def get_engine(request: Request) -> SearchEngine:
    return request.app.state.search


async def get_search_service(
    session: SessionDep, engine: Annotated[SearchEngine, Depends(get_engine)]
) -> SearchService:
    return SearchService(engine, SearchRepository(session))


async def search_query(
    q: Annotated[str | None, Query(description="检索词, 最长 200 字")] = None,
    field: Annotated[list[str] | None, Query(max_length=20)] = None,
    region: Annotated[list[str] | None, Query(max_length=50, description="GB/T 2260; 150000 含全部盟市")] = None,
    maturity: Annotated[list[Maturity] | None, Query()] = None,
    trl_min: Annotated[int | None, Query(ge=1, le=9)] = None,
    trl_max: Annotated[int | None, Query(ge=1, le=9)] = None,
    mode: Annotated[list[TransactionMode] | None, Query(description="交易方式, 任一匹配")] = None,
    price_min: Annotated[Yuan | None, Query(description="成果价格或需求预算下限 (元)")] = None,
    price_max: Annotated[Yuan | None, Query(description="上限 (元)")] = None,
    ip_type: Annotated[list[IpType] | None, Query()] = None,
    owner_kind: Annotated[list[OrganizationKind] | None, Query()] = None,
    sort: Sort = "relevance",
    offset: Annotated[int, Query(ge=0, le=1000, description="跳过的条数 (最多 1000) · items to skip")] = 0,
    limit: Limit = DEFAULT_LIMIT,
    facets: Annotated[list[FacetName] | None, Query(description="默认返回全部分面")] = None,
    related: Annotated[
        bool, Query(description="命中不足 10 条时, 在其后补上相关条目 (items[].related 为 true); false 只返回命中")
    ] = True,
) -> SearchQuery:
    """The query parameters as the one validated request (yuan → fen here, at the edge)."""
    return SearchQuery.parse(
        text=(q or "").strip(),
        fields=field or [],
        regions=region or [],
        maturity=[m.value for m in maturity or []],
        trl_min=trl_min,
        trl_max=trl_max,
        transaction_modes=[m.value for m in mode or []],
        price_min_fen=None if price_min is None else yuan_to_fen(price_min),
        price_max_fen=None if price_max is None else yuan_to_fen(price_max),
        ip_types=[t.value for t in ip_type or []],
        owner_kinds=[k.value for k in owner_kind or []],
        sort=sort,
        offset=offset,
        limit=limit,
        facets=facets if facets is not None else list(FACETS),
        related=related,
    )


@router.get(
    "/{kind}",
    response_model=SearchPage,
    summary="检索已发布的成果或需求 (中文分词、同义词、繁体、拼音、英文拼写容错)",
    responses=problem_responses(*AUTH_ERRORS, QueryTooLong, SearchUnavailable),
    dependencies=[Depends(optional_principal)],  # the caller, for the visibility the items are rendered with
)
async def search_listings(
    kind: Literal["achievements", "demands"],
    query: Annotated[SearchQuery, Depends(search_query)],
    service: Annotated[SearchService, Depends(get_search_service)],
) -> SearchPage:
    return await service.search(ACHIEVEMENT if kind == "achievements" else DEMAND, query)
