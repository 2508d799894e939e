from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.payment.models import PaymentStatus
from core.money import Yuan
from core.pagination import Page
from core.visibility import Classified, Parties, Public


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Yuan | None = Field(default=None, description="不填则全额退款")


class PaymentRead(Classified):
    """A milestone payment, for both parties of its contract (the endpoint names the contract)."""

    id: Parties[int]
    contract_id: Parties[int]
    milestone_id: Parties[int]
    amount: Parties[Yuan]
    refunded: Parties[Yuan]
    status: Parties[PaymentStatus]
    provider_intent_id: Parties[str | None]
    created_at: Parties[datetime]
    succeeded_at: Parties[datetime | None]


class PaymentPage(Page[PaymentRead]):
    pass


class WebhookAck(Classified):
    """Answered to the payment provider."""

    received: Public[bool]
    event_id: Public[str]
    result: Public[str | None]
