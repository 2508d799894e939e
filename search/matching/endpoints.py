"""GET /api/v1/demands/{id}/matches and /api/v1/achievements/{id}/matches."""

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from core.deps import SessionDep
from core.errors import problem_responses
from core.pagination import PageQuery
from market.identity.deps import OptionalPrincipal
from market.identity.endpoints import AUTH_ERRORS
from market.listings.errors import ListingNotFound
from market.listings.kinds import ACHIEVEMENT, DEMAND, ListingKind
from market.listings.models import TransactionMode
from market.listings.repository import ListingRepository
from search.endpoints import get_engine
from search.errors import SearchUnavailable
from search.matching.service import ListingNotPublished, MatchingService, MatchPage
from search.pipeline import SearchEngine
from search.query import SearchQuery

router = APIRouter(prefix="/api/v1", tags=["matching"])


async def get_matching_service(
    request: Request, session: SessionDep, engine: Annotated[SearchEngine, Depends(get_engine)]
) -> MatchingService:
    return MatchingService(engine, ListingRepository(session), vector_model=request.app.state.vector_model)


MatchingDep = Annotated[MatchingService, Depends(get_matching_service)]
ERRORS = problem_responses(*AUTH_ERRORS, ListingNotFound, ListingNotPublished, SearchUnavailable)


def _route(kind: ListingKind, path: str, summary: str) -> None:
    async def handler(
        listing_id: int,
        principal: OptionalPrincipal,
        service: MatchingDep,
        page: PageQuery,
        field: Annotated[list[str] | None, Query(max_length=20)] = None,
        region: Annotated[list[str] | None, Query(max_length=50)] = None,
        mode: Annotated[list[TransactionMode] | None, Query()] = None,
    ) -> MatchPage:
        query = SearchQuery.parse(
            fields=field or [], regions=region or [], transaction_modes=[m.value for m in mode or []]
        )
        filters = {"fields": query.fields, "regions": query.regions, "transaction_modes": query.transaction_modes}
        return await service.matches(principal, kind, listing_id, limit=page.limit, offset=page.offset, filters=filters)

    router.add_api_route(
        f"/{path}/{{listing_id}}/matches",
        handler,
        methods=["GET"],
        response_model=MatchPage,
        summary=summary,
        responses=ERRORS,
        name=f"matches_for_{kind.name}",
    )


_route(DEMAND, "demands", "为技术需求推荐科技成果 (含中文推荐理由)")
_route(ACHIEVEMENT, "achievements", "为科技成果推荐技术需求 (含中文推荐理由)")
