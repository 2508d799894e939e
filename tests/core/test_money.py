from decimal import Decimal

import pytest
from pydantic import BaseModel, ValidationError

from core.money import Yuan, fen_to_yuan, yuan_to_fen


class Price(BaseModel):
    amount: Yuan


@pytest.mark.parametrize(
    ("raw", "fen"), [("120000", 12_000_000), ("0.1", 10), (0.29, 29), (19.99, 1999), ("1,234.56", 123_456), (7, 700)]
)
def test_yuan_parse_to_exact_fen(raw: object, fen: int) -> None:
    assert yuan_to_fen(Price(amount=raw).amount) == fen


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("1.234", "money_precision"),
        ("-5", "negative_money"),
        ("abc", "invalid_money"),
        ("NaN", "invalid_money"),
        (True, "invalid_money"),
    ],
)
def test_bad_money_is_refused_with_a_code(raw: object, code: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Price(amount=raw)
    assert caught.value.errors()[0]["type"] == code


def test_money_leaves_the_api_as_a_two_place_string() -> None:
    assert Price(amount=fen_to_yuan(12_345)).model_dump(mode="json") == {"amount": "123.45"}
    assert fen_to_yuan(1) == Decimal("0.01")
