"""登记证明: the certificate of a registered contract as PDF, and the public check of a registration number.

The certificate carries the registration number, the contract's title, parties and type, the
技术交易额 the registrar determined, the date, the registrar's 盟市 and a link to the public check.
The link holds a check code, an HMAC of the number and the certificate's revision under the service's
secret: the number alone shows that a registration exists (date, region, type), the code also shows
the particulars printed on the certificate, so a reader can compare them; numbers run in sequence and
could be tried one by one, the code cannot. A registrar's correction re-issues the certificate
(``registration_revision``): the old certificate's code then no longer matches.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date
from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from contracts import errors
from contracts.contract.models import Contract
from contracts.contract.registration_repository import RegistrationRepository
from contracts.contract.registration_schemas import RegistrationVerification
from contracts.contract.service import CHINA, ContractService
from contracts.documents.pdf import PdfFont, render_certificate_async
from core.money import fen_to_yuan
from core.reference import label_of, prefecture_of, regions
from core.settings import Settings
from market.identity.service import Principal

TITLE = "技术合同登记证明"
VERIFY_PATH = "/api/v1/registrations/verify"
CODE_LENGTH = 12


def check_code(secret: str, number: str, revision: int) -> str:
    """12 base32 characters (60 bits): enough that guessing is hopeless, short enough to type."""
    mac = hmac.new(secret.encode(), f"registration-certificate:{number}:{revision}".encode(), hashlib.sha256)
    return base64.b32encode(mac.digest()).decode()[:CODE_LENGTH]


def yuan_text(fen: int) -> str:
    """1234567.89 元 as the certificate prints it: 1,234,567.89 元."""
    return f"{fen_to_yuan(fen):,.2f} 元"


def _registrar_region(contract: Contract) -> tuple[str, str]:
    """The registrar's 盟市: the seller's region rolled up to its prefecture (a province stays itself)."""
    code = prefecture_of(contract.seller_region) or contract.seller_region
    region = regions().get(code)
    return code, region.name_zh if region is not None else code


def _registered_on(contract: Contract) -> date:
    assert contract.registered_at is not None
    return contract.registered_at.astimezone(CHINA).date()


def _type_text(contract: Contract) -> str:
    kind = label_of("contract_types", contract.type.value) or contract.type.value
    sub = label_of("contract_subtypes", contract.subtype.value) or contract.subtype.value
    return f"{kind} ({sub})"


class CertificateService:
    def __init__(self, session: AsyncSession, settings: Settings) -> None:
        self.session = session
        self.settings = settings
        self.repository = RegistrationRepository(session)

    def verification_url(self, base_url: str, contract: Contract) -> str:
        number = contract.registration_number or ""
        base = (self.settings.public_url or base_url).rstrip("/")
        code = check_code(self.settings.secret_key, number, contract.registration_revision)
        return f"{base}{VERIFY_PATH}/{quote(number)}?code={code}"

    async def certificate(self, principal: Principal, contract_id: int, base_url: str) -> tuple[str, bytes]:
        """The PDF for the contract's parties and the registrars of the seller's region: (number, bytes)."""
        contract = await ContractService(self.session).get(principal, contract_id)
        parties = (contract.seller_org_id, contract.buyer_org_id)
        if not any(principal.belongs_to(p) for p in parties) and not principal.governs_region(contract.seller_region):
            raise errors.CertificateNotEntitled()
        if contract.registered_at is None or contract.registration_number is None:
            raise errors.NotRegistered(current=contract.status.value)
        font = PdfFont.from_settings(self.settings)
        names = await self.repository.organization_names(*parties)
        _, region_name = _registrar_region(contract)
        registered_on = _registered_on(contract)
        rows = [
            ("合同名称", contract.title),
            ("卖方", names.get(contract.seller_org_id, "")),
            ("买方", names.get(contract.buyer_org_id, "")),
            ("合同类型", _type_text(contract)),
            ("技术交易额", yuan_text(contract.technology_income_fen)),
            ("登记日期", f"{registered_on.year} 年 {registered_on.month} 月 {registered_on.day} 日"),
            ("登记机构所在地", region_name),
        ]
        if contract.registration_revision:
            rows.append(("出具版次", f"经更正后第 {contract.registration_revision} 次重新出具, 此前出具的证明作废"))
        pdf = await render_certificate_async(
            title=TITLE,
            number=contract.registration_number,
            rows=rows,
            verification_url=self.verification_url(base_url, contract),
            font=font,
            issuer=f"{region_name}技术合同登记机构",
            issued_on=registered_on,
            note="技术交易额为登记机构核定的技术性收入 (不含设备、材料等非技术性款项)。",
        )
        return contract.registration_number, pdf

    async def verify(self, number: str, code: str | None) -> RegistrationVerification:
        """Anyone may check a number; the certificate's code also shows what it printed."""
        contract = await self.repository.registered(number)
        if contract is None or contract.registered_at is None:
            raise errors.RegistrationUnknown()
        region, region_name = _registrar_region(contract)
        expected = check_code(self.settings.secret_key, number, contract.registration_revision)
        current = None if code is None else hmac.compare_digest(code.strip().upper().encode(), expected.encode())
        verification = RegistrationVerification(
            registration_number=number,
            genuine=True,
            verdict="登记编号真实有效"
            if current is None
            else "登记编号真实有效, 证明为现行版本, 所载内容如下"
            if current
            else "登记编号真实有效, 但核验码不符: 证明可能已被更正后重新出具的证明取代, 或核验码有误",
            registered_on=_registered_on(contract),
            registrar_region=region,
            registrar_region_name=region_name,
            type=contract.type,
            subtype=contract.subtype,
            revision=contract.registration_revision,
            certificate_current=current,
        )
        if current:
            names = await self.repository.organization_names(contract.seller_org_id, contract.buyer_org_id)
            verification.title = contract.title
            verification.seller = names.get(contract.seller_org_id)
            verification.buyer = names.get(contract.buyer_org_id)
            verification.technology_income = fen_to_yuan(contract.technology_income_fen)
        return verification
