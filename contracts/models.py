"""Every table of the contracts package (imported by app.models)."""

from contracts.auction.models import Auction, AuctionBid, AuctionDeposit, AuctionEvent, DepositEntry
from contracts.contract.models import Contract, ContractAchievement, Milestone
from contracts.contract.registration_models import RegistrationCounter, RegistrationRequest, RegistrationRound
from contracts.deal.models import Deal, DealMessage
from contracts.payment.models import Payment, PaymentRefund, WebhookEvent
from contracts.pricing.models import (
    DealNotice,
    ListingAcceptance,
    PriceListing,
    PriceNotice,
    PriceObjection,
    TransactionCertificate,
)
from contracts.reward.models import Deduction, Distribution, DistributionLine, InventorLink
from contracts.subsidy.budget_models import BudgetEntry, SubsidyBudget
from contracts.subsidy.models import ClaimEvent, ClaimLine, SubsidyClaim
from contracts.voucher.models import Voucher, VoucherEntry, VoucherProvider, VoucherRedemption, VoucherSpend

__all__ = [
    "BudgetEntry",
    "ClaimEvent",
    "ClaimLine",
    "Auction",
    "AuctionBid",
    "AuctionDeposit",
    "AuctionEvent",
    "DepositEntry",
    "Contract",
    "ContractAchievement",
    "Deal",
    "DealNotice",
    "DealMessage",
    "Deduction",
    "Distribution",
    "DistributionLine",
    "InventorLink",
    "ListingAcceptance",
    "Milestone",
    "Payment",
    "PaymentRefund",
    "PriceListing",
    "PriceNotice",
    "PriceObjection",
    "RegistrationCounter",
    "RegistrationRequest",
    "RegistrationRound",
    "SubsidyBudget",
    "SubsidyClaim",
    "Voucher",
    "VoucherEntry",
    "VoucherProvider",
    "VoucherRedemption",
    "VoucherSpend",
    "TransactionCertificate",
    "WebhookEvent",
]
