"""交易鉴证 as PDF: what the platform certified when a contract completed, for its parties to hand on.

The printed link is the public check with the terms digest: a reader who opens it learns that the
number is genuine and that the digest on paper is the one the platform holds, without the terms.
Who may download it is who may download the 登记证明: the parties and the admins of the seller's region.
"""

from __future__ import annotations

from urllib.parse import quote

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.contract.registration_certificate import yuan_text
from contracts.contract.service import ContractService
from contracts.documents.pdf import PLATFORM, PdfFont, render_certificate_async
from contracts.pricing import errors
from contracts.pricing.models import DEAL_MODE_ZH, TransactionCertificate
from contracts.pricing.repository import PricingRepository
from core.settings import Settings
from market.identity.service import Principal

TITLE = "科技成果交易鉴证"
CHECK_PATH = "/api/v1/certificates"


def verification_url(settings: Settings, base_url: str, certificate: TransactionCertificate) -> str:
    """The public check of the number, with the digest: the reader's browser shows ``digest_matches``."""
    base = (settings.public_url or base_url).rstrip("/")
    return f"{base}{CHECK_PATH}/{quote(certificate.number)}?digest={certificate.terms_digest}"


async def certificate_pdf(
    session: AsyncSession, settings: Settings, principal: Principal, contract_id: int, base_url: str
) -> tuple[str, bytes]:
    """(number, PDF bytes); 404 for who cannot see the contract, 403 for viewers who are not entitled."""
    contract = await ContractService(session).get(principal, contract_id)
    parties = (contract.seller_org_id, contract.buyer_org_id)
    if not any(principal.belongs_to(p) for p in parties) and not principal.governs_region(contract.seller_region):
        raise errors.CertificatePdfNotEntitled()
    repository = PricingRepository(session)
    certificate = await repository.certificate_of_contract(contract.id or 0)
    if certificate is None:
        raise errors.CertificateNotIssued()
    font = PdfFont.from_settings(settings)
    names = await repository.organization_names(*parties)
    titles = await repository.achievement_titles(contract.id or 0)
    issued = certificate.issued_on
    rows = [
        ("合同名称", contract.title),
        ("转让方 (卖方)", names.get(contract.seller_org_id, "")),
        ("受让方 (买方)", names.get(contract.buyer_org_id, "")),
        ("交易标的", "; ".join(titles) or "—"),
        ("定价方式", DEAL_MODE_ZH[certificate.mode]),
        ("成交价格", yuan_text(contract.total_fen)),
        ("鉴证日期", f"{issued.year} 年 {issued.month} 月 {issued.day} 日"),
        ("条款摘要", certificate.terms_digest),
    ]
    pdf = await render_certificate_async(
        title=TITLE,
        number=certificate.number,
        rows=rows,
        verification_url=verification_url(settings, base_url, certificate),
        font=font,
        issuer=PLATFORM,
        issued_on=issued,
        note="条款摘要为双方签署的合同条款规范形式的 SHA-256; 核验链接可查验编号真伪及摘要是否一致, 不显示合同条款。",
    )
    return certificate.number, pdf
