"""Reference codes: what a registrar or patent clerk would reject, we reject too."""

import pytest

from core import reference
from market.demo import demo_uscc


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
