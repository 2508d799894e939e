"""Demo contract: 演示稀土研究院 transfers a patent to 演示乳业科技, registered in 包头, paid in two
milestones (recorded as provider intents ``pi_demo_*``, which reconciliation leaves alone), with the
inventors' 70% split in the ledger. It creates no listing (so listing counts stay as the listings demo
makes them); the inventors are named on the contract. Idempotent."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col

from contracts.contract.completion import CompletionService
from contracts.contract.models import Contract, ContractStatus, ContractSubtype, ContractType
from contracts.contract.registration import RegistrationService
from contracts.contract.schemas import ContractCreate, DeductionIn, InventorIn, MilestoneIn, RegistrationIn
from contracts.contract.service import ContractService
from contracts.payment.client import IntentSnapshot
from contracts.payment.models import Payment
from contracts.payment.service import PaymentService
from contracts.reward.rules import DeductionKind
from market.identity.models import Organization, User
from market.identity.service import Principal

DEMO_CONTRACT_TITLE = "演示: 低重稀土烧结钕铁硼制备技术专利权转让合同"
DEMO_INTENT_PREFIX = "pi_demo_"


async def _principal(session: AsyncSession, email: str) -> Principal:
    user = (await session.execute(select(User).where(col(User.email) == email))).scalars().one()
    organization = await session.get(Organization, user.organization_id) if user.organization_id else None
    return Principal(user=user, organization=organization)


async def load_contract_demo(session: AsyncSession) -> list[str]:
    if (await session.execute(select(col(Contract.id)).where(col(Contract.title) == DEMO_CONTRACT_TITLE))).first():
        return []
    seller = await _principal(session, "institute@demo.techmarket.cn")
    buyer = await _principal(session, "enterprise@demo.techmarket.cn")
    registrar = await _principal(session, "baotou-admin@demo.techmarket.cn")
    assert seller.organization is not None and buyer.organization is not None
    contracts = ContractService(session)
    contract = await contracts.create(
        seller,
        ContractCreate(
            buyer_org_id=buyer.organization.id,
            title=DEMO_CONTRACT_TITLE,
            type=ContractType.transfer,
            subtype=ContractSubtype.patent_right,
            field="new_materials",
            total=Decimal("1000000.00"),
            technology_income=Decimal("900000.00"),
            milestones=[
                MilestoneIn(title="合同生效后首付款", amount=Decimal("300000.00")),
                MilestoneIn(title="技术交付验收后尾款", amount=Decimal("700000.00")),
            ],
            service_invention=True,
            inventors=[
                InventorIn(name="王教授", weight=5),
                InventorIn(name="李博士", weight=3),
                InventorIn(name="赵工", weight=2),
            ],
            deductions=[
                DeductionIn(kind=DeductionKind.maintenance, description="专利年费", amount=Decimal("8000.00")),
                DeductionIn(kind=DeductionKind.transaction_cost, description="资产评估费", amount=Decimal("12000.00")),
            ],
        ),
    )
    cid = contract.id or 0
    await contracts.sign(seller, cid)
    await contracts.sign(buyer, cid)
    registration = RegistrationService(session)
    await registration.request(seller, cid, require_materials=False)  # no object store for demo files
    await registration.register(registrar, cid, RegistrationIn())
    contract.status = ContractStatus.performing
    payments = PaymentService(session)
    for milestone in await contracts.repository.milestones(cid):
        session.add(
            Payment(
                contract_id=cid,
                milestone_id=milestone.id or 0,
                amount_fen=milestone.amount_fen,
                idempotency_key=f"demo-milestone-{milestone.id}",
                provider_intent_id=f"{DEMO_INTENT_PREFIX}{milestone.id}",
            )
        )
        await session.flush()
        await payments.apply_snapshot(
            IntentSnapshot(
                id=f"{DEMO_INTENT_PREFIX}{milestone.id}",
                amount=milestone.amount_fen,
                currency="cny",
                status="succeeded",
                amount_received=milestone.amount_fen,
                amount_refunded=0,
                refunds=(),
                metadata={},
                version=1,
            )
        )
    completion = CompletionService(session)
    await completion.claim(seller, cid)
    await completion.confirm(buyer, cid)
    return [f"技术合同 {DEMO_CONTRACT_TITLE} (登记编号 {contract.registration_number}, 两期付款及收益分配)"]
