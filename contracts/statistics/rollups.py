"""Rollups kept exact in the same transaction as the contract change, by a flush listener.

How it works: after every flush of any ORM session, the listener looks at the ``Contract`` rows
(and ``ContractAchievement`` links) the flush wrote. For each contract whose counted state may have
changed (status entering/leaving registered/performing/completed, registration, or amounts, regions, kinds, type,
field or registration date changing while counted) it computes the fact the contract should
contribute now, compares it with the fact stored in ``statistics_contract_facts``, and applies the
difference (+/−) to ``statistics_rollups`` with one multi-row upsert (``INSERT … ON CONFLICT DO
UPDATE``; both dialects). Rows are upserted in key order, so concurrent registrations that touch the
same cells wait on each other instead of deadlocking; the row locks are held until the contract's
own commit, so a rolled-back registration leaves no trace.

What bypasses it: Core/bulk ``UPDATE``/``INSERT`` statements on ``contracts`` (no ORM flush). After
such a load, run ``rebuild`` (CLI ``techmarket statistics rebuild``); ``verify`` compares the
rollups with a fresh GROUP BY over the contracts table.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import astuple, dataclass
from typing import Any

from sqlalchemy import Connection, delete, event, insert, select, text
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session, UOWTransaction
from sqlalchemy.orm.attributes import instance_state
from sqlmodel import col

from contracts.contract.models import Contract, ContractAchievement
from contracts.statistics.dimensions import (
    COUNTED_STATUSES,
    IP_RANK,
    NO_IP,
    STORED_DIMENSIONS,
    UNSPECIFIED,
    china_period,
    counted,
    primary_ip_type,
    raw_flow,
)
from contracts.statistics.models import ContractFact, Rollup
from market.listings.models import Achievement

TRACKED = (
    "status",
    "registered_at",
    "created_at",
    "seller_region",
    "buyer_region",
    "type",
    "field",
    "seller_kind",
    "buyer_kind",
    "total_fen",
    "technology_income_fen",
)
FACTS = ContractFact.__table__  # type: ignore[attr-defined]
ROLLUPS = Rollup.__table__  # type: ignore[attr-defined]
ROLLUP_KEY = ("side", "dimension", "region", "period", "key")
CHUNK = 400


@dataclass(frozen=True)
class Fact:
    contract_id: int
    period: int
    seller_region: str
    buyer_region: str
    type: str
    field: str
    seller_kind: str
    buyer_kind: str
    ip_type: str
    total_fen: int
    income_fen: int

    def cells(self) -> Iterable[tuple[str, str, str, int, str]]:
        """The rollup keys this fact adds to: 7 dimensions on each side."""
        for side, region, counterpart in (
            ("seller", self.seller_region, self.buyer_region),
            ("buyer", self.buyer_region, self.seller_region),
        ):
            keys = (
                "",
                self.type,
                self.field,
                self.seller_kind,
                self.buyer_kind,
                self.ip_type,
                raw_flow(region, counterpart).value,
            )
            for dimension, key in zip(STORED_DIMENSIONS, keys, strict=True):
                yield side, dimension, region, self.period, key


def _value(member: Any) -> str:
    return str(getattr(member, "value", member))


def _fact_of(contract_id: int, row: Any, ip_type: str) -> Fact | None:
    if not counted(row.status, row.registered_at):
        return None
    return Fact(
        contract_id=contract_id,
        period=china_period(row.registered_at, row.created_at),
        seller_region=row.seller_region,
        buyer_region=row.buyer_region,
        type=_value(row.type),
        field=row.field or UNSPECIFIED,
        seller_kind=_value(row.seller_kind),
        buyer_kind=_value(row.buyer_kind),
        ip_type=ip_type,
        total_fen=int(row.total_fen),
        income_fen=int(row.technology_income_fen),
    )


def _was_or_is_counted(contract: Contract) -> bool:
    history = instance_state(contract).attrs.status.history
    values = [*history.added, *history.unchanged, *history.deleted]
    if not values:  # not loaded: let the stored fact decide
        return True
    return any(_value(v) in {s.value for s in COUNTED_STATUSES} for v in values)


def _tracked_changed(contract: Contract) -> bool:
    attrs = instance_state(contract).attrs
    return any(attrs[name].history.has_changes() for name in TRACKED)


def _ip_types(connection: Connection, ids: Sequence[int]) -> dict[int, str]:
    found: dict[int, list[str]] = {}
    for chunk in _chunks(list(ids)):
        rows = connection.execute(
            select(col(ContractAchievement.contract_id), col(Achievement.ip_type))
            .join(Achievement, col(Achievement.id) == col(ContractAchievement.achievement_id))
            .where(col(ContractAchievement.contract_id).in_(chunk))
        )
        for contract_id, ip_type in rows:
            if ip_type is not None:
                found.setdefault(contract_id, []).append(_value(ip_type))
    return {cid: primary_ip_type(values) for cid, values in found.items()}


def _chunks(items: list[Any], size: int = CHUNK) -> Iterable[list[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _on_after_flush(session: Session, _context: UOWTransaction) -> None:
    candidates: dict[int, Contract | None] = {}  # None: deleted, or only its links changed (read from the DB)
    linked: set[int] = set()
    for obj in (*session.new, *session.dirty):
        if isinstance(obj, Contract) and obj.id is not None:
            if obj in session.new and not counted(obj.status, obj.registered_at):
                continue
            if obj in session.dirty and not (_tracked_changed(obj) and _was_or_is_counted(obj)):
                continue
            candidates[obj.id] = obj
        elif isinstance(obj, ContractAchievement):
            linked.add(obj.contract_id)
    deleted: set[int] = set()
    for obj in session.deleted:
        if isinstance(obj, Contract) and obj.id is not None:
            deleted.add(obj.id)
        elif isinstance(obj, ContractAchievement):
            linked.add(obj.contract_id)
    linked -= set(candidates) | deleted
    if not candidates and not deleted and not linked:
        return
    apply_changes(session.connection(), candidates, deleted, linked)


def apply_changes(
    connection: Connection, candidates: dict[int, Contract | None], deleted: set[int], linked: set[int]
) -> None:
    ids = sorted(set(candidates) | deleted | linked)
    old: dict[int, Fact] = {}
    for chunk in _chunks(ids):
        for row in connection.execute(select(FACTS).where(FACTS.c.contract_id.in_(chunk))):
            old[row.contract_id] = Fact(**{name: getattr(row, name) for name in Fact.__dataclass_fields__})
    # Contracts whose links changed but were not otherwise touched: only matters if already counted.
    from_db = [cid for cid in linked if cid in old]
    rows_from_db: dict[int, Any] = {}
    for chunk in _chunks(from_db):
        for row in connection.execute(select(Contract.__table__).where(Contract.__table__.c.id.in_(chunk))):  # type: ignore[attr-defined]
            rows_from_db[row.id] = row
    counted_now = [cid for cid, c in candidates.items() if c is not None and counted(c.status, c.registered_at)]
    ip_types = _ip_types(connection, counted_now + list(rows_from_db))
    new: dict[int, Fact | None] = {cid: None for cid in deleted}
    for cid, contract in candidates.items():
        if cid not in deleted:
            new[cid] = _fact_of(cid, contract, ip_types.get(cid, NO_IP))
    for cid, row in rows_from_db.items():
        if cid not in deleted:
            new[cid] = _fact_of(cid, row, ip_types.get(cid, NO_IP))

    deltas: dict[tuple[str, str, str, int, str], list[int]] = {}
    removed, added = [], []
    for cid, fact in new.items():
        before = old.get(cid)
        if before == fact:
            continue
        for sign, which in ((-1, before), (1, fact)):
            if which is None:
                continue
            for cell in which.cells():
                delta = deltas.setdefault(cell, [0, 0, 0])
                delta[0] += sign
                delta[1] += sign * which.total_fen
                delta[2] += sign * which.income_fen
        if before is not None:
            removed.append(cid)
        if fact is not None:
            added.append(fact)
    for chunk in _chunks(removed):
        connection.execute(delete(FACTS).where(FACTS.c.contract_id.in_(chunk)))
    for chunk in _chunks(added):
        connection.execute(insert(FACTS), [fact.__dict__ for fact in chunk])
    upsert_rollups(connection, deltas)


def upsert_rollups(connection: Connection, deltas: dict[tuple[str, str, str, int, str], list[int]]) -> None:
    rows = [
        dict(zip(ROLLUP_KEY, cell, strict=True), contracts=d[0], total_fen=d[1], income_fen=d[2])
        for cell, d in sorted(deltas.items())
        if d != [0, 0, 0]
    ]
    dialect_insert = postgresql.insert if connection.dialect.name == "postgresql" else sqlite.insert
    for chunk in _chunks(rows):
        statement = dialect_insert(ROLLUPS).values(chunk)
        statement = statement.on_conflict_do_update(
            index_elements=list(ROLLUP_KEY),
            set_={
                "contracts": ROLLUPS.c.contracts + statement.excluded.contracts,
                "total_fen": ROLLUPS.c.total_fen + statement.excluded.total_fen,
                "income_fen": ROLLUPS.c.income_fen + statement.excluded.income_fen,
            },
        )
        connection.execute(statement)


def install() -> None:
    """Registered once for every ORM session (AsyncSession runs on the sync Session class)."""
    if not event.contains(Session, "after_flush", _on_after_flush):
        event.listen(Session, "after_flush", _on_after_flush)


# --- rebuild and verify (SQL over the whole contracts table) ------------------------------------

COUNTED_SQL = "('registered', 'performing', 'completed')"
COUNTED_WHERE = f"c.status IN {COUNTED_SQL} AND c.registered_at IS NOT NULL"


def period_sql(dialect: str, column: str = "c.registered_at", fallback: str = "c.created_at") -> str:
    """YYYYMM of the registration date in China, in SQL."""
    moment = f"COALESCE({column}, {fallback})"
    if dialect == "postgresql":
        return f"CAST(to_char({moment} AT TIME ZONE 'Asia/Shanghai', 'YYYYMM') AS INTEGER)"
    return f"CAST(strftime('%Y%m', {moment}, '+8 hours') AS INTEGER)"


def _ip_sql() -> str:
    ranks = " ".join(f"WHEN '{ip.value}' THEN {rank}" for ip, rank in IP_RANK.items())
    names = " ".join(f"WHEN {rank} THEN '{ip.value}'" for ip, rank in IP_RANK.items())
    return (
        f"COALESCE((SELECT CASE MIN(CASE a.ip_type {ranks} END) {names} END FROM contract_achievements ca "
        f"JOIN achievements a ON a.id = ca.achievement_id WHERE ca.contract_id = c.id), '{NO_IP}')"
    )


def _flow_sql(region: str, counterpart: str) -> str:
    return (
        f"CASE WHEN ({region} LIKE '9%' OR {counterpart} LIKE '9%') AND {region} <> {counterpart} THEN 'abroad' "
        f"WHEN substr({region}, 1, 4) = substr({counterpart}, 1, 4) THEN 'same_prefecture' "
        f"WHEN substr({region}, 1, 2) = substr({counterpart}, 1, 2) THEN 'same_province' ELSE 'other_province' END"
    )


EMPTY = "''"


def _also(key: str) -> str:
    """PostgreSQL refuses a constant in GROUP BY: the ``total`` dimension groups by region and month only."""
    return "" if key == EMPTY else f", {key}"


def rebuild_statements(dialect: str) -> list[str]:
    """SQL that recomputes facts and rollups from the contracts table (0004 keeps its own frozen copy)."""
    statements = [
        "DELETE FROM statistics_rollups",
        "DELETE FROM statistics_contract_facts",
        "INSERT INTO statistics_contract_facts (contract_id, period, seller_region, buyer_region, type, field, "
        "seller_kind, buyer_kind, ip_type, total_fen, income_fen) "
        f"SELECT c.id, {period_sql(dialect)}, c.seller_region, c.buyer_region, c.type, "
        f"COALESCE(c.field, '{UNSPECIFIED}'), "
        f"c.seller_kind, c.buyer_kind, {_ip_sql()}, c.total_fen, c.technology_income_fen "
        f"FROM contracts c WHERE {COUNTED_WHERE}",
    ]
    for side, region, counterpart in (
        ("seller", "f.seller_region", "f.buyer_region"),
        ("buyer", "f.buyer_region", "f.seller_region"),
    ):
        keys = ("''", "f.type", "f.field", "f.seller_kind", "f.buyer_kind", "f.ip_type", _flow_sql(region, counterpart))
        for dimension, key in zip(STORED_DIMENSIONS, keys, strict=True):
            statements.append(
                "INSERT INTO statistics_rollups "
                "(side, dimension, region, period, key, contracts, total_fen, income_fen) "
                f"SELECT '{side}', '{dimension}', {region}, f.period, {key}, "
                "COUNT(*), SUM(f.total_fen), SUM(f.income_fen) "
                f"FROM statistics_contract_facts f GROUP BY {region}, f.period{_also(key)}"
            )
    return statements


async def rebuild(session: Any) -> int:
    """Recompute facts and rollups from the contracts table (after bulk loads); returns facts written."""
    for statement in rebuild_statements(session.bind.dialect.name):
        await session.execute(text(statement))
    count = (await session.execute(text("SELECT COUNT(*) FROM statistics_contract_facts"))).scalar_one()
    return int(count)


async def verify(session: Any) -> list[dict[str, Any]]:
    """Cells where the rollups disagree with a GROUP BY over the contracts table (empty when exact)."""
    dialect = session.bind.dialect.name
    expected: dict[tuple[Any, ...], tuple[int, int, int]] = {}
    for side, region, counterpart in (
        ("seller", "c.seller_region", "c.buyer_region"),
        ("buyer", "c.buyer_region", "c.seller_region"),
    ):
        keys = (
            "''",
            "c.type",
            f"COALESCE(c.field, '{UNSPECIFIED}')",
            "c.seller_kind",
            "c.buyer_kind",
            _ip_sql(),
            _flow_sql(region, counterpart),
        )
        for dimension, key in zip(STORED_DIMENSIONS, keys, strict=True):
            rows = await session.execute(
                text(
                    f"SELECT {region}, {period_sql(dialect)}, {key}, "
                    "COUNT(*), SUM(c.total_fen), SUM(c.technology_income_fen) "
                    f"FROM contracts c WHERE {COUNTED_WHERE} GROUP BY 1, 2{_also('3') if key != EMPTY else ''}"
                )
            )
            for reg, period, k, n, total, income in rows:
                expected[(side, dimension, reg, int(period), k)] = (int(n), int(total), int(income))
    actual = {
        (r.side, r.dimension, r.region, int(r.period), r.key): (int(r.contracts), int(r.total_fen), int(r.income_fen))
        for r in await session.execute(select(ROLLUPS).where(ROLLUPS.c.contracts != 0))
    }
    problems = []
    for cell in sorted(set(expected) | set(actual)):
        if expected.get(cell) != actual.get(cell):
            problems.append({"cell": list(cell), "expected": expected.get(cell), "actual": actual.get(cell)})
    return problems


__all__ = ["Fact", "apply_changes", "astuple", "install", "rebuild", "upsert_rollups", "verify"]
