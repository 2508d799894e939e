"""Server-rendered admin dashboard at /admin/dashboard: target progress, this year's figures, charts.

How a browser authenticates: the login form at /admin/login posts e-mail and password and receives
the access token as an HttpOnly, SameSite=Strict cookie scoped to /admin (Secure in production).
A client that already holds a bearer token (API, scripts, tests) may open
``/admin/dashboard?token=…`` once: the token is checked, set as the same cookie, and the browser is
redirected to the URL without it (so it does not linger in history; Referrer-Policy: no-referrer).
The cookie lives as long as the token (TECHMARKET_ACCESS_TOKEN_MINUTES).
"""

from __future__ import annotations

from decimal import Decimal
from html import escape
from typing import Annotated, Literal
from urllib.parse import urlencode

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from contracts.statistics.dimensions import ALL_REGIONS, By, Side, china_today, region_name
from contracts.statistics.endpoints import (
    aggregates_download,
    breakdown_image,
    crosstab_download,
    registrations_download,
    turnover_image,
)
from contracts.statistics.schemas import AggregateRead, CrossBy, CrossMeasure, ExportFormat, Metric, TargetRead, Unit
from contracts.statistics.service import MIN_YEAR, StatisticsService, parse_period, resolve_scope
from core.deps import SessionDep, SettingsDep
from core.errors import DomainError, TooManyRequests
from core.reference import HOME_PROVINCE, regions
from market.identity.deps import IdentityServiceDep
from market.identity.login import LoginServiceDep
from market.identity.service import Principal

router = APIRouter(prefix="/admin", include_in_schema=False)
COOKIE = "techmarket_admin"
HEADERS = {"Referrer-Policy": "no-referrer", "Cache-Control": "no-store", "X-Frame-Options": "DENY"}
YI = Decimal(100_000_000)

STYLE = """
body{font-family:"Noto Sans CJK SC","Noto Sans SC","Microsoft YaHei",sans-serif;margin:0;background:#f4f6f9;color:#222}
header{background:#1f4e79;color:#fff;padding:12px 24px;display:flex;justify-content:space-between;align-items:center}
main{padding:16px 24px;max-width:1200px;margin:auto} h2{font-size:18px;border-left:4px solid #2e75b6;padding-left:8px}
.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{background:#fff;border-radius:6px;padding:12px 16px;min-width:260px;flex:1;box-shadow:0 1px 3px #0002}
.bar{background:#e4e9f0;border-radius:4px;height:14px;overflow:hidden}.bar>span{display:block;height:100%;background:#2e75b6}
.met{color:#38761d}.missed,.behind{color:#c00000}.on_track{color:#2e75b6}.no_data,.unknown{color:#777}
table{border-collapse:collapse;background:#fff;width:100%;margin-bottom:12px}
th,td{border:1px solid #d0d7e2;padding:4px 8px;text-align:right}
th:first-child,td:first-child{text-align:left}th{background:#ddebf7}img{max-width:100%;background:#fff;border-radius:6px}
.charts{display:grid;grid-template-columns:1fr 1fr;gap:12px}.charts .wide{grid-column:1/3}form.inline{display:inline}
label{display:block;margin:8px 0}input{padding:6px;width:260px}.error{color:#c00000}
"""


def _page(title: str, body: str, status_code: int = 200) -> HTMLResponse:
    html = (
        f'<!doctype html><html lang="zh-CN"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f"<style>{STYLE}</style></head><body>{body}</body></html>"
    )
    return HTMLResponse(html, status_code=status_code, headers=HEADERS)


def _yuan(value: Decimal | None) -> str:
    return "—" if value is None else f"{value:,.2f}"


def _yi(value: Decimal | None) -> str:
    return "—" if value is None else f"{(value / YI).quantize(Decimal('0.01')):,} 亿元"


def _pct(value: Decimal | None) -> str:
    return "—" if value is None else f"{value}%"


def _set_cookie(response: Response, token: str, minutes: int, secure: bool) -> None:
    response.set_cookie(
        COOKIE, token, max_age=minutes * 60, httponly=True, samesite="strict", secure=secure, path="/admin"
    )


