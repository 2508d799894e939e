"""Listing rules: who may see, edit, submit and review; every change audited and announced.

A change that affects what the public can find writes an outbox event in the same transaction;
the search relay reads the listing's current state when it processes it (idempotent, ordered).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ValidationError

from core import audit, outbox, reference
from core.errors import ValidationFailed
from core.problems import field_errors_from_pydantic
from core.types import utcnow
from market.identity.service import Principal
from market.listings import errors
from market.listings.kinds import ListingKind
from market.listings.models import Achievement, Demand, ListingStatus
from market.listings.repository import ListingFilters, ListingRepository, Owner, Visibility

SEARCH_TOPIC = "search.listing"
PUBLISHED_TOPIC = "listing.published"  # a listing became public: alerts score it against subscriptions

S = ListingStatus


@dataclass(frozen=True)
class Transition:
    sources: frozenset[ListingStatus]
    target: ListingStatus | None  # None: the status stays (a revision of a published listing)
    by: str  # "owner" | "reviewer" | "owner_or_reviewer"


TRANSITIONS: dict[str, Transition] = {
    "submit": Transition(frozenset({S.draft, S.rejected, S.withdrawn}), S.submitted, "owner"),
    "approve": Transition(frozenset({S.submitted}), S.published, "reviewer"),
    "reject": Transition(frozenset({S.submitted}), S.rejected, "reviewer"),
    "withdraw": Transition(frozenset({S.submitted, S.published}), S.withdrawn, "owner"),
    "close": Transition(frozenset({S.published}), S.closed, "owner_or_reviewer"),
}
DIRECTLY_EDITABLE = {S.draft, S.rejected, S.withdrawn}


def allowed_actions(row: Achievement | Demand) -> list[str]:
    actions = [name for name, t in TRANSITIONS.items() if row.status in t.sources]
    if row.status == S.published and row.pending_revision is not None:
        actions += ["approve", "reject"]
    return actions


def validation_failed(exc: ValidationError, prefix: str = "body") -> ValidationFailed:
    errors = field_errors_from_pydantic([dict(e) for e in exc.errors()])
    for error in errors:
        error.field = f"{prefix}.{error.field}" if error.field else prefix
    return ValidationFailed(errors=errors)


class ListingService:
    def __init__(self, repository: ListingRepository) -> None:
        self.repository = repository

    # --- reading -------------------------------------------------------------------------------

    async def get(
        self, principal: Principal | None, kind: ListingKind, listing_id: int, *, for_update: bool = False
    ) -> Achievement | Demand:
        """The listing if the caller may see it; otherwise it does not exist for them (no leak)."""
        row = await self.repository.get(kind.model, listing_id, for_update=for_update)
        if row is None or not (row.status == S.published or await self.is_privileged(principal, row)):
            raise errors.ListingNotFound()
        return row

    async def is_privileged(self, principal: Principal | None, row: Achievement | Demand) -> bool:
        """The owner's members and its reviewers see drafts and internals."""
        return principal is not None and (principal.belongs_to(row.owner_id) or await self.reviews(principal, row))

    async def reviews(self, principal: Principal, row: Achievement | Demand) -> bool:
        """Review scope follows the owner organization's region; the listing's own region (where the
        technology is) is data the owner chooses, never a key to another reviewer."""
        if principal.is_platform_admin:
            return True
        if principal.region_scope is None:
            return False
        region = await self.repository.owner_region(row.owner_id)
        return region is not None and principal.governs_region(region)

    @staticmethod
    def sees_internals(principal: Principal | None, row: Achievement | Demand, owner: Owner | None) -> bool:
        if principal is None:
            return False
        return principal.belongs_to(row.owner_id) or (owner is not None and principal.governs_region(owner.region))

    async def list(
        self,
        principal: Principal | None,
        kind: ListingKind,
        *,
        status: ListingStatus | None,
        field: str | None,
        region: str | None,
        owner_id: int | None,
        offset: int,
        limit: int,
    ) -> tuple[Sequence[Achievement | Demand], int]:
        """The public sees published listings; owners also theirs; admins everything in scope."""
        filters = ListingFilters(
            status=status,
            field=field,
            region_prefix=reference.region_prefix(region) if region else None,
            owner_id=owner_id,
            visibility=None if principal is not None and principal.is_platform_admin else _visibility(principal),
        )
        return await self.repository.list(kind.model, filters, offset=offset, limit=limit)

    async def owners(self, rows: Sequence[Achievement | Demand]) -> dict[int, Owner]:
        return await self.repository.owners(row.owner_id for row in rows)

    async def audit_trail(
        self, principal: Principal, kind: ListingKind, listing_id: int, offset: int, limit: int
    ) -> tuple[Sequence[audit.AuditEntry], int]:
        row = await self.get(principal, kind, listing_id)
        if not await self.reviews(principal, row):
            raise errors.NotAdmin()
        return await self.repository.audit_trail(kind.name, listing_id, offset, limit)

    # --- writing -------------------------------------------------------------------------------

    async def create(self, principal: Principal, kind: ListingKind, data: BaseModel) -> Achievement | Demand:
        """A draft of the caller's organization (pending organizations may draft, not submit)."""
        organization = principal.organization
        if organization is None or organization.id is None:
            raise errors.NotListingOwner("管理员账号不代表任何单位, 请使用单位账号发布")
        row = kind.model(
            **kind.to_columns(data),
            external_id=getattr(data, "external_id", None),
            region=getattr(data, "region", None) or organization.region,
            owner_id=organization.id,
            created_by=principal.user.id,
        )
        await self.repository.add(row)
        await audit.record(
            self.repository.session,
            kind.name,
            row.id or 0,
            "create",
            actor_user_id=principal.user.id,
            to_status=S.draft,
        )
        return row

    async def update(
        self, principal: Principal, kind: ListingKind, listing_id: int, patch: BaseModel
    ) -> Achievement | Demand:
        row = await self._owned(principal, kind, listing_id, for_update=True)
        changes = patch.model_dump(exclude_unset=True)
        if not changes:
            return row
        base = row.pending_revision if row.pending_revision is not None else kind.to_api(row)
        merged = {**base, **changes}
        # A deadline being set is checked as a new one would be; one left as it was may have passed.
        schema = kind.request_schema if "deadline" in changes else kind.create_schema
        try:
            data = schema.model_validate(merged)
        except ValidationError as exc:
            raise validation_failed(exc) from exc
        if kind.money_field in changes:
            _require_price_free(kind, row, getattr(data, kind.money_field))
        if row.status in DIRECTLY_EDITABLE:
            for name, value in {**kind.to_columns(data), "region": data.region or row.region}.items():
                setattr(row, name, value)
            action = "edit"
        elif row.status == S.published:
            # The published version stays visible; the edit waits for review.
            row.pending_revision = data.model_dump(mode="json", exclude={"external_id"})
            action = "propose_revision"
        else:
            raise errors.InvalidTransition(
                detail=f"状态为 {row.status.value} 的{kind.label_zh}不能修改", allowed=allowed_actions(row)
            )
        row.updated_at = utcnow()
        await self.repository.add(row)
        await audit.record(
            self.repository.session,
            kind.name,
            listing_id,
            action,
            actor_user_id=principal.user.id,
            from_status=row.status.value,
            to_status=row.status.value,
            changes=_jsonable(changes),
        )
        return row

    async def transition(
        self, principal: Principal, kind: ListingKind, listing_id: int, action: str, reason: str | None = None
    ) -> Achievement | Demand:
        row = await self.get(principal, kind, listing_id, for_update=True)
        rule = TRANSITIONS[action]
        revision_review = (
            action in ("approve", "reject") and row.status == S.published and row.pending_revision is not None
        )
        # Who may act comes first: a role that may never do this gets 403, whatever the state.
        await self._authorize(principal, row, rule.by)
        if row.status not in rule.sources and not revision_review:
            raise errors.InvalidTransition(
                detail=f"{kind.label_zh}当前状态为 {row.status.value}, 不能 {action}", allowed=allowed_actions(row)
            )
        if action == "submit":
            principal.require_can_publish()
        source = row.status
        if revision_review:
            if action == "approve":
                revised = kind.create_schema.model_validate(row.pending_revision or {})
                _require_price_free(kind, row, getattr(revised, kind.money_field))
                for name, value in kind.revision_to_columns(row.pending_revision or {}).items():
                    setattr(row, name, value if name != "region" or value else row.region)
            else:
                row.review_reason = reason
            row.pending_revision = None
        else:
            row.status = rule.target or row.status
            if action == "reject":
                row.review_reason = reason
            if action == "approve":
                row.published_at = utcnow()
                row.review_reason = None
        row.updated_at = utcnow()
        await self.repository.add(row)
        await audit.record(
            self.repository.session,
            kind.name,
            listing_id,
            f"{action}_revision" if revision_review else action,
            actor_user_id=principal.user.id,
            from_status=source.value,
            to_status=row.status.value,
            reason=reason,
        )
        if source == S.published or row.status == S.published:
            await announce(self.repository, kind, listing_id)
        if source != S.published and row.status == S.published:
            payload = {"kind": kind.name, "id": listing_id}
            await outbox.enqueue(self.repository.session, PUBLISHED_TOPIC, f"{kind.name}:{listing_id}", payload)
        return row

    async def _authorize(self, principal: Principal, row: Achievement | Demand, by: str) -> None:
        is_owner = principal.belongs_to(row.owner_id)
        is_reviewer = await self.reviews(principal, row)
        if by == "owner" and not is_owner:
            raise errors.NotListingOwner()
        if by == "reviewer" and not is_reviewer:
            raise errors.NotReviewer()
        if by == "owner_or_reviewer" and not (is_owner or is_reviewer):
            raise errors.NotListingOwner()

    async def _owned(
        self, principal: Principal, kind: ListingKind, listing_id: int, *, for_update: bool = False
    ) -> Achievement | Demand:
        row = await self.get(principal, kind, listing_id, for_update=for_update)
        if not principal.belongs_to(row.owner_id):
            raise errors.NotListingOwner()
        return row


async def announce(repository: ListingRepository, kind: ListingKind, listing_id: int) -> None:
    """Tell the search relay to re-read this listing (it indexes or removes it by its status)."""
    await outbox.enqueue(
        repository.session, SEARCH_TOPIC, f"{kind.name}:{listing_id}", {"kind": kind.name, "id": listing_id}
    )


def _require_price_free(kind: ListingKind, row: Achievement | Demand, amount: Decimal | None) -> None:
    """A price both parties of a signed contract agreed on stays until the contract completes or ends."""
    held = getattr(row, "contracts_in_force", None)
    if held and amount != kind.to_api(row)[kind.money_field]:
        raise errors.PriceHeld(detail=f"合同 {', '.join(map(str, held))} 已签订且未终止, 价格不能修改")


def _visibility(principal: Principal | None) -> Visibility:
    if principal is None:
        return Visibility()
    return Visibility(
        own_organization_id=principal.organization.id if principal.organization else None,
        scope_prefix=reference.region_prefix(principal.region_scope) if principal.region_scope else None,
    )


def _jsonable(changes: dict[str, Any]) -> dict[str, Any]:
    plain: dict[str, Any] = json.loads(json.dumps(changes, default=str, ensure_ascii=False))
    return plain
