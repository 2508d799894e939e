"""Reference codes every package checks against: GB/T 2260 regions, technology fields, the code lists
behind the API's enums with their Chinese labels, and the check characters of 统一社会信用代码
(GB 32100-2015) and Chinese patent application numbers. Sources of the data files: ``core/data/README.md``."""

from __future__ import annotations

import csv
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

_DATA = Path(__file__).with_name("data")

HOME_PROVINCE = "150000"  # 内蒙古自治区: the platform's own region


PREFECTURE_LEVELS = frozenset({"city", "league"})  # 地级: 市, 盟
COUNTY_LEVELS = frozenset(
    {"district", "county_city", "county", "banner", "autonomous_banner"}
)  # 区, 县级市, 县, 旗, 自治旗


@dataclass(frozen=True)
class Region:
    code: str
    name_zh: str
    short: str
    level: str  # province | city | league | district | county_city | county | banner | autonomous_banner
    parent: str  # the enclosing region's code; empty for a province

    @property
    def province_code(self) -> str:
        return self.code[:2] + "0000"

    @property
    def is_prefecture(self) -> bool:
        """A 盟市 (city or league): the unit a region admin is scoped to."""
        return self.level in PREFECTURE_LEVELS

    @property
    def is_county(self) -> bool:
        """A 旗县级 unit (区, 县级市, 县, 旗, 自治旗): it rolls up to its 盟市 and province."""
        return self.level in COUNTY_LEVELS


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


def prefecture_of(code: str) -> str | None:
    """The 盟市 a known code lies in (itself for a 盟市); None for a province, abroad or an unknown code."""
    region = regions().get(code)
    if region is None or not (region.is_prefecture or region.is_county):
        return None
    return region.code if region.is_prefecture else region.parent


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


# --- code lists: what the API's codes mean in Chinese ---------------------------------------------

CODE_LISTS: dict[str, str] = {
    "fields": "技术领域",
    "regions": "行政区划 (GB/T 2260)",
    "maturity": "成熟度",
    "ip_types": "知识产权类型",
    "transaction_modes": "交易方式",
    "contract_types": "技术合同类型",
    "contract_subtypes": "技术合同子类",
    "organization_kinds": "单位类型",
}


@dataclass(frozen=True)
class CodeItem:
    code: str
    label: str
    parent: str | None  # regions: the enclosing region; contract subtypes: their type
    order: int  # position in the list, from 1
    level: str | None = None  # regions only


@cache
def _codes_csv() -> dict[str, list[dict[str, str]]]:
    grouped: dict[str, list[dict[str, str]]] = {}
    for row in _read_csv("codes.csv"):
        grouped.setdefault(row["list"], []).append(row)
    return grouped


@cache
def code_list(name: str) -> tuple[CodeItem, ...]:
    """Every code of a list in its published order; KeyError for a name not in CODE_LISTS."""
    if name not in CODE_LISTS:
        raise KeyError(name)
    if name == "regions":
        return tuple(
            CodeItem(r.code, r.name_zh, r.parent or None, i, r.level) for i, r in enumerate(regions().values(), 1)
        )
    if name == "fields":
        return tuple(CodeItem(f.code, f.name_zh, None, i) for i, f in enumerate(fields().values(), 1))
    rows = _codes_csv()[name]
    return tuple(CodeItem(r["code"], r["label_zh"], r["parent"] or None, i) for i, r in enumerate(rows, 1))


@cache
def _by_code(name: str) -> dict[str, CodeItem]:
    return {item.code: item for item in code_list(name)}


_REGION_SUFFIXES = ("特别行政区", "自治区", "省", "市", "盟")


@cache
def _by_label(name: str) -> dict[str, str]:
    """Label → code; for regions also the name without its suffix (包头 → 包头市) when that is unambiguous."""
    exact = {item.label: item.code for item in code_list(name)}
    if name != "regions":
        return exact
    short: dict[str, set[str]] = {}
    for item in code_list(name):
        if item.level in ("province", *PREFECTURE_LEVELS):
            for suffix in _REGION_SUFFIXES:
                if item.label.endswith(suffix) and len(item.label) > len(suffix) + 1:
                    short.setdefault(item.label.removesuffix(suffix), set()).add(item.code)
                    break
    aliases = {alias: next(iter(codes)) for alias, codes in short.items() if len(codes) == 1 and alias not in exact}
    return {**aliases, **exact}


def label_of(name: str, code: str) -> str | None:
    """The Chinese label of a code (``label_of("maturity", "pilot")`` → ``中试``); None when unknown."""
    item = _by_code(name).get(code)
    return item.label if item else None


def code_of_label(name: str, label: str) -> str | None:
    """The code a person's text names: the Chinese label, a region's name without 市/盟/省, or the code
    itself (``code_of_label("regions", "包头")`` → ``150200``); None when it names none."""
    text = label.strip()
    if text in _by_code(name):
        return text
    return _by_label(name).get(text)


def describe(name: str) -> str:
    """``code: 标签`` lines for documentation (OpenAPI descriptions)."""
    return "; ".join(f"{item.code}: {item.label}" for item in code_list(name))


def list_of_codes(values: list[str] | tuple[str, ...]) -> str | None:
    """The code list an enum's values come from: the one with exactly these codes, else the smallest
    one holding them all; None when none does (regions and fields are not enums)."""
    wanted = set(values)
    candidates = [name for name in CODE_LISTS if name not in ("regions", "fields") and wanted <= set(_by_code(name))]
    exact = [name for name in candidates if set(_by_code(name)) == wanted]
    if exact:
        return exact[0]
    return min(candidates, key=lambda name: len(_by_code(name)), default=None)


def choices_zh(values: list[str] | tuple[str, ...]) -> str | None:
    """``研发阶段(research)、小试(lab)…`` for an enum's values; None when no list knows them."""
    name = list_of_codes(values)
    if name is None:
        return None
    return "、".join(f"{label_of(name, value)}({value})" for value in values)


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