async def _principal(request: Request, identity: IdentityServiceDep) -> Principal | None:
    token = request.cookies.get(COOKIE)
    if not token:
        return None
    try:
        return await identity.principal_from_token(token)
    except DomainError:
        return None


async def _token_handoff(
    request: Request, identity: IdentityServiceDep, token: str, minutes: int, secure: bool
) -> Response:
    """Checks a bearer token given once in the URL, stores it as the cookie, redirects to the URL without it."""
    try:
        await identity.principal_from_token(token)
    except DomainError:
        return _login_redirect()
    query = urlencode({k: v for k, v in request.query_params.items() if k != "token"})
    response = RedirectResponse(request.url.path + (f"?{query}" if query else ""), status_code=303, headers=HEADERS)
    _set_cookie(response, token, minutes, secure)
    return response


def _login_redirect() -> RedirectResponse:
    return RedirectResponse("/admin/login", status_code=303, headers=HEADERS)


@router.get("/login")
async def login_form(error: str | None = None) -> HTMLResponse:
    return _login_page(error)


def _login_page(error: str | None, status_code: int = 200) -> HTMLResponse:
    message = f'<p class="error">{escape(error)}</p>' if error else ""
    return _page(
        "登录 · 技术市场统计",
        f"""
<header><strong>科技成果网络交易平台 · 管理后台</strong></header><main><h2>管理员登录</h2>{message}
<form method="post" action="/admin/login"><label>邮箱 <input name="username" type="email" required
autocomplete="username"></label>
<label>密码 <input name="password" type="password" required autocomplete="current-password"></label><button
type="submit">登录</button></form></main>""",
        status_code,
    )


@router.post("/login")
async def login(
    username: Annotated[str, Form()], password: Annotated[str, Form()], logins: LoginServiceDep, settings: SettingsDep
) -> Response:
    """The same throttled login as the API; a throttled attempt gets the form back as a 429 with Retry-After."""
    try:
        token = await logins.login(username, password)
    except TooManyRequests as exc:
        page = _login_page(f"{exc.title} ({exc.detail})", status_code=exc.status_code)
        page.headers["Retry-After"] = str(exc.retry_after)
        return page
    except DomainError as exc:
        return RedirectResponse("/admin/login?" + urlencode({"error": exc.title}), status_code=303, headers=HEADERS)
    response = RedirectResponse("/admin/dashboard", status_code=303, headers=HEADERS)
    _set_cookie(response, token, settings.access_token_minutes, settings.env == "production")
    return response


@router.post("/logout")
async def logout() -> Response:
    response = _login_redirect()
    response.delete_cookie(COOKIE, path="/admin")
    return response


def _target_card(target: TargetRead) -> str:
    p = target.progress
    width = min(Decimal(100), max(Decimal(0), p.progress or Decimal(0)))
    actual = "—" if p.actual is None else f"{_yi(p.actual)} ({p.actual_year}{' 年累计' if p.actual_partial else ' 年'})"
    return f"""<div class="card target" data-target-id="{target.id}">
<h3>{target.target_year} 年 {escape(target.metric_label)}目标 {_yi(target.target_value)}</h3>
<div class="bar"><span style="width:{width}%"></span></div>
<p>目标进度 <strong class="progress">{_pct(p.progress)}</strong> · 实际 {actual} · 差距 {_yi(p.gap)}</p>
<p>最近完整年度 {p.latest_full_year or "—"}: {_yi(p.latest_full_year_value)}, 同比 {_pct(p.yoy_growth)}</p>
<p>所需年均增长 {_pct(p.required_cagr)} · 按近期增速预测 {_yi(p.projection)}</p>
<p class="{p.status.value}">状态: <strong>{escape(p.status_label)}</strong></p>
<p style="font-size:12px;color:#777">{escape(target.source_note)}</p></div>"""


def _table(result: AggregateRead, caption: str) -> str:
    rows = "".join(
        f"<tr><td>{escape(r.label)}</td><td>{r.contracts}</td><td>{_yuan(r.turnover)}</td><td>{_yuan(r.technology_income)}</td></tr>"
        for r in [*result.items, result.overall]
    )
    return (
        f"<table><caption>{escape(caption)}</caption><tr><th>{escape(result.side_label)}</th><th>合同数</th>"
        f"<th>合同成交额 (元)</th><th>技术交易额 (元)</th></tr>{rows}</table>"
    )


