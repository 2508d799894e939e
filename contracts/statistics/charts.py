"""PNG and SVG charts with real Chinese glyphs (matplotlib, Agg, no pyplot state).

Without a CJK font matplotlib draws boxes, so the font is found explicitly: ``TECHMARKET_CJK_FONT``
(a font file) if set, else the first installed family from ``PREFERRED`` (fontconfig-installed fonts
such as Debian fonts-noto-cjk are in matplotlib's font list), else a scan of the usual font folders.
A candidate only counts if its character map covers the test characters. SVG text is written as
paths, so the browser needs no font of its own.
"""

from __future__ import annotations

import io
import os
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal
from functools import cache
from pathlib import Path
from typing import Any

import matplotlib

matplotlib.use("Agg")

from matplotlib import font_manager
from matplotlib.figure import Figure
from matplotlib.ft2font import FT2Font
from matplotlib.typing import RcKeyType

from contracts.statistics import errors

PREFERRED = (
    "Noto Sans CJK SC",
    "Noto Sans SC",
    "Source Han Sans SC",
    "Source Han Sans CN",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "Noto Sans CJK TC",
    "Noto Sans CJK JP",
    "Noto Serif CJK SC",
    "Droid Sans Fallback",
    "AR PL UMing CN",
    "SimHei",
    "Microsoft YaHei",
    "PingFang SC",
)
FONT_DIRS = (
    "/usr/share/fonts",
    "/usr/local/share/fonts",
    str(Path.home() / ".fonts"),
    str(Path.home() / ".local/share/fonts"),
)
PROBE = "技术合同成交额亿元内蒙古自治区年目标"
YI = Decimal(100_000_000)  # 1 亿元
_LOCK = threading.Lock()  # matplotlib's font cache and rcParams are not thread-safe


@dataclass(frozen=True)
class CjkFont:
    family: str
    path: str


def covers(path: str, text: str = PROBE) -> bool:
    """Whether the font file has a glyph for every character of ``text``."""
    try:
        font = FT2Font(path)
    except (OSError, RuntimeError, ValueError):
        return False
    return all(font.get_char_index(ord(char)) != 0 for char in text if not char.isspace())


@cache
def cjk_font() -> CjkFont | None:
    explicit = os.environ.get("TECHMARKET_CJK_FONT")
    if explicit and Path(explicit).is_file() and covers(explicit):
        font_manager.fontManager.addfont(explicit)
        return CjkFont(font_manager.FontProperties(fname=explicit).get_name(), explicit)
    installed: dict[str, str] = {}
    for entry in sorted(
        font_manager.fontManager.ttflist, key=lambda e: (e.weight not in (400, "normal", "regular"), e.fname)
    ):
        installed.setdefault(entry.name, entry.fname)  # regular weight first
    for family in PREFERRED:
        path = installed.get(family)
        if path and covers(path):
            return CjkFont(family, path)
    for folder in FONT_DIRS:
        if not Path(folder).is_dir():
            continue
        for candidate in sorted(Path(folder).rglob("*")):
            lowered = candidate.name.lower()
            if candidate.suffix.lower() in (".ttf", ".otf", ".ttc") and any(
                t in lowered for t in ("cjk", "wqy", "han", "hei", "song", "ming")
            ):
                if covers(str(candidate)):
                    font_manager.fontManager.addfont(str(candidate))
                    return CjkFont(font_manager.FontProperties(fname=str(candidate)).get_name(), str(candidate))
    return None


def require_font() -> CjkFont:
    font = cjk_font()
    if font is None:
        raise errors.ChartFontMissing()
    return font


@dataclass(frozen=True)
class YearPoint:
    year: int
    value: Decimal | None  # yuan
    partial: bool = False
    break_before: bool = False
    source: str = "platform"


def _figure(size: tuple[float, float]) -> Figure:
    return Figure(figsize=size, dpi=100, layout="constrained")


def _render(figure: Figure, fmt: str, family: str) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format=fmt, metadata={"Date": None} if fmt == "svg" else None)
    return buffer.getvalue()


def _fonts(family: str) -> dict[RcKeyType, Any]:
    return {"font.family": [family, "DejaVu Sans"], "svg.fonttype": "path", "axes.unicode_minus": False}


