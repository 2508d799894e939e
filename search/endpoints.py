"""GET /api/v1/search/achievements and /api/v1/search/demands: full text, filters, facets, sort."""

from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query, Request

from core.deps import SessionDep
from core.errors import problem_responses
from core.money import Yuan
from market.identity.deps import OptionalPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.identity.models import OrganizationKind
from market.listings.kinds import ACHIEVEMENT, DEMAND
from market.listings.models import IpType, Maturity, TransactionMode
from search.errors import QueryTooLong, SearchUnavailable
from search.pipeline import FACETS, FacetName, SearchEngine, Sort
from search.repository import SearchRepository
from search.service import SearchPage, SearchService

router = APIRouter(prefix="/api/v1/search", tags=["search"])


async def get_engine(request: Request) -> SearchEngine:
    return request.app.state.search  # type: ignore[no-any-return]


async def get_search_service(
    session: SessionDep, engine: Annotated[SearchEngine, Depends(get_engine)]
) -> SearchService:
    return SearchService(engine, SearchRepository(session))


@router.get(
    "/{kind}",
    response_model=SearchPage,
    summary="检索已发布的成果或需求 (中文分词、同义词、繁体、拼音、英文拼写容错)",
    responses=problem_responses(*AUTH_ERRORS, QueryTooLong, SearchUnavailable),
)
async def search_listings(
    kind: Literal["achievements", "demands"],
    principal: OptionalPrincipal,
    service: Annotated[SearchService, Depends(get_search_service)],
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
    offset: Annotated[int, Query(ge=0, le=1000)] = 0,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    facets: Annotated[list[FacetName] | None, Query(description="默认返回全部分面")] = None,
) -> SearchPage:
    params = {
        "q": q,
        "field": field,
        "region": region,
        "maturity": [m.value for m in maturity or []],
        "trl_min": trl_min,
        "trl_max": trl_max,
        "mode": [m.value for m in mode or []],
        "price_min": price_min,
        "price_max": price_max,
        "ip_type": [t.value for t in ip_type or []],
        "owner_kind": [k.value for k in owner_kind or []],
        "sort": sort,
        "offset": offset,
        "limit": limit,
        "facets": facets if facets is not None else list(FACETS),
    }
    return await service.search(principal, ACHIEVEMENT if kind == "achievements" else DEMAND, params)
