"""Bulk import of listings: validate every row, resolve owners, land good rows in batches.

Each batch is one transaction, so a crash leaves whole batches or nothing; rows are keyed by
``external_id`` (or, without one, by a digest of owner and title), so a re-run skips what landed.
Headers and coded cells may be API names and codes or their Chinese labels (``import_columns``).
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, Field, ValidationError
from sqlalchemy import insert, or_, select
from sqlmodel import col

from core import reference
from core.audit import AuditEntry, audit_row
from core.characters import field_errors, find_invalid
from core.db import Database
from core.outbox import OutboxEvent
from core.problems import field_errors_from_pydantic
from core.types import utcnow
from core.visibility import Classified, Org
from market.identity.models import Organization, OrganizationKind, OrganizationStatus
from market.identity.service import Principal
from market.listings.files import RawRow
from market.listings.import_columns import columns_for
from market.listings.kinds import ListingKind
from market.listings.models import ListingStatus
from market.listings.repository import ListingRepository
from market.listings.service import SEARCH_TOPIC

OWNER_FIELDS = ("owner", "owner_uscc", "owner_kind")


class RowError(Classified):
    line: Org[int]
    field: Org[str]
    code: Org[str]
    message: Org[str]
    label: Org[str] = Field(default="", description="字段的中文列名")


class ImportReport(Classified):
    """The importer's own report (the endpoint names the importer as its subject)."""

    kind: Org[str]
    total: Org[int] = 0
    created: Org[int] = 0
    skipped_existing: Org[int] = 0
    organizations_created: Org[int] = 0
    failed_rows: Org[int] = Field(default=0, description="有错误的行数 (一行可有多条错误)")
    status: Org[str] = Field(default="draft", description="新增的行的状态: draft, submitted 或 published")
    errors: Org[list[RowError]] = []


@dataclass
class ValidRow:
    line: int
    data: BaseModel
    owner_name: str | None
    owner_uscc: str | None
    owner_kind: str | None
    key: str = ""
    owner_id: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)


