"""Every table of the service, imported in one place for Alembic and the tests."""

from contracts.models import (  # noqa: F401  (registers the contracts tables)
    Contract,
    ContractAchievement,
    Deal,
    DealMessage,
    Deduction,
    Distribution,
    DistributionLine,
    Milestone,
    Payment,
    PaymentRefund,
    WebhookEvent,
)
from contracts.statistics.models import (  # noqa: F401  (registers the statistics tables; installs the rollup listener)
    ContractFact,
    Publication,
    ReferenceFigure,
    Rollup,
    Target,
)
from core.audit import AuditEntry
from core.db import metadata
from core.outbox import OutboxEvent
from market.identity.models import ApiKey, LoginThrottle, Organization, User
from market.listings.models import Achievement, Demand
from search.alerts.models import Notification, Subscription, WebhookEndpoint
from search.consistency import SearchIndexCheck
from search.term_counts import SearchTermCount

__all__ = [
    "Achievement", "ApiKey", "AuditEntry", "Demand", "LoginThrottle", "Notification", "Organization", "OutboxEvent",
    "SearchIndexCheck", "SearchTermCount", "Subscription", "User", "WebhookEndpoint", "metadata",
]
