"""Generated certificates as a reader sees them: the page rendered to an image, its text read back.

The generic renderer prints a 交易鉴证 certificate from sample rows (what the other team will pass);
the 技术合同登记证明 of a registered contract downloads for its parties and the registrars of the
seller's region only, carries the number, title, parties, type and 技术交易额, and its printed link
checks the number publicly: genuine with the code shows the particulars, without it only that the
registration exists, an unknown number is refused, a re-issued certificate's old code no longer fits.
"""

from __future__ import annotations

import io
import re
import threading
import zlib
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import httpx
import pypdfium2 as pdfium
import pytest
from fastapi import FastAPI
from fontTools import cffLib, ttLib
from fpdf import FPDF
from PIL import Image

from contracts.documents import pdf as pdf_module
from contracts.documents.errors import PdfFontMissing
from contracts.documents.pdf import FONT_FAMILY, PdfFont, render_certificate
from core.db import Database
from core.settings import Settings
from tests.contracts.conftest import org_id, published_achievement
from tests.contracts.helpers import ENTERPRISE, INSTITUTE, headers_of, registered_contract, transfer_contract
from tests.prerequisites import require

FONT = Settings().pdf_font
API = "/api/v1/contracts"
URL = re.compile(r"https?://[\x21-\x7e]+")


@pytest.fixture(autouse=True)
def _font() -> None:
    require(FONT.is_file(), f"the CJK font {FONT} (Debian fonts-noto-cjk)")


def page_of(pdf: bytes) -> tuple[str, Image.Image]:
    """The first page's text and the page as a greyscale image at 72 dpi (1 px per point)."""
    document = pdfium.PdfDocument(pdf)
    page = document[0]
    text = page.get_textpage().get_text_range()
    image = page.render(scale=1).to_pil().convert("L")
    return text, image


def link_in(text: str) -> httpx.URL:
    """The verification link printed on the page (it may wrap over lines)."""
    found = URL.search(text.replace("\r\n", ""))
    assert found is not None, f"no link in {text!r}"
    return httpx.URL(found.group(0))


def dark_share(image: Image.Image, box: tuple[float, float, float, float]) -> float:
    """Share of clearly dark pixels inside a box given as fractions of the page (left, top, right, bottom)."""
    w, h = image.size
    region = image.crop((int(box[0] * w), int(box[1] * h), int(box[2] * w), int(box[3] * h)))
    histogram = region.histogram()
    return sum(histogram[:128]) / max(1, sum(histogram))


def test_a_sample_certificate_renders_its_title_rows_and_link() -> None:
    """交易鉴证证明 with sample data, as the 交易鉴证 records will pass it at the merge."""
    rows = [
        ("鉴证事项", "稀土永磁材料低重稀土制备技术专利权转让"),
        ("出让方", "演示稀土研究院"),
        ("受让方", "演示乳业科技有限公司"),
        ("成交价格", "1,234,567.89 元"),
        ("成交方式", "挂牌交易"),
        ("鉴证日期", "2026 年 12 月 6 日"),
    ]
    pdf = render_certificate(
        title="交易鉴证证明",
        number="JZ2026150200000017",
        rows=rows,
        verification_url="https://market.example.cn/api/v1/attestations/verify/JZ2026150200000017",
        font=PdfFont(FONT, 2),
        issuer="内蒙古自治区技术市场",
        issued_on=date(2026, 12, 6),
    )
    assert pdf.startswith(b"%PDF-")
    assert b"/CIDFontType0C" in pdf, "the CJK font is embedded (CFF subset), not referenced by name"
    assert len(pdf) < 200_000, "the font goes in as a subset, not the whole 19 MB collection"
    text, image = page_of(pdf)
    for expected in ("交易鉴证证明", "JZ2026150200000017", "1,234,567.89 元", "演示乳业科技有限公司", "挂牌交易"):
        assert expected in text, f"{expected} not read back from {text!r}"
    assert "market.example.cn/api/v1/attestations/verify/JZ2026150200000017" in text.replace("\r\n", "")
    assert "内蒙古自治区技术市场" in text and "2026 年 12 月 6 日" in text
    assert dark_share(image, (0.25, 0.10, 0.75, 0.17)) > 0.02, "the title is drawn at the top"
    assert dark_share(image, (0.10, 0.22, 0.90, 0.45)) > 0.02, "the rows are drawn below it"
    assert dark_share(image, (0.10, 0.82, 0.90, 0.88)) > 0.005, "the verification link is drawn at the foot"
    assert dark_share(image, (0.20, 0.62, 0.80, 0.78)) < 0.001, "the space between rows and foot stays blank"


