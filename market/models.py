"""Every table of the service, imported in one place for Alembic and the tests."""

from core.audit import AuditEntry
from core.db import metadata
from core.outbox import OutboxEvent
from market.identity.models import ApiKey, Organization, User
from market.listings.models import Achievement, Demand

__all__ = ["Achievement", "ApiKey", "AuditEntry", "Demand", "Organization", "OutboxEvent", "User", "metadata"]
