"""认定登记: the seller's request, the registrar's review (补正, 不予登记, 认定类型, 核定技术交易额) and registration.

Only the seller asks, and only the registrar of the seller's region (or the platform admin) decides.
A request is reviewed in rounds: the registrar returns it for correction with a reason per item
(a contract term or a document), the seller corrects (amending terms means both parties sign again)
and resubmits, which opens the next round; every round is kept and shown on the contract. A refusal
is final for the request: the contract stays valid and uncounted, and the seller may ask again only
for terms that differ from the refused ones. The type and the 技术交易额 the registrar determines wait
on the request and are applied when it is registered, so statistics count them (and nothing of a
returned or refused request); after registration they are registrar's corrections that re-issue it.

Every step is audited on the contract and announced on the outbox topic ``contract.registration``
(payload in the shape of a webhook event, naming both parties) for notification delivery to pick up.
Registration numbers are year + the seller's region + a serial from that region's counter for the year.
"""

from __future__ import annotations

import re
from datetime import timedelta
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors
from contracts.contract import registration_materials
from contracts.contract.models import REGISTRABLE, SUBTYPES, Contract, ContractStatus
from contracts.contract.registration_models import (
    OPEN_STATUSES,
    RegistrationRequest,
    RegistrationRound,
    RegistrationStatus,
)
from contracts.contract.registration_repository import RegistrationRepository
from contracts.contract.registration_schemas import (
    CORRECTION_ITEMS,
    IncomeApproval,
    MaterialRead,
    QueueItem,
    Reclassification,
    RegistrationRefusal,
    RegistrationReturn,
)
from contracts.contract.schemas import RegistrationIn
from contracts.contract.service import ContractService, today
from contracts.reward import rules
from contracts.statistics.errors import UnknownRegion
from core import audit, outbox
from core.errors import FieldError
from core.money import fen_to_yuan, yuan_to_fen
from core.pagination import PageParams
from core.reference import is_known_region, region_contains, region_prefix
from core.types import utcnow
from market.identity.models import Organization
from market.identity.service import Principal

REGISTRATION_TOPIC = "contract.registration"
CHINESE = re.compile(r"[\u3400-\u9fff]")
MAX_SERIAL = 999_999


def _chinese(text: str | None, field: str) -> None:
    if not text or not CHINESE.search(text):
        raise errors.ReasonNotChinese(
            errors=[FieldError(field=field, code=errors.ReasonNotChinese.code, message="理由须用中文填写")]
        )


def _check_items(data: RegistrationReturn) -> list[dict[str, str]]:
    """Each item a known term or document, named once, with a reason in Chinese."""
    items, seen = [], set()
    for index, entry in enumerate(data.items):
        known = CORRECTION_ITEMS[entry.kind]
        if entry.item not in known:
            kind = "合同条款" if entry.kind == "field" else "申请材料"
            raise errors.InvalidCorrection(
                errors=[
                    FieldError(
                        field=f"body.items[{index}].item",
                        code="unknown_correction_item",
                        message=f"未知的{kind} {entry.item}, 应为 {', '.join(sorted(known))} 之一",
                    )
                ]
            )
        if (entry.kind, entry.item) in seen:
            raise errors.InvalidCorrection(
                errors=[
                    FieldError(
                        field=f"body.items[{index}].item",
                        code="duplicate_correction_item",
                        message=f"{known[entry.item]} 已列出, 请把意见合并为一项",
                    )
                ]
            )
        seen.add((entry.kind, entry.item))
        _chinese(entry.reason, f"body.items[{index}].reason")
        items.append({"kind": entry.kind, "item": entry.item, "reason": entry.reason})
    return items


