"""The terms of a contract: what a signature and a registration are bound to, and their bounds.

Every column of ``contracts``, ``contract_milestones`` and ``reward_deductions`` is classified here
either as a term (what the parties agree to) or as a record of the contract's life; a test fails
when a column is in neither list, so a new field cannot be added without deciding whether signing
covers it. The digest is SHA-256 over the canonical JSON of the terms. A signature stores the
digest of the terms it was given for, a registration the digest it certified: the contract becomes
``signed`` only when both signatures are bound to the current terms, and registration and payment
refuse terms that differ from what was signed or registered. Migration 0009 binds the contracts
that existed before with a copy of ``digest``; a change to the lists needs a migration that binds
them again.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import date, datetime
from enum import Enum
from typing import Any

CONTRACT_TERMS = (
    "title",
    "type",
    "subtype",
    "field",
    "seller_org_id",
    "buyer_org_id",
    "seller_region",
    "buyer_region",
    "seller_kind",
    "buyer_kind",
    "total_fen",
    "technology_income_fen",
    "term_start",
    "term_end",
    "service_invention",
    "reward_rate_bp",
    "reward_rule",
    "inventors",
)
CONTRACT_RECORD = (
    "id",
    "deal_id",
    "status",
    "signed_on",
    "seller_signed_at",
    "buyer_signed_at",
    "seller_signed_digest",
    "buyer_signed_digest",
    "registration_requested_at",
    "registration_number",
    "registered_at",
    "registered_by",
    "registered_digest",
    "registration_revision",
    "completion_claimed_at",
    "completion_due_at",
    "created_by",
    "created_at",
    "updated_at",
)
MILESTONE_TERMS = ("seq", "title", "amount_fen", "due_on")
MILESTONE_RECORD = ("id", "contract_id", "status", "paid_at")
DEDUCTION_TERMS = ("kind", "description", "amount_fen")
DEDUCTION_RECORD = ("id", "contract_id", "created_by", "created_at")


def _plain(value: Any) -> Any:
    if isinstance(value, Enum):
        return value.value
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bool) or value is None or isinstance(value, (int, str)):
        return value
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return str(value)


def _pick(row: Any, names: Iterable[str]) -> dict[str, Any]:
    get = row.get if isinstance(row, Mapping) else lambda name: getattr(row, name)
    return {name: _plain(get(name)) for name in names}


def document(
    contract: Any, milestones: Sequence[Any], deductions: Sequence[Any], achievement_ids: Iterable[int]
) -> dict[str, Any]:
    """The terms as plain data (also what the audit trail compares)."""
    return {
        "contract": _pick(contract, CONTRACT_TERMS),
        "milestones": sorted((_pick(m, MILESTONE_TERMS) for m in milestones), key=lambda m: m["seq"]),
        "deductions": sorted(
            (_pick(d, DEDUCTION_TERMS) for d in deductions), key=lambda d: json.dumps(d, sort_keys=True)
        ),
        "achievement_ids": sorted(int(i) for i in achievement_ids),
    }


def digest_of(doc: Mapping[str, Any]) -> str:
    canonical = json.dumps(doc, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()


def differences(before: Mapping[str, Any], after: Mapping[str, Any]) -> dict[str, list[Any]]:
    """``{name: [before, after]}`` for every contract term that changed, and for each changed list."""
    changes: dict[str, list[Any]] = {
        name: [before["contract"][name], after["contract"][name]]
        for name in CONTRACT_TERMS
        if before["contract"][name] != after["contract"][name]
    }
    for name in ("milestones", "deductions", "achievement_ids"):
        if before[name] != after[name]:
            changes[name] = [before[name], after[name]]
    return changes