class Importer:
    """Lands rows for the organizations the actor may act for, and only verified ones.

    ``actor`` None is the operator's CLI, who may act for any organization. Organizations an import
    creates are pending unless ``verify_organizations`` (platform admins and the operator only; the
    operator's CLI always creates them verified); rows of a pending or suspended owner are refused
    row by row, so rows of an organization created pending land on a re-run once it is verified.
    An organization's admin imports only its own rows, as drafts or submitted for review.

    ``originals`` keeps each row as read (its own headers), for the report a clerk fixes and re-uploads.
    """

    def __init__(self, database: Database, kind: ListingKind, *, actor: Principal | None = None) -> None:
        self.database = database
        self.kind = kind
        self.actor = actor  # None: the operator's CLI
        self.columns = columns_for(kind)
        self.originals: dict[int, dict[str, Any] | None] = {}

    async def run(
        self,
        rows: Iterable[RawRow],
        *,
        publish: bool = False,
        submit: bool = False,
        create_organizations: bool = False,
        verify_organizations: bool = False,
        batch_size: int = 1000,
        progress: Callable[[int], None] | None = None,
    ) -> ImportReport:
        """``publish`` lands rows published (admins: migrating a registry); ``submit`` lands them submitted
        for review; else drafts."""
        if verify_organizations and self.actor is not None:
            self.actor.require_platform_admin()
        status = ListingStatus.published if publish else ListingStatus.submitted if submit else ListingStatus.draft
        report = ImportReport(kind=self.kind.name, status=status.value)
        valid = self._validate(rows, report)
        verified = verify_organizations or self.actor is None
        await self._resolve_owners(valid, report, create=create_organizations, verified=verified)
        valid = [row for row in valid if row.owner_id is not None]
        for start in range(0, len(valid), batch_size):
            batch = valid[start : start + batch_size]
            await self._land(batch, report, status=status)
            if progress:
                progress(len(batch))
        report.errors.sort(key=lambda e: e.line)
        for error in report.errors:
            error.label = error.label or self.columns.label_of(error.field)
        report.failed_rows = len({e.line for e in report.errors})
        return report

    def _validate(self, rows: Iterable[RawRow], report: ImportReport) -> list[ValidRow]:
        valid: list[ValidRow] = []
        seen: set[str] = set()
        for raw in rows:
            report.total += 1
            self.originals[raw.line] = raw.values
            if raw.values is None:
                report.errors.append(
                    RowError(line=raw.line, field="", code="unreadable_row", message=raw.error or "无法读取")
                )
                continue
            # Empty cells mean "not given": let the schema's defaults apply (null price = 面议).
            values = self.columns.to_api(raw.values)
            if invalid := field_errors(find_invalid(values, "")):  # the API's rule for control characters, per row
                report.errors.extend(
                    RowError(line=raw.line, field=e.field, code=e.code, message=e.message) for e in invalid
                )
                continue
            owner = {name: _text(values.pop(name, None)) for name in OWNER_FIELDS}
            for ignored in ("id", "status", "owner_id", "owner_name"):
                values.pop(ignored, None)
            try:
                data = self.kind.create_schema.model_validate(values)
            except ValidationError as exc:
                for error in field_errors_from_pydantic([dict(e) for e in exc.errors()]):
                    message = error.message
                    if error.code == "extra_forbidden" and "." not in error.field:
                        message = f"不认识的列 “{error.field}”: 请删除该列, 或改用导入模板中的列名"
                    report.errors.append(RowError(line=raw.line, field=error.field, code=error.code, message=message))
                continue
            own = self.actor.organization if self.actor is not None else None
            if not owner["owner"] and not owner["owner_uscc"] and own is not None:
                owner["owner"], owner["owner_uscc"] = own.name, own.uscc  # an institute's own catalogue
            if not owner["owner"] and not owner["owner_uscc"]:
                report.errors.append(
                    RowError(
                        line=raw.line,
                        field="owner",
                        code="owner_missing",
                        message="须填写发布单位名称或统一社会信用代码",
                    )
                )
                continue
            uscc = (owner["owner_uscc"] or "").upper() or None
            if uscc is not None and not reference.uscc_is_valid(uscc):
                message = f"统一社会信用代码 {uscc} 无效 (须为 18 位, 校验位符合 GB 32100-2015)"
                report.errors.append(RowError(line=raw.line, field="owner_uscc", code="invalid_uscc", message=message))
                continue
            row = ValidRow(raw.line, data, owner["owner"], uscc, owner["owner_kind"])
            row.key = getattr(data, "external_id", None) or _digest_key(
                self.kind.name, row.owner_uscc or row.owner_name or "", data
            )
            if row.key in seen:
                report.errors.append(
                    RowError(line=raw.line, field="external_id", code="duplicate_in_file", message="文件中重复的行")
                )
                continue
            seen.add(row.key)
            valid.append(row)
        return valid

    async def _resolve_owners(
        self, rows: list[ValidRow], report: ImportReport, *, create: bool, verified: bool
    ) -> None:
        """Owners by USCC, else by name; missing ones created when asked; a row is kept only if its actor
        may act for the owner."""
        names = {r.owner_name for r in rows if r.owner_name}
        codes = {r.owner_uscc for r in rows if r.owner_uscc}
        status = OrganizationStatus.verified if verified else OrganizationStatus.pending
        async with self.database.unit_of_work() as session:
            known: dict[str, Organization] = {}
            for chunk in _chunks(sorted(names | codes), 500):
                found = await session.execute(
                    select(Organization).where(
                        or_(col(Organization.name).in_(chunk), col(Organization.uscc).in_(chunk))
                    )
                )
                for match in found.scalars():
                    known[match.name] = match
                    if match.uscc:
                        known[match.uscc] = match
            for row in rows:
                organization = known.get(row.owner_uscc or "") or known.get(row.owner_name or "")
                created = organization is None
                if organization is None and self.actor is not None and self.actor.organization is not None:
                    message = self._outside_scope(row.owner_name or row.owner_uscc or "", created=True)
                    report.errors.append(RowError(line=row.line, field="owner", code="outside_scope", message=message))
                    continue
                if organization is None:
                    problem = self._cannot_create(row, create)
                    if problem:
                        report.errors.append(
                            RowError(line=row.line, field="owner", code=problem[0], message=problem[1])
                        )
                        continue
                    assert row.owner_kind is not None  # _cannot_create refuses a row without a valid one
                    organization = Organization(
                        name=row.owner_name or "",
                        uscc=row.owner_uscc,
                        kind=OrganizationKind(row.owner_kind),
                        region=getattr(row.data, "region", None) or self._default_region,
                        status=status,
                        verified_at=utcnow() if verified else None,
                    )
                    if self.actor is not None and not self.actor.may_act_for(organization):
                        report.errors.append(
                            RowError(
                                line=row.line,
                                field="owner",
                                code="outside_scope",
                                message=self._outside_scope(organization.name, created=True),
                            )
                        )
                        continue
                    session.add(organization)
                    await session.flush()
                    known[organization.name] = organization
                    if organization.uscc:
                        known[organization.uscc] = organization
                    report.organizations_created += 1
                    session.add(
                        audit_row(
                            "organization",
                            organization.id or 0,
                            "create_by_import",
                            actor_user_id=self._actor_id,
                            to_status=status.value,
                        )
                    )
                refusal = self._refusal(organization, created=created)
                if refusal:
                    report.errors.append(RowError(line=row.line, field="owner", code=refusal[0], message=refusal[1]))
                    continue
                row.owner_id = organization.id

    def _refusal(self, organization: Organization, *, created: bool) -> tuple[str, str] | None:
        """Why a row may not be attached to ``organization`` by this actor, if it may not."""
        if self.actor is not None and not self.actor.may_act_for(organization):
            return "outside_scope", self._outside_scope(organization.name, created=False)
        if organization.status == OrganizationStatus.suspended:
            return "owner_suspended", f"发布单位 {organization.name} 已被暂停"
        if organization.status != OrganizationStatus.verified:
            note = "已新建, " if created else ""
            return "owner_not_verified", f"发布单位 {organization.name} 尚未通过审核 ({note}审核通过后重新导入即可)"
        return None

    def _outside_scope(self, name: str, *, created: bool) -> str:
        if self.actor is not None and self.actor.organization is not None:
            own = self.actor.organization.name
            return f"单位管理员只能导入本单位 ({own}) 的{self.kind.label_zh}, 不能代表或新建 {name}"
        if created:
            return f"不能在您管辖的地区以外新建单位 {name}"
        return f"您不能代表发布单位 {name} 导入 (不在您管辖的地区)"

    @property
    def _default_region(self) -> str:
        """A created organization's region when the row gives none: the region admin's 盟市, else the province."""
        scope = self.actor.region_scope if self.actor is not None else None
        return scope or reference.HOME_PROVINCE

    def _cannot_create(self, row: ValidRow, create: bool) -> tuple[str, str] | None:
        if not create:
            return (
                "owner_not_found",
                f"发布单位 {row.owner_name or row.owner_uscc} 不存在 (请核对单位全称, 或由管理员选择创建缺失的单位)",
            )
        if not row.owner_name:
            return "owner_not_found", "按统一社会信用代码找不到单位, 创建新单位还需要单位名称"
        if row.owner_kind not in OrganizationKind.__members__:
            kinds = "、".join(item.label for item in reference.code_list("organization_kinds"))
            return "owner_kind_invalid", f"创建新单位需要单位类型: {kinds}"
        return None

    @property
    def _actor_id(self) -> int | None:
        return self.actor.user.id if self.actor else None

    async def _land(self, batch: list[ValidRow], report: ImportReport, *, status: ListingStatus) -> None:
        kind, now = self.kind, utcnow()
        publish = status == ListingStatus.published
        async with self.database.unit_of_work() as session:
            repository = ListingRepository(session)
            existing = await repository.existing_external_ids(kind.model, [r.key for r in batch])
            fresh = [r for r in batch if r.key not in existing]
            report.skipped_existing += len(batch) - len(fresh)
            values = [
                {
                    **kind.to_columns(r.data),
                    "external_id": r.key,
                    "region": getattr(r.data, "region", None) or reference.HOME_PROVINCE,
                    "owner_id": r.owner_id,
                    "status": status,
                    "created_by": self._actor_id,
                    "created_at": now,
                    "updated_at": now,
                    "published_at": now if publish else None,
                }
                for r in fresh
            ]
            ids = await repository.insert_many(kind.model, values)
            if not ids:
                return
            audits: list[dict[str, Any]] = [
                {
                    "entity_type": kind.name,
                    "entity_id": i,
                    "action": "import",
                    "actor_user_id": self._actor_id,
                    "to_status": status.value,
                    "changes": {},
                    "created_at": now,
                }
                for i in ids
            ]
            await session.execute(insert(AuditEntry), audits)
            if publish:
                events = [
                    {
                        "topic": SEARCH_TOPIC,
                        "key": f"{kind.name}:{i}",
                        "payload": {"kind": kind.name, "id": i},
                        "created_at": now,
                        "available_at": now,
                        "attempts": 0,
                    }
                    for i in ids
                ]
                await session.execute(insert(OutboxEvent), events)
            report.created += len(ids)


def _text(value: Any) -> str | None:
    return str(value).strip() or None if value is not None else None


def _digest_key(kind: str, owner: str, data: BaseModel) -> str:
    digest = hashlib.sha256(f"{kind}|{owner}|{getattr(data, 'title', '')}".encode()).hexdigest()[:24]
    return f"sha256:{digest}"


def _chunks(items: list[str], size: int) -> Iterable[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]