_EXPORTS = (
    ("aggregates.xlsx?by=region", "地区统计 (XLSX)"),
    ("crosstab.xlsx?rows=type&amp;columns=field&amp;unit=wan", "合同类型 × 技术领域 (万元, XLSX)"),
    ("crosstab.xlsx?rows=region&amp;columns=type&amp;unit=wan", "盟市 × 合同类型 · 输出 (万元, XLSX)"),
    ("crosstab.xlsx?rows=region&amp;columns=type&amp;side=buyer&amp;unit=wan", "盟市 × 合同类型 · 吸纳 (万元, XLSX)"),
    ("registrations.csv", "合同登记表 (CSV)"),
)


def _selectors(principal: Principal, scope: str, year: int) -> str:
    """A GET form: the region (what the caller governs) and the year the page shows."""
    if principal.is_platform_admin:
        codes = [
            HOME_PROVINCE,
            *(c for c, r in regions().items() if r.is_prefecture and c.startswith("15")),
            ALL_REGIONS,
        ]
    else:
        codes = [principal.region_scope or scope]
    if scope not in codes:
        codes.insert(0, scope)
    region_options = "".join(
        f'<option value="{escape(c)}"{" selected" if c == scope else ""}>'
        f"{escape('全部地区' if c == ALL_REGIONS else region_name(c))}</option>"
        for c in codes
    )
    this_year = china_today().year
    year_options = "".join(
        f'<option value="{y}"{" selected" if y == year else ""}>{y} 年</option>'
        for y in range(this_year, max(MIN_YEAR, this_year - 9) - 1, -1)
    )
    return (
        '<form id="selectors" method="get" action="/admin/dashboard">'
        f'<label style="display:inline">地区 <select name="region">{region_options}</select></label> '
        f'<label style="display:inline">年度 <select name="year">{year_options}</select></label> '
        '<button type="submit">查看</button></form>'
    )


