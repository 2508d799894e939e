"""Compare the provider's payment intents with our payments; report, and optionally repair, differences.

Differences found:
- ``missing_payment``: money moved at the provider (processing, succeeded or refunded) but we have no
  payment for the intent (a webhook never arrived, or the request that created it rolled back);
- ``status_mismatch`` / ``refund_mismatch``: our status or refunded amount differs from the provider's;
- ``unknown_at_provider``: we hold an intent id the provider does not know;
- ``unprocessed_event``: an inbox event whose processing failed;
- ``payout_not_applied``: a payout the provider finished (paid or failed) that our side has not
  taken in (its webhook was lost); found by applying the snapshot in a transaction rolled back;
- ``refused_event``: a signed event that claims money moved for an intent we did not create, or with
  another amount or currency than we asked for; it was stored and not applied. Repair leaves it open:
  it is evidence for a person to look at (a leaked webhook secret, a provider fault).
Repair applies the provider's current snapshot (the same path as a webhook; a payment lost by a
rolled-back request is recorded again only when the intent names the milestone, its contract, its
cash part (``covered``) and our currency) and reprocesses the inbox.
"""

from __future__ import annotations

from dataclasses import dataclass

from contracts.auction.deposits import METADATA_KEY as DEPOSIT_METADATA_KEY
from contracts.demo import DEMO_INTENT_PREFIX
from contracts.payment import payouts
from contracts.payment.client import IntentSnapshot, PaymentProvider
from contracts.payment.models import REFUSED_RESULTS
from contracts.payment.repository import PaymentRepository
from contracts.payment.service import PROVIDER_STATUS, PaymentService, claims_money
from core.db import Database


@dataclass(frozen=True)
class Difference:
    kind: str
    intent_id: str | None
    detail: str
    repaired: bool = False


async def reconcile(database: Database, provider: PaymentProvider, *, repair: bool = False) -> list[Difference]:
    intents = await provider.list_intents()
    async with database.unit_of_work() as session:
        ours = {
            p.provider_intent_id: p
            for p in await PaymentRepository(session).all()
            if p.provider_intent_id
            and not p.provider_intent_id.startswith(DEMO_INTENT_PREFIX)  # demo data, never at a provider
        }
        snapshot_of_ours = {k: (p.status, p.refunded_fen) for k, p in ours.items()}
    found: list[Difference] = []
    seen: set[str] = set()
    for intent in intents:
        seen.add(intent.id)
        if DEPOSIT_METADATA_KEY in intent.metadata:
            continue  # an auction deposit: not a milestone payment (contracts.auction.deposits keeps it)
        expected = PROVIDER_STATUS.get(intent.status)
        mine = snapshot_of_ours.get(intent.id)
        problem: tuple[str, str] | None = None
        if mine is None:
            if intent.status in ("processing", "succeeded") or intent.amount_refunded:
                problem = ("missing_payment", f"provider {intent.status} {intent.amount} fen; no payment here")
        elif mine[0] != expected:
            problem = ("status_mismatch", f"provider {intent.status}, ours {mine[0].value}")
        elif mine[1] != intent.amount_refunded:
            problem = ("refund_mismatch", f"provider refunded {intent.amount_refunded} fen, ours {mine[1]}")
        if problem is None:
            continue
        repaired = False
        if repair:
            async with database.unit_of_work() as session:
                result = await PaymentService(session, provider).apply_snapshot(intent, adopt=True)
            repaired = result not in (*REFUSED_RESULTS, "stale")
        found.append(Difference(problem[0], intent.id, problem[1], repaired))
    for intent_id in sorted(set(snapshot_of_ours) - seen):
        found.append(Difference("unknown_at_provider", intent_id, "the provider has no such intent"))
    found.extend(await _payouts(database, provider, repair=repair))
    async with database.unit_of_work() as session:
        service = PaymentService(session, provider)
        for event in await service.repository.unprocessed_events():
            repaired = False
            if repair:
                await service.process_event(event)
                repaired = event.processed_at is not None
            found.append(
                Difference("unprocessed_event", None, f"{event.event_id} ({event.type}): {event.error}", repaired)
            )
        for event in await service.repository.refused_events():
            claim = _claim(event.payload)
            if claim is not None and claims_money(claim):
                found.append(
                    Difference(
                        "refused_event",
                        claim.id,
                        f"{event.event_id} ({event.type}) {event.result}: "
                        f"claims {claim.status} {claim.amount} {claim.currency or '?'}",
                    )
                )
    return found


async def _payouts(database: Database, provider: PaymentProvider, *, repair: bool) -> list[Difference]:
    """Finished payouts whose outcome our side has not applied (the handler of their purpose decides)."""
    found = []
    for payout in await provider.list_payouts():
        if payout.status not in ("paid", "failed"):
            continue
        async with database.sessionmaker() as session:
            try:
                result = await payouts.apply(session, payout)
            except Exception as exc:  # e.g. the disbursing request has not committed yet: look next time
                result = f"error: {exc}"
            if result in ("paid", "failed") and repair:
                await session.commit()
            else:
                await session.rollback()
        if result in ("paid", "failed"):
            detail = f"provider {payout.status} {payout.amount} fen ({payout.metadata.get(payouts.PURPOSE, '?')})"
            found.append(Difference("payout_not_applied", payout.id, detail, repair))
    return found


def _claim(payload: dict[str, object]) -> IntentSnapshot | None:
    try:
        return IntentSnapshot.parse(payload["data"]["object"])  # type: ignore[index]
    except (KeyError, TypeError, ValueError):
        return None