def turnover_chart(
    points: Sequence[YearPoint],
    targets: Sequence[tuple[int, Decimal]],
    *,
    title: str,
    fmt: str = "png",
    family: str | None = None,
) -> bytes:
    """Bars per year (亿元; platform solid, reference hatched, partial years light), target markers, 口径 breaks."""
    family = family or require_font().family
    with _LOCK, matplotlib.rc_context(_fonts(family)):
        return _render(turnover_figure(points, targets, title=title), fmt, family)


def turnover_figure(points: Sequence[YearPoint], targets: Sequence[tuple[int, Decimal]], *, title: str) -> Figure:
    """The turnover chart's figure (drawn under the caller's font settings)."""
    figure = _figure((8.0, 4.2))
    axes = figure.add_subplot()
    years = [p.year for p in points if p.value is not None]
    for point in points:
        if point.value is None:
            continue
        value = float(point.value / YI)  # drawing only; every figure shown as text comes from Decimal
        axes.bar(
            point.year,
            value,
            width=0.6,
            color="#9dc3e6" if point.partial else "#2e75b6",
            hatch="//" if point.source == "reference" else None,
            edgecolor="#1f4e79",
            label=None,
        )
        axes.annotate(
            f"{(point.value / YI).quantize(Decimal('0.01'))}",
            (point.year, value),
            ha="center",
            va="bottom",
            fontsize=8,
        )
        if point.break_before:
            axes.axvline(point.year - 0.5, color="#c00000", linestyle=":", linewidth=1)
            # In the gap between two bars, hanging from the top of the plot: never over a bar or its figure.
            axes.text(
                point.year - 0.5,
                0.98,
                "口径变化",
                transform=axes.get_xaxis_transform(),
                color="#c00000",
                fontsize=7,
                rotation=90,
                ha="center",
                va="top",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1},
                gid="break-label",
            )
    if targets:
        axes.scatter(
            [y for y, _ in targets],
            [float(v / YI) for _, v in targets],
            marker="_",
            s=900,
            color="#c55a11",
            linewidths=3,
            zorder=3,
            label="目标",
        )
        for year, target in targets:
            axes.annotate(
                f"目标 {(target / YI).quantize(Decimal('0.1'))}",
                (year, float(target / YI)),
                xytext=(0, 6),
                textcoords="offset points",
                ha="center",
                fontsize=8,
                color="#c55a11",
            )
        years += [y for y, _ in targets]
    if years:
        axes.set_xlim(min(years) - 0.8, max(years) + 0.8)
        axes.set_xticks(range(min(years), max(years) + 1))
        axes.tick_params(axis="x", labelrotation=45)
    axes.set_title(title, fontsize=13)
    axes.set_ylabel("亿元")
    axes.set_xlabel("年度 (斜线: 公开统计数据; 浅色: 本年累计)")
    axes.grid(axis="y", alpha=0.3)
    if targets:
        axes.legend(loc="upper left", fontsize=9)
    return figure


def breakdown_chart(
    rows: Sequence[tuple[str, Decimal]], *, title: str, fmt: str = "png", family: str | None = None
) -> bytes:
    """Horizontal bars (万元) for a categorical cut such as region or field."""
    family = family or require_font().family
    with _LOCK, matplotlib.rc_context(_fonts(family)):
        figure = _figure((8.0, max(2.4, 0.42 * len(rows) + 1.2)))
        axes = figure.add_subplot()
        labels = [label for label, _ in rows][::-1]
        values = [float(value / 10_000) for _, value in rows][::-1]
        bars = axes.barh(labels, values, color="#548235")
        for bar, (_, value) in zip(bars, list(rows)[::-1], strict=True):
            axes.annotate(
                f"{(value / 10_000).quantize(Decimal('0.01'))}",
                (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
                fontsize=8,
            )
        axes.set_title(title, fontsize=13)
        axes.set_xlabel("万元")
        axes.grid(axis="x", alpha=0.3)
        if not rows:
            axes.text(0.5, 0.5, "暂无数据", ha="center", va="center", transform=axes.transAxes, fontsize=12)
        return _render(figure, fmt, family)


MEDIA = {"png": "image/png", "svg": "image/svg+xml"}