def test_long_values_wrap_inside_the_frame() -> None:
    title = "一种" + "稀土永磁材料低重稀土晶界扩散制备方法" * 6
    pdf = render_certificate(
        title="交易鉴证证明",
        number="JZ1",
        rows=[("鉴证事项", title)],
        verification_url="https://x.cn/v",
        font=PdfFont(FONT, 2),
    )
    text, image = page_of(pdf)
    assert title in text.replace("\r\n", "").replace("\n", "")
    assert dark_share(image, (0.905, 0.15, 0.93, 0.85)) < 0.001, "nothing runs past the right margin"


def test_a_missing_or_unreadable_font_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(PdfFontMissing) as missing:
        PdfFont.from_settings(Settings(pdf_font=tmp_path / "none.ttc"))
    assert missing.value.status_code == 503 and "none.ttc" in (missing.value.detail or "")
    not_a_font = tmp_path / "fake.ttc"
    not_a_font.write_bytes(b"not a font at all")
    with pytest.raises(PdfFontMissing) as unreadable:
        render_certificate(title="证明", number="1", rows=[], verification_url="https://x.cn", font=PdfFont(not_a_font))
    assert "无法读取" in (unreadable.value.detail or "")

    def face(index: int) -> bytes:
        return render_certificate(
            title="证明", number="1", rows=[], verification_url="https://x.cn", font=PdfFont(FONT, index)
        )

    for _ in range(2):  # a face the collection lacks is refused each time, not remembered as parsed
        with pytest.raises(PdfFontMissing) as no_face:
            face(99)
        assert "无法读取" in (no_face.value.detail or "") and "第 99 个" in (no_face.value.detail or "")
    assert "证明" in page_of(face(2))[0]


# --- the font is parsed once per process; every certificate still carries its own text and glyphs -----

POEMS = ("春眠不觉晓处处闻啼鸟夜来风雨声花落知多少", "床前皓月光疑是地上霜举头望山低头思故乡")


def poem_certificate(poem: str) -> bytes:
    return render_certificate(
        title="交易鉴证证明",
        number="JZ1",
        rows=[("诗句", poem)],
        verification_url="https://x.cn/v",
        font=PdfFont(FONT, 2),
    )


def font_program(pdf: bytes) -> bytes:
    """The embedded font file (FontFile3: the CFF outlines of the subset), uncompressed."""
    ref = re.search(rb"/FontFile3 (\d+) 0 R", pdf)
    assert ref is not None, "a CFF font is embedded"
    stream = re.search(rb"\n" + ref.group(1) + rb" 0 obj\n<<(.*?)>>\nstream\n(.*?)\nendstream", pdf, re.S)
    assert stream is not None
    return zlib.decompress(stream.group(2)) if b"/FlateDecode" in stream.group(1) else stream.group(2)


def embedded_glyphs(pdf: bytes) -> set[str]:
    """Names of the glyphs in the embedded subset ('cid20321' ...), as in the full font."""
    cff = cffLib.CFFFontSet()
    cff.decompile(io.BytesIO(font_program(pdf)), None)
    return set(cff[cff.fontNames[0]].charset)


def glyphs_of(text: str) -> set[str]:
    face = ttLib.TTFont(FONT, fontNumber=2, lazy=True)
    try:
        cmap = face.getBestCmap()
        return {cmap[ord(char)] for char in text}
    finally:
        face.close()


