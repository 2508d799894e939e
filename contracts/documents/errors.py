"""Errors of generated documents.

Hierarchy::

    ServiceUnavailable (503) PdfFontMissing
"""

from __future__ import annotations

from core.errors import ServiceUnavailable


class PdfFontMissing(ServiceUnavailable):
    code = "pdf_font_missing"
    message = "服务器缺少证书所用的中文字体, 无法生成 PDF (设置 TECHMARKET_PDF_FONT, 或安装 fonts-noto-cjk)"
