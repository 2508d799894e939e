"""What a 认定登记 request must carry (申请材料), per contract subtype, as data with its legal source.

``data/registration_materials.csv`` (sources in ``data/README.md``): the contract text for every
contract, the patent certificate (or acceptance notice) for patent transfers and licences, a rights
proof for technical secrets. The seller's request is refused (422, one error per missing material)
until each is attached to the contract, or, for a patent or rights material, to an achievement the
contract covers; the registrar's queue shows each material and the files that answer it.
"""

from __future__ import annotations

import csv
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

from contracts import errors
from contracts.contract.models import ContractSubtype
from core.errors import FieldError

DATA = Path(__file__).with_name("data") / "registration_materials.csv"
EVERY = "*"
CONTRACT_ONLY = frozenset({"contract_text"})  # the contract's own text is never an achievement's file


@dataclass(frozen=True, slots=True)
class Material:
    code: str
    label: str
    categories: tuple[str, ...]  # attachment categories that answer it
    subtypes: frozenset[ContractSubtype] | None  # None: every subtype
    source: str
    source_date: date


@cache
def materials() -> tuple[Material, ...]:
    with DATA.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    return tuple(
        Material(
            code=row["material"],
            label=row["label"],
            categories=tuple(row["categories"].split("|")),
            subtypes=None
            if row["subtypes"] == EVERY
            else frozenset(ContractSubtype(s) for s in row["subtypes"].split("|")),
            source=row["source"],
            source_date=date.fromisoformat(row["source_date"]),
        )
        for row in rows
    )


def required_for(subtype: ContractSubtype) -> tuple[Material, ...]:
    return tuple(m for m in materials() if m.subtypes is None or subtype in m.subtypes)


def answering(
    material: Material, on_contract: dict[str, list[int]], on_achievements: dict[str, list[int]]
) -> list[int]:
    """Ids of the attachments (categories → ids, of the contract and of its achievements) that answer it."""
    found = [i for category in material.categories for i in on_contract.get(category, [])]
    if material.code not in CONTRACT_ONLY:
        found += [i for category in material.categories for i in on_achievements.get(category, [])]
    return sorted(found)


def require(subtype: ContractSubtype, on_contract: dict[str, list[int]], on_achievements: dict[str, list[int]]) -> None:
    """Refuse a request that lacks a material: one error per missing material, naming it in Chinese."""
    missing = [m for m in required_for(subtype) if not answering(m, on_contract, on_achievements)]
    if missing:
        raise errors.RegistrationMaterialsMissing(
            detail="请先把下列材料作为合同附件上传, 再申请认定登记: " + "、".join(m.label for m in missing),
            errors=[
                FieldError(
                    field=f"materials.{m.code}",
                    code="material_missing",
                    message=f"缺少{m.label} (合同附件类别: {' 或 '.join(m.categories)})",
                )
                for m in missing
            ],
            missing=[m.code for m in missing],
        )
