"""Validate the demo listings in market/demo_data/ (achievements and technology demands).

Plain synchronous checks: shape, reference codes (fields, GB/T 2260 regions, patent check digits),
internal consistency, and that no item reuses a title of the held-out matching evaluation set.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import date
from pathlib import Path

import pytest

from core import reference
from tests.prerequisites import EVAL_SET, require

DATA = Path(__file__).resolve().parents[2] / "market" / "demo_data"

ACHIEVEMENT_KEYS = {
    "external_id",
    "title",
    "summary",
    "field",
    "keywords",
    "maturity",
    "trl",
    "ip_type",
    "ip_numbers",
    "transaction_modes",
    "price",
    "region",
    "owner",
    "owner_kind",
    "inventors",
    "advantages",
    "contact",
}
DEMAND_KEYS = {
    "external_id",
    "title",
    "description",
    "field",
    "keywords",
    "budget_max",
    "deadline",
    "transaction_modes",
    "min_maturity",
    "region",
    "owner",
    "owner_kind",
    "contact",
}
TRL_RANGE = {"research": (1, 3), "lab": (3, 4), "pilot": (5, 6), "industrialized": (7, 9)}
IP_TYPES = {
    "invention_patent",
    "utility_model",
    "design",
    "software_copyright",
    "plant_variety",
    "ic_layout",
    "know_how",
}
PATENT_TYPE_DIGIT = {"invention_patent": "1", "utility_model": "2", "design": "3"}
MODES = {"transfer", "license", "equity", "joint_development"}
OWNER_KINDS = {"university", "institute", "enterprise"}
DEMO_OWNERS = {"演示大学 (内蒙古)": ("university", "150100"), "演示稀土研究院": ("institute", "150200")}
DEMO_DEMANDERS = {"演示乳业科技有限公司": "150100", "演示能源集团有限公司": "150600"}
AGENCY = "演示技术转移中心"

PHONE = re.compile(r"^0\d{2,3}-\d{7,8}$")
EMAIL = re.compile(r"^[a-z0-9._-]+@[a-z0-9-]+(\.[a-z0-9-]+)+$")
SOFTWARE_COPYRIGHT = re.compile(r"^(19|20)\d{2}SR\d{7}$")
CJK = re.compile(r"[\u4e00-\u9fff]")


def _load(name: str) -> list[dict]:
    path = DATA / name
    rows = []
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, start=1):
            assert line.strip(), f"{name}:{number} is blank"
            rows.append(json.loads(line))
    return rows


@pytest.fixture(scope="module")
def achievements() -> list[dict]:
    return _load("achievements.jsonl")


@pytest.fixture(scope="module")
def demands() -> list[dict]:
    return _load("demands.jsonl")


def _check_text(text: object, low: int, high: int, where: str) -> None:
    assert isinstance(text, str), where
    assert text == text.strip(), f"{where}: surrounding whitespace"
    assert low <= len(text) <= high, f"{where}: length {len(text)} not in {low}-{high}"
    assert len(CJK.findall(text)) >= low * 0.6, f"{where}: not mainly Chinese"


def _check_keywords(keywords: object, where: str) -> None:
    assert isinstance(keywords, list) and 3 <= len(keywords) <= 6, where
    assert all(isinstance(k, str) and k.strip() == k and k for k in keywords), where
    assert len(set(keywords)) == len(keywords), f"{where}: repeated keyword"


def _check_modes(modes: object, where: str) -> None:
    assert isinstance(modes, list) and modes, where
    assert set(modes) <= MODES and len(set(modes)) == len(modes), where


def _check_contact(contact: object, where: str) -> None:
    assert isinstance(contact, dict) and set(contact) == {"name", "phone", "email"}, where
    assert isinstance(contact["name"], str) and 2 <= len(contact["name"]) <= 6 and CJK.match(contact["name"]), where
    assert PHONE.match(contact["phone"]), f"{where}: phone {contact['phone']}"
    assert EMAIL.match(contact["email"]), f"{where}: email {contact['email']}"


def _check_region(code: object, where: str) -> None:
    assert isinstance(code, str) and code in reference.regions(), f"{where}: region {code}"


def test_counts(achievements: list[dict], demands: list[dict]) -> None:
    assert len(achievements) >= 200
    assert len(demands) >= 50


def test_achievement_records(achievements: list[dict]) -> None:
    fields = reference.fields()
    for row in achievements:
        where = row.get("external_id", "?")
        assert set(row) == ACHIEVEMENT_KEYS, f"{where}: keys {sorted(set(row) ^ ACHIEVEMENT_KEYS)}"
        assert re.fullmatch(r"DEMO-A\d{4}", row["external_id"]), where
        _check_text(row["title"], 6, 40, f"{where} title")
        _check_text(row["summary"], 80, 300, f"{where} summary")
        assert row["field"] in fields, where
        _check_keywords(row["keywords"], where)

        assert row["maturity"] in TRL_RANGE, where
        low, high = TRL_RANGE[row["maturity"]]
        assert isinstance(row["trl"], int) and not isinstance(row["trl"], bool), where
        assert low <= row["trl"] <= high, f"{where}: trl {row['trl']} vs {row['maturity']}"

        assert row["ip_type"] in IP_TYPES, where
        numbers = row["ip_numbers"]
        assert isinstance(numbers, list) and all(isinstance(n, str) and n for n in numbers), where
        if row["ip_type"] in PATENT_TYPE_DIGIT:
            assert numbers, f"{where}: patent without number"
            for number in numbers:
                assert re.fullmatch(r"\d{12}\.[0-9X]", number), f"{where}: {number}"
                assert reference.normalize_patent_application_number(number) == number, (
                    f"{where}: bad check digit {number}"
                )
                assert number[4] == PATENT_TYPE_DIGIT[row["ip_type"]], f"{where}: type digit of {number}"
                assert 1985 <= int(number[:4]) <= date.today().year, f"{where}: year of {number}"
        elif row["ip_type"] == "software_copyright":
            assert numbers and all(SOFTWARE_COPYRIGHT.match(n) for n in numbers), f"{where}: {numbers}"
        assert len(set(numbers)) == len(numbers), where

        _check_modes(row["transaction_modes"], where)
        price = row["price"]
        assert price is None or (type(price) is int and 50_000 <= price <= 20_000_000), f"{where}: price {price}"

        _check_region(row["region"], where)
        assert isinstance(row["owner"], str) and row["owner"].strip(), where
        assert row["owner"] != AGENCY, f"{where}: the agency cannot own an achievement"
        assert row["owner_kind"] in OWNER_KINDS, where
        if row["owner"] in DEMO_OWNERS:
            assert (row["owner_kind"], row["region"]) == DEMO_OWNERS[row["owner"]], where

        inventors = row["inventors"]
        assert isinstance(inventors, list) and len(inventors) <= 5, where
        if row["owner_kind"] != "enterprise":
            assert inventors, f"{where}: universities and institutes name their inventors"
        for person in inventors:
            assert set(person) == {"name", "share"}, where
            assert isinstance(person["name"], str) and 2 <= len(person["name"]) <= 6 and CJK.match(person["name"]), (
                where
            )
            assert type(person["share"]) is int and 1 <= person["share"] <= 5, where
        assert len({p["name"] for p in inventors}) == len(inventors), f"{where}: repeated inventor"

        advantages = row["advantages"]
        assert isinstance(advantages, list) and 1 <= len(advantages) <= 3, where
        for claim in advantages:
            assert isinstance(claim, str) and claim.strip() and re.search(r"\d", claim), f"{where}: claim {claim!r}"
        _check_contact(row["contact"], where)


def test_demand_records(demands: list[dict]) -> None:
    fields = reference.fields()
    for row in demands:
        where = row.get("external_id", "?")
        assert set(row) == DEMAND_KEYS, f"{where}: keys {sorted(set(row) ^ DEMAND_KEYS)}"
        assert re.fullmatch(r"DEMO-D\d{3}", row["external_id"]), where
        _check_text(row["title"], 6, 40, f"{where} title")
        _check_text(row["description"], 80, 300, f"{where} description")
        assert row["field"] in fields, where
        _check_keywords(row["keywords"], where)
        budget = row["budget_max"]
        assert budget is None or (type(budget) is int and 10_000 <= budget <= 50_000_000), f"{where}: budget {budget}"
        deadline = date.fromisoformat(row["deadline"])
        assert date(2027, 1, 1) <= deadline <= date(2028, 12, 31), where
        _check_modes(row["transaction_modes"], where)
        assert row["min_maturity"] is None or row["min_maturity"] in TRL_RANGE, where
        _check_region(row["region"], where)
        assert isinstance(row["owner"], str) and row["owner"].strip() and row["owner"] != AGENCY, where
        assert row["owner_kind"] == "enterprise", where
        if row["owner"] in DEMO_DEMANDERS:
            assert row["region"] == DEMO_DEMANDERS[row["owner"]], where
        _check_contact(row["contact"], where)


def test_identifiers_titles_and_texts_are_unique(achievements: list[dict], demands: list[dict]) -> None:
    for rows, text_key in ((achievements, "summary"), (demands, "description")):
        for key in ("external_id", "title", text_key):
            repeated = [value for value, n in Counter(row[key] for row in rows).items() if n > 1]
            assert not repeated, f"repeated {key}: {repeated}"
    titles = {row["title"] for row in achievements} & {row["title"] for row in demands}
    assert not titles, f"a demand reuses an achievement title: {titles}"


def test_coverage_and_demo_organizations(achievements: list[dict], demands: list[dict]) -> None:
    assert {row["field"] for row in achievements} == set(reference.fields())
    home = sum(row["region"].startswith("15") for row in achievements) / len(achievements)
    assert 0.7 <= home <= 0.9, f"share of Inner Mongolia owners {home:.0%}"
    assert all(
        reference.regions()[row["region"]].is_prefecture for row in achievements if row["region"].startswith("15")
    )
    demo = sum(row["owner"] in DEMO_OWNERS for row in achievements) / len(achievements)
    assert 0.10 <= demo <= 0.25, f"share of demo-owned achievements {demo:.0%}"
    assert {row["owner"] for row in achievements} >= set(DEMO_OWNERS)
    demo_demands = sum(row["owner"] in DEMO_DEMANDERS for row in demands) / len(demands)
    assert 0.15 <= demo_demands <= 0.30, f"share of demo-owned demands {demo_demands:.0%}"
    assert {row["owner"] for row in demands} >= set(DEMO_DEMANDERS)
    assert {row["maturity"] for row in achievements} == set(TRL_RANGE)


def test_no_text_from_the_evaluation_set(achievements: list[dict], demands: list[dict]) -> None:
    require(EVAL_SET.is_dir(), f"the matching evaluation set is not at {EVAL_SET}")
    eval_titles: set[str] = set()
    for name in ("achievements.jsonl", "demands.jsonl"):
        path = EVAL_SET / name
        if path.exists():
            with path.open(encoding="utf-8") as handle:
                eval_titles |= {json.loads(line)["title"].strip() for line in handle if line.strip()}
    assert eval_titles, f"no titles in {EVAL_SET}/{{achievements,demands}}.jsonl"
    texts = [row[key].strip() for row in achievements for key in ("title", "summary")]
    texts += [row[key].strip() for row in demands for key in ("title", "description")]
    clashes = sorted(set(texts) & eval_titles)
    assert not clashes, f"{len(clashes)} demo texts equal an evaluation title"


@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)
async def test_demo_listings_load_through_the_import_path_and_are_public(database, client) -> None:
    from market.demo import load_demo_listings

    created = await load_demo_listings(database)
    assert len(created) == 2
    assert await load_demo_listings(database) == []  # idempotent
    achievements = (await client.get("/api/v1/achievements", params={"limit": 1})).json()
    demands = (await client.get("/api/v1/demands", params={"limit": 1})).json()
    assert achievements["total"] >= 200 and demands["total"] >= 50
    own = (await client.get("/api/v1/achievements", params={"owner_id": 2, "limit": 1})).json()
    assert own["total"] > 0  # 演示稀土研究院 owns some, so its demo login has listings to manage
