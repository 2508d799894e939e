"""A generic certificate as a one-page A4 PDF: title, number, labelled rows, issuer, verification link.

Any certificate the platform issues (技术合同登记证明, 交易鉴证证明 ...) is this layout with other
rows, so a caller passes what to print and gets the bytes back. The CJK font is embedded as a subset
(fpdf2 writes Noto CJK's CFF outlines as CIDFontType0C), so the file reads the same on any machine
and its text can be searched and copied. The face is parsed once per process (~0.3 s, on the first
render) and kept; every render still takes about 0.2 s, mostly fontTools cutting that document's subset
out of the CFF outlines: call it off the event loop (``render_certificate_async``).
"""

from __future__ import annotations

import copy
import logging
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import anyio.to_thread
import structlog
from fontTools import ttLib
from fpdf import FPDF
from fpdf.enums import Align, WrapMode, XPos, YPos
from fpdf.fonts import SubsetMap, TTFFont

from contracts.documents.errors import PdfFontMissing
from core.settings import Settings

log = structlog.get_logger("techmarket.documents")

FONT_FAMILY = "cjk"
PLATFORM = "科技成果网络交易平台"
PAGE_W, PAGE_H = 210.0, 297.0  # A4, mm
MARGIN = 22.0
LABEL_W = 36.0
LINE_H = 7.5
DARK = (20, 20, 20)
ACCENT = (150, 20, 20)  # the red of an official seal, for the frame and the title
GREY = (90, 90, 90)


@dataclass(frozen=True)
class PdfFont:
    """The embedded font: a .ttc/.otf/.ttf file and, for a collection, the face to use."""

    path: Path
    index: int = 0

    @classmethod
    def from_settings(cls, settings: Settings) -> PdfFont:
        font = cls(settings.pdf_font, settings.pdf_font_index)
        if not font.path.is_file():
            log.error("pdf_font_missing", path=str(font.path), setting="TECHMARKET_PDF_FONT")
            raise PdfFontMissing(detail=f"字体文件不存在: {font.path.name}")
        return font


SFNT_MAGIC = (b"ttcf", b"OTTO", b"\x00\x01\x00\x00", b"true")  # a collection, CFF, TrueType outlines
EMBEDDED_TABLES = frozenset({"CFF ", "head", "hhea", "maxp", "post"})  # of a document's own copy of the face

_parsed_lock = threading.Lock()
# (path, face) -> ((mtime, size) of the file when parsed, the parsed face or None when it cannot be shared)
_parsed: dict[tuple[Path, int], tuple[tuple[int, int], TTFFont | None]] = {}


def _load(pdf: FPDF, font: PdfFont) -> None:
    """Make FONT_FAMILY usable in ``pdf``: the face is parsed once per process, each document gets its own copy."""
    try:
        with font.path.open("rb") as file:
            header = file.read(12)
            stamp = os.fstat(file.fileno())
    except OSError as exc:
        raise PdfFontMissing(detail=f"字体文件无法读取: {font.path.name}") from exc
    magic = header[:4]
    if magic not in SFNT_MAGIC:  # checked first: fontTools leaves the file open when it fails
        log.error("pdf_font_unreadable", path=str(font.path), magic=magic.hex())
        raise PdfFontMissing(detail=f"字体文件无法读取: {font.path.name} (不是 TrueType/OpenType 字体)")
    faces = int.from_bytes(header[8:12], "big") if magic == b"ttcf" else None
    try:
        if faces is not None and font.index >= faces:  # fontTools would refuse it too, leaving the file open
            raise IndexError(f"face {font.index} of a collection of {faces}")
        parsed = _parsed_face(font, (stamp.st_mtime_ns, stamp.st_size))
        if parsed is None:
            pdf.add_font(FONT_FAMILY, "", str(font.path), collection_font_number=font.index)
        else:
            _add_parsed_face(pdf, parsed, font)
    except Exception as exc:  # fontTools raises many kinds on a file that is not a font, or a bad index
        log.error("pdf_font_unreadable", path=str(font.path), index=font.index, error=repr(exc))
        raise PdfFontMissing(detail=f"字体文件无法读取: {font.path.name} (第 {font.index} 个字形)") from exc


