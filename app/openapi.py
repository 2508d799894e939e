"""The OpenAPI document as generated clients read it: tags, operation ids, error media type."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.routing import APIRoute

from core.errors import PROBLEM_MEDIA_TYPE, Problem

# Every tag a route uses, in the order /docs shows them (tests check that none is missing).
TAGS: list[dict[str, str]] = [
    {"name": "auth", "description": "登录、当前用户与 API 密钥 · Login, the current user and API keys"},
    {"name": "organizations", "description": "单位注册、审核与成员 · Organizations: registration, review, members"},
    {"name": "admin", "description": "平台管理: 盟市管理员 · Platform administration: region admins"},
    {"name": "achievements", "description": "科技成果的发布与审核 · Scientific achievements: publish and review"},
    {"name": "demands", "description": "技术需求的发布与审核 · Technology demands: publish and review"},
    {"name": "imports", "description": "成果与需求的批量导入 · Bulk import of achievements and demands"},
    {"name": "reference", "description": "代码表与中文名称 · Code lists (regions, fields, enums) with Chinese labels"},
    {"name": "search", "description": "中文检索已发布的成果与需求 · Chinese search over published listings"},
    {"name": "matching", "description": "成果与需求的双向推荐及理由 · Matches between listings, with reasons"},
    {"name": "alerts", "description": "订阅、匹配提醒与 Webhook 推送 · Subscriptions, notifications, webhooks"},
    {
        "name": "notifications",
        "description": "我的通知: 洽谈留言、签署、登记结果、付款与收益分配 (站内、回调、邮件) · Per-user notifications",
    },
    {"name": "deals", "description": "交易意向与洽谈消息 · Deals and their messages"},
    {"name": "contracts", "description": "技术合同: 签订、认定登记、履行与完成 · Technology contracts"},
    {"name": "payments", "description": "里程碑付款、退款与支付回调 · Milestone payments, refunds, provider webhooks"},
    {"name": "rewards", "description": "职务成果收益分配 · Distribution of income to inventors"},
    {
        "name": "subsidies",
        "description": "技术交易后补助: 政策规则、预算台账、申请、审核、核定与拨付 · Post-transaction subsidies",
    },
    {
        "name": "vouchers",
        "description": "科技创新券: 服务机构目录、发放、领取、抵付付款节点、兑付 · Innovation vouchers",
    },
    {
        "name": "policy",
        "description": "政策资金报表: 按年度、盟市、工具的承诺与拨付, 杠杆率 · Policy support reports",
    },
    {"name": "attachments", "description": "附件下载 (短时签名链接) · Attachment downloads by signed link"},
    {
        "name": "auctions",
        "description": "成果拍卖: 保证金、出价、实时竞价流、成交与保证金台账 · Auctions, deposits, bids, live stream",
    },
    {
        "name": "pricing",
        "description": "定价方式、协议定价公示与异议、挂牌、成交公示、交易鉴证核验 · "
        "Pricing modes, agreed-price notices, listings, deal notices, certificates",
    },
    {"name": "statistics", "description": "技术合同统计、目标、导出与图表 · Contract statistics, targets, exports"},
    {"name": "ops", "description": "存活与就绪检查 · Liveness and readiness"},
]

_NOT_WORD = re.compile(r"[^a-z0-9]+")


def operation_id(route: APIRoute) -> str:
    """``{tag}_{function}``, e.g. ``achievements_submit_achievement``: readable, and stable while
    neither the first tag nor the function name changes."""
    tag = str(route.tags[0]) if route.tags else "api"
    return _NOT_WORD.sub("_", f"{tag}_{route.name}".lower()).strip("_")


def _problem_content(document: dict[str, Any]) -> None:
    """Every 4xx/5xx response is sent as problem+json: declare the Problem schema under that media
    type only (FastAPI puts a response ``model`` under application/json)."""
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    if "Problem" not in schemas:
        definition = Problem.model_json_schema(ref_template="#/components/schemas/{model}", mode="serialization")
        schemas.update(definition.pop("$defs", {}))
        schemas["Problem"] = definition
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            for status, response in operation.get("responses", {}).items():
                if str(status)[0] in "45":
                    response["content"] = {PROBLEM_MEDIA_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    for unused in ("HTTPValidationError", "ValidationError"):  # FastAPI's default 422, replaced above
        schemas.pop(unused, None)


def declare_problems(app: FastAPI) -> None:
    """Wrap ``app.openapi`` (after any other wrapper) so the finished document declares problem+json."""
    generate: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        document = generate()
        _problem_content(document)  # idempotent on the cached document
        return document

    app.openapi = openapi  # type: ignore[method-assign]
