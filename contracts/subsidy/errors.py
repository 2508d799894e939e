"""Errors of budgets and post-transaction subsidy claims (status, stable code, Chinese message)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable


class BudgetNotConfigured(Conflict):
    code = "budget_not_configured"
    message = "该地区该年度的预算尚未下达"


class BudgetExceeded(Conflict):
    code = "budget_exceeded"
    message = "预算余额不足, 不能预留"


class BudgetReservationShort(Conflict):
    code = "budget_reservation_short"
    message = "预留金额不足, 不能释放或拨付"


class BudgetCutTooDeep(Conflict):
    code = "budget_cut_too_deep"
    message = "调减后的预算低于已预留和已拨付的金额"


class BudgetReferenceReused(Conflict):
    code = "budget_reference_reused"
    message = "同一业务编号已以不同金额记账"


class ClaimNotFound(NotFound):
    code = "subsidy_claim_not_found"
    message = "后补助申请不存在"


class NotTheApplicant(Forbidden):
    code = "not_the_applicant"
    message = "只有申请单位可以操作"


class NotTheReviewer(Forbidden):
    code = "not_the_reviewer"
    message = "只有申请单位所在盟市的管理员可以审核"


class PlatformAdminOnly(Forbidden):
    code = "platform_admin_only"
    message = "只有科技厅 (平台管理员) 可以批准或拨付"


class ClaimStateConflict(Conflict):
    code = "subsidy_claim_state"
    message = "后补助申请当前状态不允许此操作"


class ContractNotClaimable(Conflict):
    code = "contract_not_claimable"
    message = "合同不符合后补助条件"


class ContractAlreadyClaimed(Conflict):
    code = "contract_already_claimed"
    message = "合同已在其他后补助申请中申报, 每份合同只能申报一次"


class NoRuleInForce(Conflict):
    code = "subsidy_rule_not_in_force"
    message = "合同登记日没有适用的后补助政策"


class ApplicantYearCapReached(Conflict):
    code = "applicant_year_cap_reached"
    message = "超过申请单位本年度后补助上限"


class ApprovedAboveClaimed(Conflict):
    code = "approved_above_claimed"
    message = "核定金额不能超过申请金额"


class PayoutUnavailable(ServiceUnavailable):
    code = "payout_provider_unavailable"
    message = "支付服务暂时不可用, 拨付未完成, 请稍后重试"


class PayoutRejected(Conflict):
    code = "payout_provider_rejected"
    message = "支付服务拒绝了拨付请求"


class BudgetNotFound(NotFound):
    code = "subsidy_budget_not_found"
    message = "预算不存在"


class BudgetAdminsOnly(Forbidden):
    code = "budget_admins_only"
    message = "只有科技厅和盟市管理员可以查看预算"
