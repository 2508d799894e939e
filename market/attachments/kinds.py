"""Which files may be attached, told by their content (never their name), and how large each may be.

PDF (ISO 32000: ``%PDF-`` header), JPEG (``FF D8 FF``, ISO/IEC 10918-1), PNG (the 8-byte signature of
ISO/IEC 15948), DOCX and XLSX (ECMA-376 / ISO/IEC 29500 packages: a ZIP whose ``[Content_Types].xml``
declares the main part's content type at ``/word/document.xml`` or ``/xl/workbook.xml``).
OFD (GB/T 33190-2016) is not accepted: see README (no maintained Python reader checked in time).
"""

from __future__ import annotations

import zipfile
from dataclasses import dataclass
from pathlib import Path
from xml.etree import ElementTree

MB = 1024 * 1024
SNIFF_BYTES = 8  # enough for every signature below


@dataclass(frozen=True, slots=True)
class FileKind:
    code: str
    label: str  # Chinese name in messages
    media_type: str
    max_bytes: int


PDF = FileKind("pdf", "PDF", "application/pdf", 200 * MB)  # scanned evaluation reports run to hundreds of pages
JPEG = FileKind("jpeg", "JPEG 图片", "image/jpeg", 20 * MB)
PNG = FileKind("png", "PNG 图片", "image/png", 20 * MB)
DOCX = FileKind(
    "docx", "Word 文档 (DOCX)", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", 50 * MB
)
XLSX = FileKind(
    "xlsx", "Excel 表格 (XLSX)", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", 50 * MB
)
KINDS = (PDF, JPEG, PNG, DOCX, XLSX)
MAX_BYTES = max(kind.max_bytes for kind in KINDS)
ACCEPTED_ZH = "PDF、JPEG、PNG、DOCX、XLSX"

_ZIP = b"PK\x03\x04"
# The main part of each OOXML package: its name and the content type [Content_Types].xml must give it.
_OOXML_MAIN = {
    DOCX: ("/word/document.xml", "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"),
    XLSX: ("/xl/workbook.xml", "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"),
}
_CT_NS = "{http://schemas.openxmlformats.org/package/2006/content-types}"
_CT_MAX_BYTES = 256 * 1024


def sniff(head: bytes) -> FileKind | None:
    """The kind the first bytes announce (a ZIP is taken as DOCX until ``confirm`` reads the package)."""
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head.startswith(_ZIP):
        return DOCX  # provisional: the larger of the two OOXML limits is the same
    return None


def confirm(kind: FileKind, path: Path) -> FileKind | None:
    """The kind of the whole file: a ZIP must be an OOXML package with the right main part."""
    if kind not in _OOXML_MAIN:
        return kind
    try:
        with zipfile.ZipFile(path) as package:
            info = package.getinfo("[Content_Types].xml")
            if info.file_size > _CT_MAX_BYTES:
                return None
            with package.open(info) as handle:
                declared = handle.read(_CT_MAX_BYTES + 1)
            names = set(package.namelist())
    except (zipfile.BadZipFile, KeyError, OSError, RuntimeError, NotImplementedError):
        return None
    try:
        root = ElementTree.fromstring(declared)
    except ElementTree.ParseError:
        return None
    overrides = {
        element.get("PartName", ""): element.get("ContentType", "") for element in root.iter(f"{_CT_NS}Override")
    }
    for candidate, (part, content_type) in _OOXML_MAIN.items():
        if overrides.get(part) == content_type and part.lstrip("/") in names:
            return candidate
    return None
