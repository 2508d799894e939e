"""Charts carry real Chinese glyphs; the admin dashboard works in headless Debian chromium."""

from __future__ import annotations

import asyncio
import shutil
import socket
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from matplotlib.ft2font import FT2Font
from PIL import Image, ImageChops, ImageStat

from contracts.statistics import charts
from contracts.statistics.endpoints import turnover_image
from contracts.statistics.schemas import Metric
from contracts.statistics.service import StatisticsService
from core.db import Database
from market.demo import PLATFORM_ADMIN_EMAIL
from tests.fixtures.app import login
from tests.prerequisites import needs
from tests.statistics.helpers import LAST_YEAR, contract_row, organizations

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
TITLE_CHARS = "内蒙古自治区技术合同成交额与目标亿元年度"


def test_the_chart_font_has_every_glyph() -> None:
    font = charts.cjk_font()
    assert font is not None, "no CJK font: install fonts-noto-cjk (scripts/test does so as root)"
    face = FT2Font(font.path)
    assert all(face.get_char_index(ord(ch)) for ch in TITLE_CHARS)
    dejavu = FT2Font(str(Path(charts.matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"))
    assert not any(dejavu.get_char_index(ord(ch)) for ch in TITLE_CHARS)  # what matplotlib falls back to


async def test_png_and_svg_charts_through_the_api(client: httpx.AsyncClient) -> None:
    admin = await login(client, PLATFORM_ADMIN_EMAIL)
    png = await client.get("/api/v1/statistics/charts/turnover.png", headers=admin)
    assert (
        png.status_code == 200
        and png.headers["content-type"] == "image/png"
        and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    )
    svg = await client.get("/api/v1/statistics/charts/breakdown.svg", params={"by": "field"}, headers=admin)
    assert (
        svg.headers["content-type"].startswith("image/svg+xml") and b"<svg" in svg.content and b"<path" in svg.content
    )
    assert (await client.get("/api/v1/statistics/charts/turnover.gif", headers=admin)).status_code == 422
    assert (await client.get("/api/v1/statistics/charts/turnover.png")).status_code == 401


def _free_socket() -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    return sock


@asynccontextmanager
async def _serve(app: FastAPI) -> AsyncIterator[str]:
    sock = _free_socket()
    server = uvicorn.Server(uvicorn.Config(app, lifespan="off", log_level="warning", access_log=False))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.01)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        server.should_exit = True
        await task


async def _chromium(profile: Path, *args: str) -> bytes:
    process = await asyncio.create_subprocess_exec(
        CHROMIUM or "chromium",
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--hide-scrollbars",
        f"--user-data-dir={profile}",
        *args,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, _ = await asyncio.wait_for(process.communicate(), timeout=60)
    return out


def _difference(a: Image.Image, b: Image.Image) -> float:
    return float(sum(ImageStat.Stat(ImageChops.difference(a.convert("L"), b.convert("L"))).mean))


@needs(CHROMIUM, "Debian chromium is not installed (scripts/test installs it when run as root)")
@pytest.mark.parametrize("dialect", ["sqlite"], indirect=True)  # one browser run is enough
async def test_dashboard_in_headless_chromium(
    app: FastAPI, client: httpx.AsyncClient, database: Database, dialect: str, tmp_path: Path
) -> None:
    orgs = await organizations(database)
    async with database.unit_of_work() as session:
        session.add(
            contract_row(
                orgs,
                orgs.ids["演示稀土研究院"],
                orgs.ids["北京测试企业"],
                total_fen=2_500_000_000_00,
                registered_at=datetime(LAST_YEAR, 4, 1, tzinfo=UTC),
                seq=31,
            )
        )
    token = (await login(client, PLATFORM_ADMIN_EMAIL))["Authorization"].removeprefix("Bearer ")
    api_targets = (await client.get("/api/v1/statistics/targets", headers={"Authorization": f"Bearer {token}"})).json()[
        "items"
    ]
    progress_2028 = next(t for t in api_targets if t["target_year"] == 2028 and t["region"] == "150000")["progress"][
        "progress"
    ]

    async with _serve(app) as base:
        async with httpx.AsyncClient(base_url=base) as http:  # without a login the browser is sent to the form
            reply = await http.get("/admin/dashboard")
            assert reply.status_code == 303 and reply.headers["location"] == "/admin/login"
            form = await http.post(
                "/admin/login", data={"username": PLATFORM_ADMIN_EMAIL, "password": "wrong-password-1"}
            )
            assert form.status_code == 303 and "error" in form.headers["location"]

        dom = (
            await _chromium(
                tmp_path / "p1", "--dump-dom", "--virtual-time-budget=10000", f"{base}/admin/dashboard?token={token}"
            )
        ).decode()
        assert "目标完成情况" in dom and "目标进度" in dom
        assert f"{progress_2028}%" in dom  # the 2028 target's progress, as the API computes it
        assert 'data-charts-loaded="3"' in dom, "the browser did not decode all three charts"

        shot = tmp_path / "dashboard.png"
        await _chromium(
            tmp_path / "p2",
            f"--screenshot={shot}",
            "--window-size=1280,2200",
            "--virtual-time-budget=10000",
            f"{base}/admin/dashboard?token={token}",
        )
        assert shot.exists() and Image.open(shot).convert("L").getextrema() != (255, 255)

        # The chart as the browser shows it, against the same chart drawn with the CJK font missing.
        served = tmp_path / "served.png"
        await _chromium(
            tmp_path / "p3",
            f"--screenshot={served}",
            "--window-size=800,420",
            f"{base}/admin/dashboard/charts/turnover.png?token={token}",
        )
    async with database.unit_of_work() as session:
        real = await turnover_image(StatisticsService(session), "150000", Metric.contract_turnover, "png")
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            tofu = charts.turnover_chart(
                *await _chart_inputs(session), title="内蒙古自治区技术合同成交额与目标", family="DejaVu Sans"
            )
    assert any("missing from font" in str(w.message) for w in caught)  # matplotlib itself says it drew boxes
    (tmp_path / "tofu.png").write_bytes(tofu)
    (tmp_path / "real.png").write_bytes(real)
    tofu_shot, real_shot = tmp_path / "tofu-shot.png", tmp_path / "real-shot.png"
    for source, target, profile in ((tmp_path / "tofu.png", tofu_shot, "p4"), (tmp_path / "real.png", real_shot, "p5")):
        await _chromium(tmp_path / profile, f"--screenshot={target}", "--window-size=800,420", source.as_uri())
    title = (0, 0, 800, 40)  # the title strip: only text there
    served_title = Image.open(served).crop(title)
    assert _difference(served_title, Image.open(real_shot).crop(title)) < 1.0  # the browser shows the server's glyphs …
    assert _difference(served_title, Image.open(tofu_shot).crop(title)) > 3.0  # … which are not the font-missing boxes
    assert ImageStat.Stat(served_title.convert("L")).extrema[0][0] < 100  # and there is dark ink in the title


async def _chart_inputs(session: Any) -> tuple[list[charts.YearPoint], list[tuple[int, Any]]]:
    from core.money import fen_to_yuan

    service = StatisticsService(session)
    data = await service.series("150000", Metric.contract_turnover)
    points = [
        charts.YearPoint(p.year, p.value, p.partial, p.break_before, p.source)
        for p in data.items
        if p.period == str(p.year)
    ]
    targets = [
        (t.target_year, fen_to_yuan(t.target_value_fen))
        for t in await service.repository.targets("15")
        if t.region == "150000" and t.metric == "contract_turnover"
    ]
    return points, targets
