from __future__ import annotations

from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from contracts.payment.models import PaymentStatus
from core.money import Yuan


class RefundIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    amount: Yuan | None = Field(default=None, description="不填则全额退款")


class PaymentRead(BaseModel):
    id: int
    contract_id: int
    milestone_id: int
    amount: Yuan
    refunded: Yuan
    status: PaymentStatus
    provider_intent_id: str | None
    created_at: datetime
    succeeded_at: datetime | None


class PaymentPage(BaseModel):
    items: list[PaymentRead]
    total: int


class WebhookAck(BaseModel):
    received: bool
    event_id: str
    result: str | None
