"""Annotated input types that check reference codes and reply in Chinese, field by field."""

from __future__ import annotations

import re
from typing import Annotated

from pydantic import AfterValidator, BeforeValidator
from pydantic_core import PydanticCustomError

from core import reference

_EMAIL = re.compile(r"^[^@\s]{1,64}@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9-]{1,63})+$")
_COMMON_PASSWORDS = {
    "password",
    "12345678",
    "123456789",
    "1234567890",
    "qwerty123",
    "abc12345",
    "admin123",
    "password1",
}
MIN_PASSWORD_LENGTH = 10


def _strip(value: object) -> object:
    return value.strip() if isinstance(value, str) else value


def _region(code: str) -> str:
    if not reference.is_known_region(code):
        raise PydanticCustomError(
            "unknown_region",
            "未知的行政区划代码 {code} (应为 GB/T 2260 代码, 境外为 99 + ISO 国家代码)",
            {"code": code},
        )
    return code


def _prefecture(code: str) -> str:
    region = reference.regions().get(code)
    if region is None or not region.is_prefecture:
        raise PydanticCustomError("not_a_prefecture", "应为盟市级行政区划代码, 而不是 {code}", {"code": code})
    return code


def _field(code: str) -> str:
    if code not in reference.fields():
        raise PydanticCustomError("unknown_field", "未知的技术领域代码 {code}", {"code": code})
    return code


def _uscc(code: str) -> str:
    code = code.upper()
    if len(code) != 18:
        raise PydanticCustomError("invalid_uscc", "统一社会信用代码应为 18 位")
    if not reference.uscc_is_valid(code):
        raise PydanticCustomError("invalid_uscc", "统一社会信用代码格式或校验位错误 (GB 32100-2015)")
    return code


def _email(value: str) -> str:
    if not _EMAIL.match(value):
        raise PydanticCustomError("invalid_email", "邮箱格式不正确")
    return value.lower()


def _password(value: str) -> str:
    if len(value) < MIN_PASSWORD_LENGTH:
        raise PydanticCustomError("weak_password", "密码至少 {n} 位", {"n": MIN_PASSWORD_LENGTH})
    if not (re.search(r"[A-Za-z]", value) and re.search(r"\d", value)):
        raise PydanticCustomError("weak_password", "密码须同时包含字母和数字")
    if value.lower() in _COMMON_PASSWORDS or len(set(value)) < 4:
        raise PydanticCustomError("weak_password", "密码过于常见, 请换一个")
    return value


RegionCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_region)]
PrefectureCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_prefecture)]
FieldCode = Annotated[str, BeforeValidator(_strip), AfterValidator(_field)]
USCC = Annotated[str, BeforeValidator(_strip), AfterValidator(_uscc)]
Email = Annotated[str, BeforeValidator(_strip), AfterValidator(_email)]
Password = Annotated[str, AfterValidator(_password)]