@router.get("/dashboard")
async def dashboard(
    request: Request,
    session: SessionDep,
    identity: IdentityServiceDep,
    settings: SettingsDep,
    token: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    year: Annotated[int | None, Query()] = None,
) -> Response:
    if token:
        return await _token_handoff(
            request, identity, token, settings.access_token_minutes, settings.env == "production"
        )
    principal = await _principal(request, identity)
    if principal is None:
        return _login_redirect()
    try:
        scope = resolve_scope(principal, region)
        period = parse_period(year=year or china_today().year)
    except DomainError as exc:
        return _page(
            "无权访问", f"<main><h2>{escape(exc.title)}</h2><p>{escape(exc.detail or '')}</p></main>", exc.status_code
        )
    service = StatisticsService(session)
    targets = [t for t in await service.list_targets(principal, scope) if t.region == scope]
    seller = await service.aggregate(scope, By.flow, Side.seller, period)
    buyer = await service.aggregate(scope, By.flow, Side.buyer, period)
    fields = await service.aggregate(scope, By.type, Side.seller, period)
    query = urlencode({"region": scope, "year": period.start // 100})
    links = " · ".join(
        f'<a href="/admin/dashboard/exports/{path}{"&amp;" if "?" in path else "?"}{escape(query)}">{text}</a>'
        for path, text in _EXPORTS
    )
    cards = "".join(_target_card(t) for t in targets) or "<p>本地区尚未设置目标。</p>"
    place = region_name(scope) if scope != "all" else "全部地区"
    body = f"""
<header><strong>科技成果网络交易平台 · 技术市场统计 · {escape(place)}</strong>
<span>{escape(principal.user.full_name)} <form class="inline" method="post"
action="/admin/logout"><button>退出</button></form></span></header>
<main>
{_selectors(principal, scope, period.start // 100)}
<h2>目标完成情况</h2><div class="cards" id="targets">{cards}</div>
<h2>{period.start // 100} 年认定登记 (截至 {period.end_text})</h2>
<div class="cards"><div class="card">{_table(seller, "输出 · 流向")}</div>
<div class="card">{_table(buyer, "吸纳 · 流向")}</div></div>
{_table(fields, "输出 · 按合同类型")}
<p id="exports">{links}</p>
<h2>图表</h2><div class="charts">
<img class="wide" id="chart-turnover" alt="成交额年度图" src="/admin/dashboard/charts/turnover.svg?{escape(query)}">
<img id="chart-region" alt="按地区" src="/admin/dashboard/charts/region.png?{escape(query)}">
<img id="chart-field" alt="按技术领域" src="/admin/dashboard/charts/field.png?{escape(query)}">
</div></main>
<script>
// Marks how many charts the browser actually decoded (checked by the headless-browser test).
window.addEventListener("load", () => {{
  const ok = [...document.querySelectorAll(".charts img")].filter(i => i.complete && i.naturalWidth > 0).length;
  document.body.dataset.chartsLoaded = String(ok);
}});
</script>"""
    return _page("技术市场统计", body)


@router.get("/dashboard/charts/{name}.{fmt}")
async def dashboard_chart(
    name: Literal["turnover", "region", "field"],
    fmt: Literal["png", "svg"],
    request: Request,
    session: SessionDep,
    identity: IdentityServiceDep,
    settings: SettingsDep,
    token: Annotated[str | None, Query()] = None,
    region: Annotated[str | None, Query()] = None,
    year: Annotated[int | None, Query()] = None,
) -> Response:
    if token:
        return await _token_handoff(
            request, identity, token, settings.access_token_minutes, settings.env == "production"
        )
    principal = await _principal(request, identity)
    if principal is None:
        return Response(status_code=401, headers=HEADERS)
    try:
        scope = resolve_scope(principal, region)
        service = StatisticsService(session)
        if name == "turnover":
            image = await turnover_image(service, scope, Metric.contract_turnover, fmt)
        else:
            period = parse_period(year=year or china_today().year)
            image = await breakdown_image(service, scope, By(name), Side.seller, period, fmt)
    except DomainError as exc:
        return Response(exc.title, status_code=exc.status_code, media_type="text/plain; charset=utf-8", headers=HEADERS)
    return Response(
        image, media_type="image/png" if fmt == "png" else "image/svg+xml", headers={"Cache-Control": "no-store"}
    )


@router.get("/dashboard/exports/{kind}.{fmt}")
async def dashboard_export(
    kind: Literal["aggregates", "crosstab", "registrations"],
    fmt: ExportFormat,
    request: Request,
    session: SessionDep,
    identity: IdentityServiceDep,
    region: Annotated[str | None, Query()] = None,
    year: Annotated[int | None, Query()] = None,
    by: Annotated[By, Query()] = By.region,
    rows: Annotated[CrossBy, Query()] = CrossBy.type,
    columns: Annotated[CrossBy, Query()] = CrossBy.field,
    measure: Annotated[CrossMeasure, Query()] = CrossMeasure.turnover,
    side: Annotated[Side, Query()] = Side.seller,
    unit: Annotated[Unit, Query()] = Unit.yuan,
) -> Response:
    """The statistics exports for the dashboard's own cookie (path /admin): the same files as
    /api/v1/statistics/exports/…, for the same callers. A GET that changes nothing; the SameSite=Strict
    cookie is not sent from other sites."""
    principal = await _principal(request, identity)
    if principal is None:
        return Response(status_code=401, headers=HEADERS)
    try:
        scope = resolve_scope(principal, region)
        period = parse_period(year=year or china_today().year)
        if kind == "aggregates":
            response: Response = await aggregates_download(
                StatisticsService(session), scope, by, side, period, fmt, unit
            )
        elif kind == "crosstab":
            response = await crosstab_download(session, scope, rows, columns, measure, side, period, fmt, unit)
        else:
            response = registrations_download(request, scope, side, period, fmt, unit)
    except DomainError as exc:
        return Response(exc.title, status_code=exc.status_code, media_type="text/plain; charset=utf-8", headers=HEADERS)
    response.headers.update(HEADERS)
    return response
