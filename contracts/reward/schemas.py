from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from contracts.reward.models import BeneficiaryKind, DistributionSource, InvitationChannel
from contracts.reward.rules import DeductionKind
from core.money import Yuan
from core.pagination import Page
from core.validators import Email
from core.visibility import Classified, Org, Parties, Public


class LineRead(Classified):
    """One inventor's (or the institution's) share: personal, for the seller and the admins only."""

    beneficiary: Org[BeneficiaryKind]
    position: Org[int]
    name: Org[str]
    user_id: Org[int | None]
    amount: Org[str]  # signed yuan: reversals are negative


class DistributionRead(Classified):
    """One payment's split: the parties see what was paid, the seller how it was shared."""

    id: Parties[int]
    contract_id: Parties[int]
    payment_id: Parties[int]
    source: Parties[DistributionSource]
    gross: Parties[str]
    deductions: Parties[str]
    net: Parties[str]
    team: Org[str]
    institution: Org[str]
    rate: Org[str]
    rule: Org[str]
    created_at: Parties[datetime]
    lines: Org[list[LineRead]]


class DeductionRead(Classified):
    kind: Parties[DeductionKind]
    description: Parties[str]
    amount: Parties[Yuan]


class LedgerRead(Classified):
    """A contract's ledger (the endpoint names the contract as its subject)."""

    contract_id: Public[int]
    deductions: Parties[list[DeductionRead]]
    items: Public[list[DistributionRead]]
    total: Public[int]
    totals: Org[dict[str, str]]


class MyLineRead(Classified):
    contract_id: Org[int]
    distribution_id: Org[int]
    name: Org[str]
    amount: Org[str]
    created_at: Org[datetime]


class MyLinePage(Page[MyLineRead]):
    """An inventor's own lines (the endpoint names the inventor as the subject)."""

    sum: Org[str] = Field(description="全部分配之和 (不止本页)")


MobilePhone = Annotated[
    str,
    BeforeValidator(lambda v: "".join(str(v).split())),
    StringConstraints(pattern=r"^(\+?86-?)?1[3-9][0-9]{9}$"),
    AfterValidator(lambda v: v[-11:]),
]


class InvitationIn(BaseModel):
    """Whom to invite: an e-mail address or a mainland mobile number, one of the two."""

    model_config = ConfigDict(extra="forbid")

    email: Email | None = None
    phone: MobilePhone | None = Field(default=None, description="手机号 (11 位, 可带 +86)")

    @model_validator(mode="after")
    def _one_address(self) -> InvitationIn:
        if (self.email is None) == (self.phone is None):
            raise ValueError("请填写邮箱或手机号其中之一")
        return self

    @property
    def channel(self) -> InvitationChannel:
        return InvitationChannel.email if self.email is not None else InvitationChannel.phone

    @property
    def address(self) -> str:
        return self.email or self.phone or ""


class InvitationCreated(Classified):
    """The code, shown once: the inviter sends it to the address (the platform stores its digest only)."""

    contract_id: Org[int]
    position: Org[int]
    name: Org[str]
    channel: Org[InvitationChannel]
    address: Org[str]
    expires_at: Org[datetime]
    code: Org[str] = Field(description="邀请码 (只显示这一次)")


class InvitationStatus(StrEnum):
    pending = "pending"
    accepted = "accepted"
    expired = "expired"


class InvitationRead(Classified):
    channel: Org[InvitationChannel]
    address: Org[str]
    status: Org[InvitationStatus]
    invited_at: Org[datetime]
    expires_at: Org[datetime]
    accepted_at: Org[datetime | None]


class InventorEntryRead(Classified):
    """One inventor of the contract: the parties see who, the seller also whom it invited."""

    position: Parties[int]
    name: Parties[str]
    weight: Parties[int]
    user_id: Parties[int | None] = Field(description="关联的平台账号 (接受邀请的账号, 或合同中填写的账号)")
    linked_at: Org[datetime | None]
    invitation: Org[InvitationRead | None]


class InventorEntryPage(Page[InventorEntryRead]):
    """A contract's inventors (each item names the contract as its subject)."""


class AcceptIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(min_length=8, max_length=64, description="收到的邀请码 (不区分大小写, 可含连字符)")


class LinkedEntryRead(Classified):
    """The entry the caller is now linked to (the endpoint names the caller as the subject)."""

    contract_id: Org[int]
    position: Org[int]
    name: Org[str]
    linked_at: Org[datetime | None]
