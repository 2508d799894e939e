"""Reference codes: what a registrar or patent clerk would reject, we reject too."""

from collections import Counter
from enum import StrEnum

import pytest

from contracts.contract.models import SUBTYPES, ContractSubtype, ContractType
from core import reference
from market.demo import demo_uscc
from market.identity.models import OrganizationKind
from market.listings.models import IpType, Maturity, TransactionMode


@pytest.mark.parametrize("code", ["91350100M000100Y43", "91110000600037341L", demo_uscc(1, "150100")])
def test_valid_uscc_is_accepted(code: str) -> None:
    assert reference.uscc_is_valid(code)


@pytest.mark.parametrize(
    "code",
    [
        "91350100M000100Y44",  # wrong check character
        "91350100M000100Y4",  # 17 characters
        "91350100M000100I43",  # I is not in the GB 32100 character set
        "9135A100M000100Y43",  # division code must be digits
        "",
    ],
)
def test_malformed_uscc_is_rejected(code: str) -> None:
    assert not reference.uscc_is_valid(code)


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [("201710601862.3", "201710601862.3"), ("CN2017106018623", "201710601862.3"), ("ZL95115608.X", "95115608.X")],
)
def test_patent_application_numbers_with_right_check_digit(raw: str, normalized: str) -> None:
    assert reference.normalize_patent_application_number(raw) == normalized


@pytest.mark.parametrize("raw", ["201710601862.4", "95115608.1", "2017106018", "abc"])
def test_patent_application_numbers_with_wrong_check_digit(raw: str) -> None:
    assert reference.normalize_patent_application_number(raw) is None


def test_regions_cover_inner_mongolia_and_its_twelve_prefectures() -> None:
    regions = reference.regions()
    prefectures = [r for r in regions.values() if r.code.startswith("15") and r.is_prefecture]
    assert regions["150000"].name_zh == "内蒙古自治区"
    assert len(prefectures) == 12
    assert regions["150200"].name_zh == "包头市"


def test_region_scope_containment() -> None:
    assert reference.region_contains("150000", "150200")
    assert reference.region_contains("150200", "150200")
    assert not reference.region_contains("150200", "150100")
    assert not reference.region_contains("150000", "110000")
    assert len(reference.fields()) == 11


def test_every_banner_and_county_of_inner_mongolia_lies_in_its_league() -> None:
    regions = reference.regions()
    counties = [r for r in regions.values() if r.is_county]
    assert len(counties) == 103  # 民政部: 23 区, 11 县级市, 17 县, 49 旗, 3 自治旗
    levels = Counter(r.level for r in counties)
    assert levels == {"district": 23, "county_city": 11, "county": 17, "banner": 49, "autonomous_banner": 3}
    for county in counties:
        league = regions[county.parent]
        assert league.is_prefecture and league.parent == "150000" and county.code[:4] == league.code[:4], county
        assert reference.prefecture_of(county.code) == league.code
        assert reference.region_contains(league.code, county.code) and reference.region_contains("150000", county.code)
    assert regions["150203"].name_zh == "昆都仑区" and regions["152923"].name_zh == "额济纳旗"
    assert {r.parent for r in counties} == {r.code for r in regions.values() if r.is_prefecture}  # none left out
    assert reference.prefecture_of("150200") == "150200"
    assert reference.prefecture_of("150000") is None and reference.prefecture_of("990840") is None
    assert not reference.region_contains("150400", "150203")
    labels = [r.name_zh for r in regions.values()]
    assert len(labels) == len(set(labels)), "a label names one region"


def test_labels_and_codes_look_each_other_up() -> None:
    assert reference.label_of("maturity", "pilot") == "中试"
    assert reference.label_of("regions", "150203") == "昆都仑区"
    assert reference.label_of("contract_subtypes", "sole_license") == "专利实施许可 (排他)"
    assert reference.label_of("maturity", "beta") is None
    assert reference.code_of_label("maturity", " 中试 ") == "pilot"
    assert reference.code_of_label("maturity", "pilot") == "pilot"  # the code itself passes
    assert reference.code_of_label("regions", "包头市") == reference.code_of_label("regions", "包头") == "150200"
    assert reference.code_of_label("regions", "内蒙古") == "150000"
    assert reference.code_of_label("regions", "锡林郭勒") == "152500"
    assert reference.code_of_label("organization_kinds", "高等院校") == "university"
    assert reference.code_of_label("fields", "新材料及其应用") == "new_materials"
    assert reference.code_of_label("ip_types", "专利") is None
    with pytest.raises(KeyError):
        reference.code_list("colours")


def test_enum_choices_read_as_chinese_labels() -> None:
    assert reference.choices_zh(["research", "lab", "pilot", "industrialized"]) == (
        "研发阶段(research)、小试(lab)、中试(pilot)、产业化(industrialized)"
    )
    assert reference.choices_zh(["development", "transfer", "license", "consulting", "service"]).startswith(
        "技术开发(development)、技术转让(transfer)"
    )
    assert reference.choices_zh(["relevance", "newest"]) is None


@pytest.mark.parametrize(
    ("name", "enum"),
    [
        ("maturity", Maturity),
        ("ip_types", IpType),
        ("transaction_modes", TransactionMode),
        ("contract_types", ContractType),
        ("contract_subtypes", ContractSubtype),
        ("organization_kinds", OrganizationKind),
    ],
)
def test_each_enum_holds_exactly_its_code_list(name: str, enum: type[StrEnum]) -> None:
    assert [item.code for item in reference.code_list(name)] == [member.value for member in enum]
    assert all(item.label for item in reference.code_list(name))


def test_contract_subtypes_sit_under_their_type() -> None:
    for item in reference.code_list("contract_subtypes"):
        assert ContractSubtype(item.code) in SUBTYPES[ContractType(item.parent)], item