class RegistrationService:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session
        self.contracts = ContractService(session)
        self.repository = RegistrationRepository(session)

    # --- guards --------------------------------------------------------------------------------

    async def _as_registrar(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self.contracts.get(principal, contract_id, lock=True)
        if not principal.governs_region(contract.seller_region):
            raise errors.NotCompetentRegistrar()
        return contract

    async def _as_seller(self, principal: Principal, contract_id: int) -> Contract:
        contract = await self.contracts.get(principal, contract_id, lock=True)
        if not principal.belongs_to(contract.seller_org_id):
            raise errors.SellerSideOnly()
        return contract

    @staticmethod
    def _require_registrable(contract: Contract) -> None:
        """Registration is asked for and given once, any time from signing until completion."""
        if contract.registered_at is not None or contract.status not in REGISTRABLE:
            raise errors.InvalidContractTransition(
                detail="已认定登记"
                if contract.registered_at is not None
                else "只有已签订 (履行中或已完成) 的合同可以申请和办理认定登记",
                current=contract.status.value,
                allowed=[],
            )

    async def _open(self, contract: Contract) -> RegistrationRequest:
        request = await self.repository.latest(contract.id or 0)
        if request is None:
            raise errors.RegistrationNotRequested()
        if request.status not in OPEN_STATUSES:
            raise errors.RegistrationClosed(registration_status=request.status.value)
        return request

    async def _require_materials(self, contract: Contract) -> None:
        """The request carries what its type requires (registration_materials.csv), or it is refused."""
        cid = contract.id or 0
        on_contract, on_achievements = await self.repository.material_files([cid])
        registration_materials.require(contract.subtype, on_contract[cid], on_achievements[cid])

    # --- recording -----------------------------------------------------------------------------

    async def _record(
        self,
        principal: Principal,
        contract: Contract,
        request: RegistrationRequest,
        action: str,
        before: RegistrationStatus | None,
        reason: str | None = None,
        **changes: Any,
    ) -> None:
        """Audit the step on the contract and announce it to both parties (outbox)."""
        request.updated_at = contract.updated_at = utcnow()
        self.session.add_all([request, contract])
        await self.session.flush()
        entry = await audit.record(
            self.session,
            "contract",
            contract.id or 0,
            action,
            actor_user_id=principal.user.id,
            from_status=contract.status.value,
            to_status=contract.status.value,
            reason=reason,
            changes={
                "request_id": request.id,
                "round": request.round,
                "registration_status": [None if before is None else before.value, request.status.value],
                **changes,
            },
        )
        await self._announce(contract, request, f"reg_{entry.id}", action, reason)

    async def _announce(
        self, contract: Contract, request: RegistrationRequest, event_id: str, action: str, reason: str | None
    ) -> None:
        """An event in the shape of a webhook delivery for notification to pick up: a request or a
        resubmission concerns the registrars of the seller's region, a decision both parties."""
        to_registrars = action in ("registration_requested", "registration_resubmitted")
        audience: dict[str, Any] = (
            {"organization_ids": [], "registrar_region": contract.seller_region, "seller": await self._seller(contract)}
            if to_registrars
            else {"organization_ids": [contract.seller_org_id, contract.buyer_org_id]}
        )
        await outbox.enqueue(
            self.session,
            REGISTRATION_TOPIC,
            f"contract:{contract.id}",
            {
                "id": event_id,
                "type": f"contract.{action}",
                "created_at": utcnow().isoformat(),
                "data": {
                    "contract_id": contract.id,
                    "title": contract.title,
                    "request_id": request.id,
                    "round": request.round,
                    "status": request.status.value,
                    "registration_number": request.registration_number,
                    "reason": reason,
                    **audience,
                },
            },
        )

    async def _seller(self, contract: Contract) -> str | None:
        organization = await self.session.get(Organization, contract.seller_org_id)
        return organization.name if organization is not None else None

    async def _open_round(
        self, principal: Principal, request: RegistrationRequest, digest: str, note: str | None
    ) -> None:
        now = utcnow()
        request.status, request.submitted_at = RegistrationStatus.pending, now
        self.session.add(request)
        await self.session.flush()
        await self.repository.add(
            RegistrationRound(
                request_id=request.id or 0,
                round=request.round,
                submitted_at=now,
                submitted_by=principal.user.id,
                note=note,
                terms_digest=digest,
            )
        )

    # --- the seller ----------------------------------------------------------------------------

    async def request(
        self, principal: Principal, contract_id: int, note: str | None = None, *, require_materials: bool = True
    ) -> Contract:
        """Ask for registration. Asking again for a pending request is a no-op, unless the terms changed
        since it was submitted (the parties amended and signed again): that submits them as a new round.
        ``require_materials=False`` only for the demo, which has no object store to hold files."""
        contract = await self._as_seller(principal, contract_id)
        self._require_registrable(contract)
        digest = await self.contracts.require_signed_terms(contract)
        if require_materials:
            await self._require_materials(contract)
        request = await self.repository.latest(contract.id or 0)
        current = await self.repository.round(request) if request is not None else None
        if request is not None and request.status == RegistrationStatus.returned:
            raise errors.RegistrationReturned()
        if request is not None and request.status == RegistrationStatus.pending:
            if current is not None and current.terms_digest == digest and contract.registration_requested_at:
                return contract
            request.round += 1
            await self._open_round(principal, request, digest, note)
            contract.registration_requested_at = contract.registration_requested_at or utcnow()
            await self._record(
                principal, contract, request, "registration_resubmitted", RegistrationStatus.pending, note
            )
            return contract
        if request is not None and request.status == RegistrationStatus.refused:
            if current is not None and current.terms_digest == digest:
                raise errors.RegistrationRefused(refusal_reason=request.refusal_reason)
        request = RegistrationRequest(contract_id=contract.id or 0, requested_by=principal.user.id)
        await self.repository.add(request)
        await self._open_round(principal, request, digest, note)
        contract.registration_requested_at = utcnow()
        await self._record(principal, contract, request, "registration_requested", None, note, terms_digest=digest)
        return contract

    async def resubmit(self, principal: Principal, contract_id: int, note: str) -> Contract:
        """The seller answers a return for correction: the (corrected, signed) terms become the next round."""
        contract = await self._as_seller(principal, contract_id)
        request = await self._open(contract)
        if request.status != RegistrationStatus.returned:
            raise errors.RegistrationNotReturned(registration_status=request.status.value)
        self._require_registrable(contract)
        digest = await self.contracts.require_signed_terms(contract)
        await self._require_materials(contract)
        request.round += 1
        await self._open_round(principal, request, digest, note)
        contract.registration_requested_at = contract.registration_requested_at or utcnow()
        await self._record(
            principal,
            contract,
            request,
            "registration_resubmitted",
            RegistrationStatus.returned,
            note,
            terms_digest=digest,
        )
        return contract

    # --- the registrar -------------------------------------------------------------------------

    async def return_for_correction(self, principal: Principal, contract_id: int, data: RegistrationReturn) -> Contract:
        contract = await self._as_registrar(principal, contract_id)
        request = await self._open(contract)
        if request.status != RegistrationStatus.pending:
            raise errors.RegistrationNotPending(registration_status=request.status.value)
        items = _check_items(data)
        if data.note is not None:
            _chinese(data.note, "body.note")
        current = await self.repository.round(request)
        assert current is not None
        current.returned_at, current.returned_by = utcnow(), principal.user.id
        current.items, current.return_note = items, data.note
        request.status = RegistrationStatus.returned
        self.session.add(current)
        summary = data.note or "; ".join(i["reason"] for i in items)
        await self._record(
            principal,
            contract,
            request,
            "registration_returned",
            RegistrationStatus.pending,
            summary[:1000],
            items=items,
        )
        return contract

    async def refuse(self, principal: Principal, contract_id: int, data: RegistrationRefusal) -> Contract:
        contract = await self._as_registrar(principal, contract_id)
        request = await self._open(contract)
        _chinese(data.reason, "body.reason")
        before = request.status
        request.status, request.refusal_reason = RegistrationStatus.refused, data.reason
        request.decided_at, request.decided_by = utcnow(), principal.user.id
        await self._record(principal, contract, request, "registration_refused", before, data.reason)
        return contract

    async def reclassify(self, principal: Principal, contract_id: int, data: Reclassification) -> Contract:
        contract = await self._as_registrar(principal, contract_id)
        if data.subtype not in SUBTYPES[data.type]:
            raise errors.SubtypeMismatch(
                errors=[
                    FieldError(
                        field="body.subtype",
                        code=errors.SubtypeMismatch.code,
                        message=f"{data.type.value} 合同的子类型应为 {', '.join(sorted(SUBTYPES[data.type]))} 之一",
                    )
                ]
            )
        if contract.service_invention and not rules.reward_eligible(data.type, contract.seller_kind):
            raise errors.RewardNotApplicable(
                errors=[
                    FieldError(
                        field="body.type",
                        code=errors.RewardNotApplicable.code,
                        message="职务科技成果的收益分配只适用于技术转让或许可合同, 不能认定为此类型",
                    )
                ]
            )
        _chinese(data.reason, "body.reason")
        if contract.registered_at is not None:
            await self._correct_registered(principal, contract, "registration_reclassified", data.reason, data)
            return contract
        request = await self._open(contract)
        changes = {
            "type": [(request.type or contract.type).value, data.type.value],
            "subtype": [(request.subtype or contract.subtype).value, data.subtype.value],
        }
        request.type, request.subtype = data.type, data.subtype
        await self._record(
            principal, contract, request, "registration_reclassified", request.status, data.reason, **changes
        )
        return contract

    async def approve_income(self, principal: Principal, contract_id: int, data: IncomeApproval) -> Contract:
        """核定技术交易额: at most the contract's total; what statistics count once registered."""
        contract = await self._as_registrar(principal, contract_id)
        approved = yuan_to_fen(data.technology_income)
        if approved > contract.total_fen:
            raise errors.InvalidAmounts(
                errors=[
                    FieldError(
                        field="body.technology_income",
                        code="income_exceeds_total",
                        message=f"核定的技术交易额不能超过合同成交额 {fen_to_yuan(contract.total_fen)} 元",
                    )
                ]
            )
        _chinese(data.reason, "body.reason")
        if contract.registered_at is not None:
            await self._correct_registered(principal, contract, "registration_income_approved", data.reason, data)
            return contract
        request = await self._open(contract)
        before = request.approved_income_fen
        request.approved_income_fen = approved
        await self._record(
            principal,
            contract,
            request,
            "registration_income_approved",
            request.status,
            data.reason,
            technology_income_fen=[contract.technology_income_fen if before is None else before, approved],
        )
        return contract

    async def _correct_registered(
        self,
        principal: Principal,
        contract: Contract,
        action: str,
        reason: str,
        data: Reclassification | IncomeApproval,
    ) -> None:
        """After registration the registrar's determination corrects the contract and re-issues it."""
        if contract.status not in (ContractStatus.registered, ContractStatus.performing):
            raise errors.AmountsLocked(current=contract.status.value)

        async def change() -> None:
            if isinstance(data, Reclassification):
                contract.type, contract.subtype = data.type, data.subtype
            else:
                contract.technology_income_fen = yuan_to_fen(data.technology_income)

        await self.contracts._amend(principal, contract, action, reason, change)
        request = await self.repository.latest(contract.id or 0)
        if request is not None and request.status == RegistrationStatus.registered:
            if isinstance(data, Reclassification):
                request.type, request.subtype = data.type, data.subtype
            else:
                request.approved_income_fen = contract.technology_income_fen
            self.session.add(request)
            await self.session.flush()

    async def register(self, principal: Principal, contract_id: int, data: RegistrationIn) -> Contract:
        contract = await self._as_registrar(principal, contract_id)
        self._require_registrable(contract)
        request = await self.repository.latest(contract.id or 0)
        if request is None or contract.registration_requested_at is None:
            raise errors.RegistrationNotRequested()
        if request.status == RegistrationStatus.returned:
            raise errors.RegistrationNotPending(registration_status=request.status.value)
        if request.status != RegistrationStatus.pending:
            raise errors.RegistrationClosed(registration_status=request.status.value)
        signed = await self.contracts.require_signed_terms(contract)
        current = await self.repository.round(request)
        if current is not None and current.terms_digest not in (None, signed):
            raise errors.TermsChanged(detail="提交登记后合同条款已改动, 须由卖方重新提交登记申请", terms_digest=signed)
        changes: dict[str, object] = {"signed_digest": signed}
        certified = yuan_to_fen(data.technology_income) if data.technology_income is not None else None
        if certified is None:
            certified = request.approved_income_fen
        if certified is not None:
            if certified > contract.total_fen:
                raise errors.InvalidAmounts(
                    errors=[
                        FieldError(
                            field="body.technology_income",
                            code="income_exceeds_total",
                            message="核定的技术交易额不能超过合同成交额",
                        )
                    ]
                )
            changes["technology_income_fen"] = [contract.technology_income_fen, certified]
            contract.technology_income_fen = request.approved_income_fen = certified
        if request.type is not None and request.subtype is not None:
            changes["type"] = [contract.type.value, request.type.value]
            changes["subtype"] = [contract.subtype.value, request.subtype.value]
            contract.type, contract.subtype = request.type, request.subtype
        contract.registration_number = await self._number(contract)
        contract.registered_at, contract.registered_by = utcnow(), principal.user.id
        self.session.add(contract)
        await self.session.flush()
        contract.registered_digest = await self.contracts.terms_digest(contract)
        changes |= {
            "registration_number": contract.registration_number,
            "registered_digest": contract.registered_digest,
            "request_id": request.id,
            "round": request.round,
            "registration_status": [RegistrationStatus.pending.value, RegistrationStatus.registered.value],
        }
        request.status, request.registration_number = RegistrationStatus.registered, contract.registration_number
        request.decided_at, request.decided_by = contract.registered_at, principal.user.id
        if contract.status == ContractStatus.signed:
            await self.contracts._move(principal, contract, ContractStatus.registered, "registered", None, **changes)
        else:  # already performing or completed: registration records, the status stays
            await audit.record(
                self.session,
                "contract",
                contract.id or 0,
                "registered",
                actor_user_id=principal.user.id,
                from_status=contract.status.value,
                to_status=contract.status.value,
                changes=changes,
            )
        contract.updated_at = request.updated_at = utcnow()
        self.session.add_all([contract, request])
        await self.session.flush()
        await self._announce(contract, request, f"reg_{request.id}_registered", "registered", None)
        return contract

    async def _number(self, contract: Contract) -> str:
        """16 characters: the year of registration (4), the seller's GB/T 2260 code (6), the serial (6)."""
        year = today().year
        serial = await self.repository.next_serial(contract.seller_region, year)
        if serial > MAX_SERIAL:
            raise errors.RegistrationSerialExhausted(region=contract.seller_region, year=year)
        return f"{year:04d}{contract.seller_region}{serial:06d}"

    # --- the queue -----------------------------------------------------------------------------

    async def queue(
        self,
        principal: Principal,
        page: PageParams,
        *,
        status: RegistrationStatus | None,
        region: str | None,
        min_age_days: int | None,
        max_age_days: int | None,
    ) -> tuple[list[QueueItem], int, dict[str, int]]:
        """Requests of the seller regions the caller registers for, filtered, oldest submission first."""
        scope = principal.region_scope
        if not principal.is_platform_admin and scope is None:
            raise errors.RegistrarOnly()
        if region is not None:
            if not is_known_region(region):
                raise UnknownRegion.for_code(region)
            if scope is not None and not region_contains(scope, region):
                raise errors.RegistrarRegionOutOfScope(detail=f"您的辖区为 {scope}", region=region, scope=scope)
        if min_age_days is not None and max_age_days is not None and min_age_days > max_age_days:
            raise errors.InvalidQueueFilter(
                errors=[
                    FieldError(
                        field="query.max_age_days",
                        code="age_range_inverted",
                        message=f"max_age_days ({max_age_days}) 小于 min_age_days ({min_age_days})",
                    )
                ],
            )
        area = region or scope
        now = utcnow()
        rows, total, counts = await self.repository.queue(
            region_prefix=region_prefix(area) if area else None,
            status=status,
            submitted_before=None if min_age_days is None else now - timedelta(days=min_age_days),
            submitted_after=None if max_age_days is None else now - timedelta(days=max_age_days + 1),
            offset=page.offset,
            limit=page.limit,
        )
        on_contract, on_achievements = await self.repository.material_files([c.id or 0 for _, c in rows])

        def materials(contract: Contract) -> list[MaterialRead]:
            cid = contract.id or 0
            found = {
                m: registration_materials.answering(m, on_contract[cid], on_achievements[cid])
                for m in registration_materials.required_for(contract.subtype)
            }
            return [
                MaterialRead(material=m.code, label=m.label, attachment_ids=f, present=bool(f))
                for m, f in found.items()
            ]

        items = [
            QueueItem(
                request_id=r.id or 0,
                contract_id=c.id or 0,
                title=c.title,
                status=r.status,
                round=r.round,
                contract_status=c.status,
                type=r.type or c.type,
                subtype=r.subtype or c.subtype,
                seller_org_id=c.seller_org_id,
                buyer_org_id=c.buyer_org_id,
                seller_region=c.seller_region,
                buyer_region=c.buyer_region,
                total=fen_to_yuan(c.total_fen),
                technology_income=fen_to_yuan(c.technology_income_fen),
                approved_technology_income=None
                if r.approved_income_fen is None
                else fen_to_yuan(r.approved_income_fen),
                requested_at=r.requested_at,
                submitted_at=r.submitted_at,
                age_days=max(0, (now - r.submitted_at).days),
                materials=materials(c),
            )
            for r, c in rows
        ]
        return items, total, counts
