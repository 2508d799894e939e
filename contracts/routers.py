"""The contracts package's routers, for the composition root to include."""

from contracts.attachments import contract_attachments_router, deal_attachments_router
from contracts.auction.endpoints import router as auctions_router
from contracts.contract.endpoints import router as contracts_router
from contracts.contract.ledger import router as ledger_router
from contracts.contract.registration_endpoints import queue_router as registrations_router
from contracts.contract.registration_endpoints import router as registration_router
from contracts.deal.endpoints import router as deals_router
from contracts.payment.endpoints import router as payments_router
from contracts.pricing.endpoints import router as pricing_router
from contracts.reward.endpoints import router as rewards_router
from contracts.subsidy.endpoints import router as subsidies_router
from contracts.voucher.endpoints import router as vouchers_router
from contracts.voucher.report_endpoints import router as policy_reports_router

ROUTERS = (
    deals_router,
    contracts_router,
    registration_router,
    registrations_router,
    payments_router,
    ledger_router,
    rewards_router,
    subsidies_router,
    vouchers_router,
    policy_reports_router,
    deal_attachments_router,
    contract_attachments_router,
    pricing_router,
    auctions_router,
)
