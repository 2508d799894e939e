"""Every table of the service, imported in one place for Alembic and the tests."""

from core.db import metadata
from core.outbox import OutboxEvent
from market.identity.models import ApiKey, Organization, User

__all__ = ["ApiKey", "Organization", "OutboxEvent", "User", "metadata"]