def _parsed_face(font: PdfFont, stamp: tuple[int, int]) -> TTFFont | None:
    """The face as fpdf2 parses it (~0.3 s for Noto CJK), once per process and file version; None if not shareable.

    A failure is not kept: the next render tries again (the font may have been installed meanwhile).
    """
    key = (font.path, font.index)
    with _parsed_lock:  # concurrent first renders wait for one parse rather than each doing it
        cached = _parsed.get(key)
        if cached is not None and cached[0] == stamp:
            return cached[1]
        scratch = FPDF()
        scratch.add_font(FONT_FAMILY, "", str(font.path), collection_font_number=font.index)
        face = scratch.fonts[FONT_FAMILY]
        assert isinstance(face, TTFFont)  # what add_font makes of a font file
        face.close()  # its fontTools font (an open file, ~30 MB of parsed tables) is not used again:
        del face.ttfont  # each document opens its own
        shareable = face.is_cff and face.is_cid_keyed and face.color_font is None  # Noto CJK, Source Han: yes
        _parsed[key] = (stamp, face if shareable else None)
        return _parsed[key][1]


def _add_parsed_face(pdf: FPDF, parsed: TTFFont, font: PdfFont) -> None:
    """Register ``parsed`` in ``pdf`` as ``FPDF.add_font`` would, with all the state a render changes its own.

    fpdf2 (2.8) has no public way to reuse a parsed font in another document, so this leans on TTFFont's
    internals, here only. Shared, as fpdf2's own ``TTFFont.__deepcopy__`` shares them: the metrics, names,
    ``cmap`` and ``glyph_ids`` (only read). Per document: ``cw`` (a defaultdict, grows on lookups), ``desc``
    (``output()`` gives it an object id and the font file), ``subset``, ``missing_glyphs``, the size record
    and the fontTools font, which ``output()`` subsets in place and closes. Of that font only the CFF table
    goes into the PDF (CIDFontType0C, widths come from ``cw``), so the cmap, metrics and layout tables of
    65k glyphs are dropped unread, sparing the subsetter their parse. Pinned by the tests in
    tests/contracts/test_certificates_pdf.py: the PDF is byte for byte what ``add_font`` gives.
    """
    own = copy.copy(parsed)
    own.i = len(pdf.fonts) + 1
    own.cw = copy.copy(parsed.cw)
    own.desc = copy.copy(parsed.desc)
    own.missing_glyphs = []
    own.biggest_size_pt = 0
    own._hbfont = None
    own.ttfont = ttLib.TTFont(font.path, recalcTimestamp=False, fontNumber=font.index, lazy=True)
    for tag in own.ttfont.keys():
        if tag not in EMBEDDED_TABLES and tag != "GlyphOrder":
            del own.ttfont[tag]
    own.subset = SubsetMap(own)
    pdf.fonts[own.fontkey] = own
    pdf.pdf_version = max(pdf.pdf_version, "1.6")  # as add_font does for a CID-keyed CFF font


def _frame(pdf: FPDF) -> None:
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(1.2)
    pdf.rect(10, 10, PAGE_W - 20, PAGE_H - 20)
    pdf.set_line_width(0.3)
    pdf.rect(13, 13, PAGE_W - 26, PAGE_H - 26)


