"""The one search request: built by the endpoints (or matching), checked once here, and handed as it
is to the pipeline and every engine adapter.

Errors name the query parameter a caller sent (``query.field``), since that is what they can fix.
"""

from __future__ import annotations

import re
from typing import Any, Literal, Self

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from core import reference
from core.errors import FieldError, ValidationFailed
from core.problems import field_errors_from_pydantic
from search.documents import Maturity, OwnerKind
from search.errors import QueryTooLong
from search.text import MAX_QUERY_CHARS, QueryPlan, analyze_query

Sort = Literal["relevance", "newest", "price_asc", "price_desc"]
FacetName = Literal["field", "region", "maturity", "ip_type", "transaction_modes", "owner_kind"]
FACETS: tuple[FacetName, ...] = ("field", "region", "maturity", "ip_type", "transaction_modes", "owner_kind")
MAX_WINDOW = 1000  # deepest result reachable by paging (offset + limit), both engines
_CODE = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")


class SearchQuery(BaseModel):
    """What a caller may ask. Adapters still quote or bind every value: ``model_construct`` skips these checks."""

    model_config = ConfigDict(frozen=True)

    text: str = ""
    fields: list[str] = Field(default_factory=list, description="codes of core.reference.fields()")
    regions: list[str] = Field(
        default_factory=list,
        description="GB/T 2260; 150000 matches every 盟市 and 旗县 in it, 150200 every 旗县 of 包头",
    )
    maturity: list[Maturity] = Field(default_factory=list)
    trl_min: int | None = Field(default=None, ge=1, le=9)
    trl_max: int | None = Field(default=None, ge=1, le=9)
    transaction_modes: list[str] = Field(default_factory=list, description="any of")
    price_min_fen: int | None = Field(default=None, ge=0)
    price_max_fen: int | None = Field(default=None, ge=0)
    ip_types: list[str] = Field(default_factory=list)
    owner_kinds: list[OwnerKind] = Field(default_factory=list)
    sort: Sort = "relevance"
    offset: int = Field(default=0, ge=0)
    limit: int = Field(default=20, ge=1, le=100)
    facets: list[FacetName] = Field(default_factory=list)
    highlight: bool = Field(default=True, description="False skips snippets")
    related: bool = Field(
        default=True,
        description="a query matching fewer than 10 listings gets related ones after them (search.feedback)",
    )
    candidates_only: bool = Field(
        default=False,
        description="matching: the engine's candidates with their stored CANDIDATE_FIELDS, in engine order, "
        "without the BM25 re-rank, facets or snippets (matching ranks them itself); "
        "the words are taken as given, not expanded again",
    )
    term_weights: dict[str, float] = Field(
        default_factory=dict,
        description="candidates_only: how much each word of text matters (0-1], so an engine that merges "
        "per-word matches gives the strong words more of its candidates",
    )

    @field_validator("transaction_modes", "ip_types")
    @classmethod
    def _codes(cls, values: list[str]) -> list[str]:
        for value in values:
            if not _CODE.match(value):
                raise ValueError("代码格式无效")
        return values

    @model_validator(mode="after")
    def _known_and_ordered(self) -> Self:
        """Unknown codes and inverted ranges are reported together; the text's length only once they pass."""
        problems: list[FieldError] = []

        def refuse(name: str, code: str, message: str) -> None:
            problems.append(FieldError(field=f"query.{name}", code=code, message=message))

        known_fields, known_regions = reference.fields(), reference.regions()
        for code in self.fields:
            if code not in known_fields:
                refuse("field", "unknown_field", f"未知的技术领域代码 {code}")
        for code in self.regions:
            if code not in known_regions:
                refuse("region", "unknown_region", f"未知的行政区划代码 {code}")
        low, high = self.price_min_fen, self.price_max_fen
        if low is not None and high is not None and low > high:
            refuse("price_min", "range_inverted", "最低价不能高于最高价")
        if self.trl_min is not None and self.trl_max is not None and self.trl_min > self.trl_max:
            refuse("trl_min", "range_inverted", "最低技术就绪度不能高于最高值")
        if problems:
            raise ValidationFailed(errors=problems)  # a DomainError passes through pydantic untouched
        if len(self.text) > MAX_QUERY_CHARS:
            raise QueryTooLong(MAX_QUERY_CHARS)
        return self

    @classmethod
    def parse(cls, **values: Any) -> SearchQuery:
        """As the constructor, with pydantic's own refusals turned into the API's 422 field errors."""
        try:
            return cls(**values)
        except ValidationError as exc:
            raise ValidationFailed(errors=field_errors_from_pydantic([dict(e) for e in exc.errors()])) from exc

    @property
    def filtered(self) -> bool:
        """Whether any filter narrows the listings searched."""
        return bool(
            self.fields or self.regions or self.maturity or self.transaction_modes or self.ip_types or self.owner_kinds
        ) or any(v is not None for v in (self.trl_min, self.trl_max, self.price_min_fen, self.price_max_fen))

    @property
    def window(self) -> int:
        return min(self.offset + self.limit, MAX_WINDOW)

    def plan(self) -> QueryPlan:
        """The analysed text: expanded (synonyms, pinyin, sub-words), except matching's words."""
        return analyze_query(self.text, expand=not self.candidates_only)
