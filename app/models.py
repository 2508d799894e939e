"""Every table of the service, imported in one place for Alembic and the tests, and their ORM listeners."""

from contracts.auction import deposits as auction_deposits
from contracts.models import (  # noqa: F401  (registers the contracts tables)
    BudgetEntry,
    Contract,
    ContractAchievement,
    Deal,
    DealMessage,
    Deduction,
    Distribution,
    DistributionLine,
    InventorLink,
    Milestone,
    Payment,
    PaymentRefund,
    SubsidyBudget,
    WebhookEvent,
)
from contracts.payment import payouts
from contracts.statistics import rollups
from contracts.statistics.models import (  # noqa: F401  (registers the statistics tables)
    ContractFact,
    Publication,
    ReferenceFigure,
    Rollup,
    Target,
)
from contracts.subsidy.service import PAYOUT_PURPOSE, apply_payout
from contracts.voucher import tasks as vouchers
from core.audit import AuditEntry
from core.db import metadata
from core.outbox import OutboxEvent
from market.attachments.models import Attachment, StoredObject
from market.identity.models import ApiKey, LoginThrottle, Organization, User
from market.listings.models import Achievement, Demand
from market.notifications.models import NotificationDelivery, UserNotification
from search.alerts.models import Notification, Subscription, WebhookEndpoint
from search.consistency import SearchIndexCheck
from search.semantic.models import ListingVector
from search.term_counts import SearchTermCount


def install_listeners() -> None:
    """Keep the statistics rollups in each contract's own transaction (idempotent).

    Called by whatever builds a database to write to (the app, the CLI, tests): importing a package
    changes no global state.
    """
    rollups.install()
    payouts.register(PAYOUT_PURPOSE, apply_payout)  # 后补助 payouts' webhooks
    vouchers.install()
    auction_deposits.install()  # the winner's deposit pays the award contract's first milestone


__all__ = [
    "Achievement",
    "ApiKey",
    "Attachment",
    "AuditEntry",
    "Demand",
    "ListingVector",
    "LoginThrottle",
    "Notification",
    "NotificationDelivery",
    "Organization",
    "OutboxEvent",
    "SearchIndexCheck",
    "SearchTermCount",
    "StoredObject",
    "Subscription",
    "User",
    "UserNotification",
    "WebhookEndpoint",
    "install_listeners",
    "metadata",
]