def test_certificates_one_after_another_and_at_once_carry_only_their_own_text_and_glyphs(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert not set(POEMS[0]) & set(POEMS[1])
    glyphs = [glyphs_of(poem) for poem in POEMS]
    one_after_another = [(poem, poem_certificate(poem)) for poem in POEMS]

    monkeypatch.setattr(pdf_module, "_parsed", {})  # a fresh process: the first renders wait for one parse
    start = threading.Barrier(4)

    def at_once(poem: str) -> bytes:
        start.wait()
        return poem_certificate(poem)

    with ThreadPoolExecutor(4) as pool:
        order = [POEMS[0], POEMS[1], POEMS[0], POEMS[1]]
        at_the_same_time = list(zip(order, pool.map(at_once, order), strict=True))

    for poem, pdf in one_after_another + at_the_same_time:
        mine, other = POEMS.index(poem), 1 - POEMS.index(poem)
        text = page_of(pdf)[0].replace("\r\n", "")
        assert poem in text, f"{poem} not read back from {text!r}"
        assert not set(POEMS[other]) & set(text), f"the other certificate's text in {text!r}"
        embedded = embedded_glyphs(pdf)
        assert glyphs[mine] <= embedded, "the subset holds this certificate's characters"
        assert not glyphs[other] & embedded, "and none of the other's: each document subsets the font for itself"
        assert font_program(pdf) == font_program(one_after_another[mine][1]), "same text, same embedded subset"


def test_the_once_parsed_font_gives_the_pdf_fpdf_add_font_gives() -> None:
    """Pins the reuse of fpdf2's parsed font (internals, see ``_add_parsed_face``) against its public path."""
    text = "交易鉴证证明 稀土永磁材料 No. 17, 1,234.50 元 (ｆｕｌｌ-width) 𓀀 is not in the font"

    def document(load: Any) -> bytes:
        pdf = FPDF()
        pdf.set_creation_date(datetime(2026, 12, 6, tzinfo=UTC))
        load(pdf)
        pdf.add_page()
        pdf.set_font(FONT_FAMILY, size=12)
        pdf.multi_cell(0, 8, text)
        return bytes(pdf.output())

    via_fpdf = document(lambda pdf: pdf.add_font(FONT_FAMILY, "", str(FONT), collection_font_number=2))
    for _ in range(2):
        assert document(lambda pdf: pdf_module._load(pdf, PdfFont(FONT, 2))) == via_fpdf


# --- the 技术合同登记证明 through the API ------------------------------------------------------------


async def _registered(client: httpx.AsyncClient, database: Database, h: dict[str, dict[str, str]]) -> dict[str, Any]:
    body = transfer_contract(await published_achievement(database, INSTITUTE), await org_id(database, ENTERPRISE))
    return await registered_contract(client, h, body)


async def _certificate(client: httpx.AsyncClient, cid: int, headers: dict[str, str]) -> httpx.Response:
    return await client.get(f"{API}/{cid}/registration/certificate.pdf", headers=headers)


async def test_parties_and_registrars_download_the_certificate(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    contract = await _registered(client, database, h)
    cid, number = contract["id"], contract["registration_number"]
    for who in ("seller", "buyer", "region", "admin"):
        reply = await _certificate(client, cid, h[who])
        assert reply.status_code == 200, (who, reply.text)
        assert reply.headers["content-type"] == "application/pdf"
        assert f'filename="registration-{number}.pdf"' in reply.headers["content-disposition"]
    text, image = page_of(reply.content)
    for expected in (
        "技术合同登记证明",
        number,
        "稀土永磁材料制备技术专利权转让合同",
        "演示稀土研究院",
        "技术转让 (专利权转让)",
        "900,000.00 元",
        "包头市",
    ):
        assert expected in text, f"{expected} missing from {text!r}"
    assert dark_share(image, (0.25, 0.10, 0.75, 0.17)) > 0.02
    assert dark_share(image, (0.10, 0.22, 0.90, 0.45)) > 0.02

    other = await _certificate(client, cid, h["other"])
    assert other.status_code == 404, "another organization does not learn the contract exists"
    anonymous = await client.get(f"{API}/{cid}/registration/certificate.pdf")
    assert anonymous.status_code == 401


async def test_an_unregistered_contract_has_no_certificate(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    body = transfer_contract(await published_achievement(database, INSTITUTE), await org_id(database, ENTERPRISE))
    created = await client.post(API, json=body, headers=h["seller"])
    reply = await _certificate(client, created.json()["id"], h["seller"])
    assert reply.status_code == 409
    assert reply.json()["code"] == "contract_not_registered" and "尚未认定登记" in reply.json()["title"]


async def test_the_printed_link_verifies_the_certificate(client: httpx.AsyncClient, database: Database) -> None:
    h = await headers_of(client)
    contract = await _registered(client, database, h)
    cid, number = contract["id"], contract["registration_number"]
    text, _ = page_of((await _certificate(client, cid, h["seller"])).content)
    printed = link_in(text)
    assert str(printed).startswith(f"http://testserver/api/v1/registrations/verify/{number}?code=")

    checked = await client.get(printed.path, params=dict(printed.params))  # anyone, no login
    assert checked.status_code == 200, checked.text
    body = checked.json()
    assert body["genuine"] is True and body["certificate_current"] is True
    assert body["registration_number"] == number and body["registrar_region"] == "150200"
    assert body["registrar_region_name"] == "包头市" and body["type"] == "transfer"
    assert body["title"] == "稀土永磁材料制备技术专利权转让合同" and body["seller"] == "演示稀土研究院"
    assert body["technology_income"] == "900000.00"

    bare = (await client.get(printed.path)).json()
    assert bare["genuine"] is True and bare["certificate_current"] is None
    assert bare["title"] is None and bare["technology_income"] is None and bare["seller"] is None, (
        "the number alone, which runs in sequence, does not disclose the contract"
    )
    for bad in ("AAAAAAAAAAAA", "证明码"):
        wrong = (await client.get(printed.path, params={"code": bad})).json()
        assert wrong["certificate_current"] is False and wrong["title"] is None and "核验码不符" in wrong["verdict"]

    unknown = await client.get(f"/api/v1/registrations/verify/{number[:10]}999999")
    assert unknown.status_code == 404 and unknown.json()["code"] == "registration_unknown"
    assert "未找到该登记编号" in unknown.json()["title"]
    malformed = await client.get("/api/v1/registrations/verify/2026-15")
    assert malformed.status_code == 422

    corrected = await client.put(
        f"{API}/{cid}/registration/income",
        json={"technology_income": "850000.00", "reason": "核减设备费 5 万元"},
        headers=h["region"],
    )
    assert corrected.status_code == 200, corrected.text
    stale = (await client.get(printed.path, params=dict(printed.params))).json()
    assert stale["certificate_current"] is False and stale["revision"] == 1, "the re-issue voids the old code"
    text, _ = page_of((await _certificate(client, cid, h["buyer"])).content)
    assert "850,000.00 元" in text and "重新出具" in text
    fresh = link_in(text)
    assert (await client.get(fresh.path, params=dict(fresh.params))).json()["technology_income"] == "850000.00"


async def test_a_missing_font_answers_503_with_its_code(
    app: FastAPI, client: httpx.AsyncClient, database: Database, tmp_path: Path
) -> None:
    h = await headers_of(client)
    contract = await _registered(client, database, h)
    app.state.settings = app.state.settings.model_copy(update={"pdf_font": tmp_path / "gone.ttc"})
    reply = await _certificate(client, contract["id"], h["seller"])
    assert reply.status_code == 503
    assert reply.json()["code"] == "pdf_font_missing" and "TECHMARKET_PDF_FONT" in reply.json()["title"]
