"""Reference codes every package checks against: GB/T 2260 regions, technology fields, and the
check characters of 统一社会信用代码 (GB 32100-2015) and Chinese patent application numbers."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DATA = Path(__file__).with_name("data")

HOME_PROVINCE = "150000"  # 内蒙古自治区: the platform's own region


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    short: str
    level: str  # province | city | league

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def is_prefecture(self) -> bool:
        """A 盟市 (city or league): the unit a region admin is scoped to."""
        return self.level in ("city", "league")


@dataclass(frozen=True)
class Field:
    code: str
    name_zh: str
    name_en: str


def _read_csv(name: str) -> list[dict[str, str]]:
    with (_DATA / name).open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


@cache
def regions() -> dict[str, Region]:
    return {row["code"]: Region(**row) for row in _read_csv("regions.csv")}


@cache
def fields() -> dict[str, Field]:
    return {row["code"]: Field(**row) for row in _read_csv("fields.csv")}


ABROAD_PREFIX = "99"  # GB/T 2260 codes China only: 99 + ISO 3166-1 numeric, zero-padded (990840 = USA)


def is_abroad(code: str) -> bool:
    return len(code) == 6 and code.isdigit() and code.startswith(ABROAD_PREFIX)


def is_known_region(code: str) -> bool:
    """A GB/T 2260 code of regions.csv, or a party abroad (境外)."""
    return code in regions() or is_abroad(code)


def region_prefix(code: str) -> str:
    """``150000`` → ``15``, ``150200`` → ``1502``: every code under a region starts with its prefix."""
    if code.endswith("0000"):
        return code[:2]
    if code.endswith("00"):
        return code[:4]
    return code


def region_contains(scope_code: str, region_code: str) -> bool:
    """Whether a listing or party in ``region_code`` falls under an admin scoped to ``scope_code``."""
    return region_code.startswith(region_prefix(scope_code))


USCC_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_SHAPE = re.compile(rf"^[{USCC_CHARSET}]{{2}}\d{{6}}[{USCC_CHARSET}]{{10}}$")


def uscc_check_char(first17: str) -> str:
    total = sum(USCC_CHARSET.index(char) * weight for char, weight in zip(first17, _USCC_WEIGHTS, strict=True))
    return USCC_CHARSET[(31 - total % 31) % 31]


def uscc_is_valid(code: str) -> bool:
    """18 characters from the GB 32100 set, a 6-digit division code, and the right check character."""
    return bool(_USCC_SHAPE.match(code)) and uscc_check_char(code[:17]) == code[17]


_PATENT_NUMBER = re.compile(r"^(?:CN|ZL)?(\d{8}|\d{12})\.?([0-9X])$")


def normalize_patent_application_number(number: str) -> str | None:
    """``CN202010123456.7`` / ``2020101234567`` → ``202010123456.7``; None when the check digit fails.

    The check digit is the weighted sum of the digits (weights 2..9 repeating) modulo 11, X for 10.
    """
    match = _PATENT_NUMBER.match(number.strip().upper().replace(" ", ""))
    if not match:
        return None
    body, check = match.groups()
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    total = sum(int(digit) * weights[i % 8] for i, digit in enumerate(body))
    expected = total % 11
    if check != ("X" if expected == 10 else str(expected)):
        return None
    return f"{body}.{check}"