def _rows(pdf: FPDF, rows: Sequence[tuple[str, str]]) -> None:
    value_w = PAGE_W - 2 * MARGIN - LABEL_W
    pdf.set_draw_color(200, 200, 200)
    pdf.set_line_width(0.2)
    for label, value in rows:
        top = pdf.get_y()
        pdf.set_text_color(*GREY)
        pdf.set_font(FONT_FAMILY, size=11)
        pdf.set_xy(MARGIN, top + 2)
        pdf.multi_cell(LABEL_W, LINE_H, label, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        label_bottom = pdf.get_y()
        pdf.set_text_color(*DARK)
        pdf.set_font(FONT_FAMILY, size=12)
        pdf.set_xy(MARGIN + LABEL_W, top + 2)
        pdf.multi_cell(value_w, LINE_H, value or "—", wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        bottom = max(pdf.get_y(), label_bottom) + 2
        pdf.line(MARGIN, bottom, PAGE_W - MARGIN, bottom)
        pdf.set_y(bottom)


def render_certificate(
    *,
    title: str,
    number: str,
    rows: Sequence[tuple[str, str]],
    verification_url: str,
    font: PdfFont,
    issuer: str | None = None,
    issued_on: date | None = None,
    note: str | None = None,
) -> bytes:
    """One certificate as PDF bytes.

    ``rows`` are (label, value) pairs printed in order (values wrap); ``issuer`` and ``issued_on`` sign
    it off at the foot; ``verification_url`` is printed in full and is a link, so a reader can check
    that the certificate is genuine; ``note`` is a line of small print above it.
    """
    logging.getLogger("fontTools").setLevel(logging.WARNING)  # it logs every subset glyph by glyph at INFO
    pdf = FPDF(orientation="portrait", unit="mm", format="A4")
    pdf.set_auto_page_break(auto=True, margin=40)
    pdf.set_margins(MARGIN, MARGIN, MARGIN)
    pdf.set_title(f"{title} {number}")
    pdf.set_subject(title)
    pdf.set_creator(PLATFORM)
    pdf.set_lang("zh-CN")
    _load(pdf, font)
    pdf.add_page()
    _frame(pdf)

    pdf.set_y(32)
    pdf.set_text_color(*ACCENT)
    pdf.set_font(FONT_FAMILY, size=26)
    pdf.cell(0, 14, title, align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(*DARK)
    pdf.set_font(FONT_FAMILY, size=12)
    pdf.cell(0, 9, f"编号: {number}", align=Align.C, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_draw_color(*ACCENT)
    pdf.set_line_width(0.6)
    pdf.line(MARGIN, pdf.get_y(), PAGE_W - MARGIN, pdf.get_y())
    pdf.ln(2)
    _rows(pdf, rows)

    if issuer or issued_on:
        pdf.ln(10)
        pdf.set_font(FONT_FAMILY, size=12)
        pdf.set_text_color(*DARK)
        for line in (issuer, f"{issued_on.year} 年 {issued_on.month} 月 {issued_on.day} 日" if issued_on else None):
            if line:
                pdf.multi_cell(
                    0, LINE_H, line, align=Align.R, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT
                )

    pdf.set_auto_page_break(auto=False)  # the foot sits inside the frame, below the break line
    if pdf.get_y() > PAGE_H - 60:  # rows ran long: the foot goes on a page of its own
        pdf.add_page()
        _frame(pdf)
    pdf.set_y(PAGE_H - 58)
    pdf.set_text_color(*GREY)
    pdf.set_font(FONT_FAMILY, size=9)
    if note:
        pdf.multi_cell(0, 5, note, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.multi_cell(0, 5, "真伪核验 (以核验页面显示的内容为准):", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.set_text_color(20, 60, 160)
    pdf.set_font(FONT_FAMILY, size=10)
    pdf.multi_cell(
        0, 5, verification_url, link=verification_url, wrapmode=WrapMode.CHAR, new_x=XPos.LMARGIN, new_y=YPos.NEXT
    )
    pdf.set_text_color(*GREY)
    pdf.set_font(FONT_FAMILY, size=8)
    pdf.set_y(PAGE_H - 24)
    pdf.cell(0, 5, f"本证明由{PLATFORM}生成", align=Align.C)
    return bytes(pdf.output())


async def render_certificate_async(
    *,
    title: str,
    number: str,
    rows: Sequence[tuple[str, str]],
    verification_url: str,
    font: PdfFont,
    issuer: str | None = None,
    issued_on: date | None = None,
    note: str | None = None,
) -> bytes:
    """``render_certificate`` in a worker thread: the font subsetting is CPU work the event loop should not wait on."""

    def render() -> bytes:
        return render_certificate(
            title=title,
            number=number,
            rows=rows,
            verification_url=verification_url,
            font=font,
            issuer=issuer,
            issued_on=issued_on,
            note=note,
        )

    return await anyio.to_thread.run_sync(render)
