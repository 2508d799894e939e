"""Errors of innovation vouchers (each carries its status, a stable code and a Chinese message)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound


class VoucherNotFound(NotFound):
    code = "voucher_not_found"
    message = "创新券不存在"


class VoucherIssuerOnly(Forbidden):
    code = "voucher_issuer_only"
    message = "只有平台管理员或企业所在盟市的管理员可以发放创新券、登记服务机构"


class VoucherHolderOnly(Forbidden):
    code = "voucher_holder_only"
    message = "只有持券企业可以领取或使用创新券"


class NotEligible(Conflict):
    code = "voucher_not_eligible"
    message = "该单位不符合创新券领用条件"


class VoucherLimitExceeded(Conflict):
    code = "voucher_limit_exceeded"
    message = "超出创新券面额或年度领用上限"


class VoucherNotHeld(Conflict):
    code = "voucher_not_held"
    message = "创新券尚未领取、已过期或余额不足"


class VoucherExpired(Conflict):
    code = "voucher_expired"
    message = "创新券已过有效期"


class ProviderNotListed(Conflict):
    code = "voucher_provider_not_listed"
    message = "合同的卖方不是该服务类别的创新券服务机构"


class CategoryNotAllowed(Conflict):
    code = "voucher_category_not_allowed"
    message = "该创新券不能用于这一类技术服务"


class SpendNotAllowed(Conflict):
    code = "voucher_spend_not_allowed"
    message = "该付款节点不能使用创新券"


class ProviderOnly(Forbidden):
    code = "voucher_provider_only"
    message = "只有已登记的创新券服务机构的管理员可以兑付"


class NothingToRedeem(Conflict):
    code = "voucher_nothing_to_redeem"
    message = "没有可兑付的创新券 (付款节点须已付清)"


class ReportAdminsOnly(Forbidden):
    code = "policy_report_admins_only"
    message = "只有平台管理员和盟市管理员可以查看政策资金报表"


class ReportOutOfScope(Forbidden):
    code = "policy_report_out_of_scope"
    message = "盟市管理员只能查看本盟市的政策资金报表"
