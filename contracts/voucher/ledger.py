"""The voucher ledger's arithmetic, pure: every fen of a voucher is in exactly one state at any time.

A voucher's face value starts ``issued`` (the budget reserved it), the enterprise accepts it into its
account (``held``), spends part of it on a milestone with a listed provider (``spent``), the provider
redeems what it received (``redeemed``: paid out, the budget disbursed), and on its expiry day whatever
is still ``issued`` or ``held`` goes to ``expired`` (the budget released it). A spend whose milestone
is never paid (the contract terminated) is void: its value goes back to ``held``, or to ``expired``
when the voucher has expired by then (``void_lapsed``). Those are the only moves
(``MOVES``); each moves a positive amount from one state to another, so the five balances always sum
to the face value and none is ever negative. The stored voucher keeps the same five balances under a
CHECK constraint, and every move is one append-only ledger line.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class VoucherState(StrEnum):
    issued = "issued"
    held = "held"
    spent = "spent"
    redeemed = "redeemed"
    expired = "expired"


STATE_ZH = {
    VoucherState.issued: "已发放待领取",
    VoucherState.held: "持有",
    VoucherState.spent: "已使用待兑付",
    VoucherState.redeemed: "已兑付",
    VoucherState.expired: "已过期收回",
}


class Move(StrEnum):
    issue = "issue"  # into the ledger from the budget's reservation
    accept = "accept"
    spend = "spend"
    redeem = "redeem"
    expire = "expire"
    void = "void"  # a spend whose milestone will never be paid, back to the holder
    void_lapsed = "void_lapsed"  # the same, after the voucher expired: back to the budget


MOVES: dict[Move, tuple[frozenset[VoucherState], VoucherState]] = {
    Move.issue: (frozenset(), VoucherState.issued),
    Move.accept: (frozenset({VoucherState.issued}), VoucherState.held),
    Move.spend: (frozenset({VoucherState.held}), VoucherState.spent),
    Move.redeem: (frozenset({VoucherState.spent}), VoucherState.redeemed),
    Move.expire: (frozenset({VoucherState.issued, VoucherState.held}), VoucherState.expired),
    Move.void: (frozenset({VoucherState.spent}), VoucherState.held),
    Move.void_lapsed: (frozenset({VoucherState.spent}), VoucherState.expired),
}


class LedgerError(ValueError):
    """A move the ledger refuses: from a state it may not leave from, or more than the state holds."""


@dataclass
class Balances:
    """A voucher's five balances in fen."""

    face: int
    issued: int = 0
    held: int = 0
    spent: int = 0
    redeemed: int = 0
    expired: int = 0

    @classmethod
    def new(cls, face: int) -> Balances:
        if face <= 0:
            raise LedgerError("面额须大于零")
        return cls(face=face, issued=face)

    def get(self, state: VoucherState) -> int:
        return int(getattr(self, state.value))

    def move(self, move: Move, source: VoucherState, amount: int) -> None:
        sources, target = MOVES[move]
        if source not in sources:
            raise LedgerError(f"{move.value}: 不能从 {source.value} 转出")
        if amount <= 0:
            raise LedgerError("金额须大于零")
        if amount > self.get(source):
            raise LedgerError(f"{STATE_ZH[source]}余额不足")
        setattr(self, source.value, self.get(source) - amount)
        setattr(self, target.value, self.get(target) + amount)

    def unspent(self) -> int:
        """What expiry returns to the budget."""
        return self.issued + self.held

    def conserved(self) -> bool:
        parts = [self.get(s) for s in VoucherState]
        return all(p >= 0 for p in parts) and sum(parts) == self.face


@dataclass
class BudgetModel:
    """The budget as the vouchers see it (contracts.subsidy.budget holds the real one): what it allows,
    what vouchers hold reserved (issued, held or spent) and what was paid out. Reserved plus disbursed
    never exceeds the allocation."""

    allocated: int
    reserved: int = 0
    disbursed: int = 0

    def reserve(self, amount: int) -> None:
        if self.reserved + self.disbursed + amount > self.allocated:
            raise LedgerError("预算余额不足")
        self.reserved += amount

    def release(self, amount: int) -> None:
        if amount > self.reserved:
            raise LedgerError("释放超过已预留金额")
        self.reserved -= amount

    def disburse(self, amount: int) -> None:
        if amount > self.reserved:
            raise LedgerError("拨付超过已预留金额")
        self.reserved -= amount
        self.disbursed += amount
