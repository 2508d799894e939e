"""The dashboard as an office uses it: region and year selectors, export links that download with the
dashboard's own login, and a 口径变化 label that stays off the bars."""

from __future__ import annotations

import csv
import html
import io
import re
from datetime import UTC, datetime
from decimal import Decimal

import httpx
import matplotlib
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.patches import Rectangle
from openpyxl import load_workbook

from contracts.statistics.charts import YearPoint, _fonts, cjk_font, turnover_figure
from core.db import Database
from market.demo import DEMO_PASSWORD, PLATFORM_ADMIN_EMAIL, REGION_ADMIN
from tests.prerequisites import require
from tests.statistics.helpers import LAST_YEAR, contract_row, organizations


async def _browser_login(client: httpx.AsyncClient, email: str) -> None:
    reply = await client.post("/admin/login", data={"username": email, "password": DEMO_PASSWORD})
    assert reply.status_code == 303 and reply.headers["location"] == "/admin/dashboard"


async def test_dashboard_selectors_and_export_links_work_with_the_dashboard_login(
    client: httpx.AsyncClient, database: Database
) -> None:
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        session.add(
            contract_row(
                orgs,
                orgs.ids["演示稀土研究院"],
                orgs.ids["北京测试企业"],
                total_fen=123_456_78,
                registered_at=datetime(LAST_YEAR, 4, 1, 3, tzinfo=UTC),
                seq=41,
            )
        )
    client.headers.pop("Authorization", None)
    await _browser_login(client, PLATFORM_ADMIN_EMAIL)
    page = await client.get("/admin/dashboard", params={"region": "150200", "year": LAST_YEAR})
    assert page.status_code == 200
    body = page.text
    assert re.search(r'<select name="region">.*<option value="150200" selected>包头市</option>', body, re.S)
    assert f'<option value="{LAST_YEAR}" selected>' in body and '<option value="all">' in body
    assert "/api/v1/statistics/exports" not in body  # every link is served under /admin, where the cookie goes
    links = [html.unescape(h) for h in re.findall(r'href="(/admin/dashboard/exports/[^"]+)"', body)]
    assert len(links) == 5
    for link in links:
        reply = await client.get(link)
        assert reply.status_code == 200, (link, reply.text)
        assert "attachment" in reply.headers["content-disposition"] and "150200" in reply.headers["content-disposition"]
        if link.startswith("/admin/dashboard/exports/crosstab.xlsx") and "rows=region" in link and "buyer" not in link:
            sheet = load_workbook(io.BytesIO(reply.content)).active
            rows = [[c.value for c in r] for r in sheet.iter_rows()]
            assert rows[0][1] == "地区" and rows[-1][1] == "合计"
            assert Decimal(str(rows[-1][-1])) == Decimal("12.35")  # 123 456.78 元 = 12.35 万元
    registrations = await client.get(next(link for link in links if "registrations" in link))
    lines = list(csv.reader(io.StringIO(registrations.content.decode("utf-8-sig"))))
    assert any("123456.78" in line for line in lines)

    # Without the cookie: 401, never a file; a region admin gets their own 盟市 only.
    anonymous = httpx.AsyncClient(transport=client._transport, base_url=client.base_url)
    async with anonymous:
        assert (await anonymous.get(links[0])).status_code == 401
    client.cookies.clear()
    await _browser_login(client, REGION_ADMIN[0])
    assert (await client.get("/admin/dashboard/exports/crosstab.csv", params={"region": "150100"})).status_code == 403
    own = await client.get("/admin/dashboard/exports/crosstab.csv")
    assert own.status_code == 200 and "150200" in own.headers["content-disposition"]


def test_the_break_label_does_not_cover_a_bar() -> None:
    font = cjk_font()
    require(font, "no CJK font installed (scripts/test installs fonts-noto-cjk when run as root)")
    # The home province's real shape: 2018, then 2022 after a 口径 change, the platform's partial year,
    # targets up to 2028 (a wide span: narrow gaps between the bars).
    yi = Decimal(100_000_000)
    points = [
        YearPoint(2018, Decimal("236") * yi, source="reference"),
        YearPoint(2022, Decimal("52.49") * yi, source="reference", break_before=True),
        YearPoint(2023, Decimal("61.71") * yi, source="reference"),
        YearPoint(2026, Decimal("0.25") * yi, partial=True, break_before=True),
    ]
    targets = [(2020, 300 * yi), (2025, 100 * yi), (2028, 300 * yi)]
    with matplotlib.rc_context(_fonts(font.family)):  # type: ignore[arg-type]
        figure = turnover_figure(points, targets, title="内蒙古自治区技术合同成交额与目标")
        canvas = FigureCanvasAgg(figure)
        canvas.draw()
        renderer = canvas.get_renderer()
        axes = figure.axes[0]
        labels = [t for t in axes.texts if t.get_text() == "口径变化"]
        bars = [p for p in axes.patches if isinstance(p, Rectangle) and p.get_height() > 0]
        assert len(labels) == 2 and len(bars) == len(points)
        for label in labels:
            box = label.get_window_extent(renderer)
            for bar in bars:
                assert not box.overlaps(bar.get_window_extent(renderer)), (label.get_position(), bar.get_x())
            legend = axes.get_legend()
            for other in [*axes.texts, *(legend.get_texts() if legend else [])]:
                if other is not label:
                    assert not box.overlaps(other.get_window_extent(renderer)), other.get_text()


ASSET = re.compile(r'<(?:script|link|img)\b[^>]*?\b(?:src|href)="([^"]+)"', re.I)


async def test_docs_and_dashboard_load_nothing_from_another_host(client: httpx.AsyncClient) -> None:
    client.headers.pop("Authorization", None)
    await _browser_login(client, PLATFORM_ADMIN_EMAIL)
    for page in ("/docs", "/redoc", "/admin/dashboard", "/admin/login"):
        reply = await client.get(page)
        assert reply.status_code == 200 and reply.headers["content-type"].startswith("text/html"), page
        assets = [html.unescape(a) for a in ASSET.findall(reply.text)]
        if page in ("/docs", "/redoc"):
            assert any(a.endswith(".js") for a in assets), (page, assets)
            assert "validator.swagger.io" not in reply.text and "fonts.googleapis" not in reply.text
        for asset in assets:
            assert asset.startswith("/") and not asset.startswith("//"), (page, asset)  # same origin
            loaded = await client.get(asset)
            assert loaded.status_code == 200 and loaded.content, (page, asset, loaded.status_code)
    bundle = await client.get("/docs/assets/swagger-ui-bundle.js")
    assert bundle.headers["content-type"].startswith("text/javascript") and b"SwaggerUIBundle" in bundle.content
    assert (await client.get("/docs/assets/..%2Fcore.py")).status_code in (404, 422)
