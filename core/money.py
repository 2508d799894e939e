"""Money: integer fen inside, decimal yuan (at most 2 places) at the edges; never a float."""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated

from pydantic import BeforeValidator, PlainSerializer, WithJsonSchema
from pydantic_core import PydanticCustomError

FEN_PER_YUAN = 100
MAX_YUAN = Decimal("1000000000000")  # 1 万亿元: above any single deal


def yuan_to_fen(value: Decimal) -> int:
    return int(value * FEN_PER_YUAN)


def fen_to_yuan(fen: int) -> Decimal:
    return (Decimal(fen) / FEN_PER_YUAN).quantize(Decimal("0.01"))


def parse_yuan(value: object) -> Decimal:
    """Accepts strings and ints (and JSON numbers, read via their decimal text); refuses floats' noise."""
    if isinstance(value, bool) or value is None:
        raise PydanticCustomError("invalid_money", "金额应为数字 (元, 最多两位小数)")
    if isinstance(value, float):
        value = repr(value)  # the shortest text that round-trips: 0.1 stays "0.1", not 0.1000000000000000055
    try:
        amount = Decimal(str(value).strip().replace(",", ""))
    except InvalidOperation as exc:
        raise PydanticCustomError("invalid_money", "金额应为数字 (元, 最多两位小数)") from exc
    if not amount.is_finite():
        raise PydanticCustomError("invalid_money", "金额应为有限数字")
    if amount < 0:
        raise PydanticCustomError("negative_money", "金额不能为负数")
    if amount > MAX_YUAN:
        raise PydanticCustomError("money_too_large", "金额超出上限")
    if amount != amount.quantize(Decimal("0.01")):
        raise PydanticCustomError("money_precision", "金额最多两位小数 (精确到分)")
    return amount.quantize(Decimal("0.01"))


# API type: decimal yuan in, decimal-yuan string out (JSON numbers would invite floats in clients).
Yuan = Annotated[
    Decimal,
    BeforeValidator(parse_yuan),
    PlainSerializer(lambda amount: f"{amount:.2f}", return_type=str, when_used="json"),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": r"^\d+(\.\d{1,2})?$",
            "examples": ["120000.00"],
            "description": "元, 最多两位小数",
        }
    ),
]
