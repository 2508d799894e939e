"""What each announced event tells people, in Chinese, and whom it concerns.

An event names whom it concerns: organizations (``data.organization_ids``, every active user of
them), single users (``data.user_ids``, a linked inventor told their own amount) or a seller region
(``data.registrar_region``, whoever may act on its registration queue). Events of a type not listed
here are consumed and tell nobody.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Message:
    title: str
    body: str


def _reason(data: dict[str, Any]) -> str:
    return f" 意见: {data['reason']}" if data.get("reason") else ""


def _signature(data: dict[str, Any]) -> Message:
    if data.get("complete"):
        return Message(
            f"合同已签订: {data['title']}", f"双方均已签署合同《{data['title']}》, 合同已签订, 可按里程碑付款。"
        )
    return Message(
        f"对方已签署合同: {data['title']}",
        f"{data.get('signer') or '对方'}已签署合同《{data['title']}》, 请核对条款后签署。",
    )


COMPOSE: dict[str, Callable[[dict[str, Any]], Message]] = {
    "contract.registration_requested": lambda d: Message(
        f"新的技术合同登记申请: {d['title']}",
        f"{d.get('seller') or '卖方'}提交了合同《{d['title']}》的认定登记申请, 请在登记审核队列中处理。",
    ),
    "contract.registration_resubmitted": lambda d: Message(
        f"技术合同登记申请已重新提交: {d['title']}",
        f"{d.get('seller') or '卖方'}重新提交了合同《{d['title']}》的认定登记申请 (第 {d.get('round') or 1} 轮), "
        "请在登记审核队列中处理。",
    ),
    "contract.registration_returned": lambda d: Message(
        f"技术合同登记申请被退回补正: {d['title']}",
        f"登记机构退回了合同《{d['title']}》的认定登记申请 (第 {d.get('round') or 1} 轮), 请按意见补正后重新提交。"
        + _reason(d),
    ),
    "contract.registration_refused": lambda d: Message(
        f"技术合同不予登记: {d['title']}",
        f"登记机构决定对合同《{d['title']}》不予登记。合同仍然有效, 但不计入技术合同成交统计。" + _reason(d),
    ),
    "contract.registered": lambda d: Message(
        f"技术合同已登记: {d['title']}",
        f"合同《{d['title']}》已完成认定登记, 登记编号 {d.get('registration_number') or '—'}。",
    ),
    "deal.message": lambda d: Message(
        f"意向洽谈有新留言: {d['title']}", f"{d.get('author') or '对方'}留言: {d.get('excerpt') or ''}"
    ),
    "contract.signature": _signature,
    "contract.payment_succeeded": lambda d: Message(
        f"合同款项已到账: {d['title']}",
        f"合同《{d['title']}》的里程碑「{d.get('milestone') or ''}」已付款 {d['amount']} 元。",
    ),
    "contract.distribution": lambda d: Message(
        f"成果转化收益已分配: {d['title']}",
        f"合同《{d['title']}》本次收入 {d['gross']} 元, 扣除 {d['deductions']} 元后净收入 {d['net']} 元, "
        f"其中 {d['team']} 元奖励完成人团队。",
    ),
    "contract.distribution_credited": lambda d: Message(
        f"您获得成果转化收益奖励: {d['title']}",
        f"合同《{d['title']}》本次收入分配中, 您作为完成人「{d.get('name') or ''}」获得奖励 {d['amount']} 元。",
    ),
    "pricing.objection_filed": lambda d: Message(
        f"协议定价公示收到异议: {d['title']}",
        f"成果《{d['title']}》的协议定价公示 (拟交易价格 {d['price']} 元) 收到异议, 请答复; "
        f"异议答复前不能签订合同。异议理由: {d.get('excerpt') or ''}",
    ),
    "pricing.objection_answered": lambda d: Message(
        f"您的异议已获答复: {d['title']}",
        f"成果《{d['title']}》的协议定价公示单位答复了您的异议: {d.get('excerpt') or ''}",
    ),
}


def compose(event_type: str, data: dict[str, Any]) -> Message | None:
    make = COMPOSE.get(event_type)
    return None if make is None else make(data)
