"""Errors of deals, contracts, payments and rewards (each carries its status, code and Chinese message)."""

from __future__ import annotations

from core.errors import Conflict, Forbidden, NotFound, ServiceUnavailable, ValidationFailed


class DealNotFound(NotFound):
    code = "deal_not_found"
    message = "意向不存在"


class ListingNotFound(NotFound):
    code = "listing_not_found"
    message = "成果或需求不存在或未发布"


class NotADealParty(Forbidden):
    code = "not_a_deal_party"
    message = "只有意向双方可以操作"


class OwnListing(Conflict):
    code = "own_listing"
    message = "不能对本单位发布的成果或需求提出意向"


class DealClosed(Conflict):
    code = "deal_closed"
    message = "意向已关闭 (已转为合同或已放弃)"


class ContractNotFound(NotFound):
    code = "contract_not_found"
    message = "合同不存在"


class MilestoneNotFound(NotFound):
    code = "milestone_not_found"
    message = "付款节点不存在"


class NotAContractParty(Forbidden):
    code = "not_a_contract_party"
    message = "只有合同当事方可以操作"


class SellerSideOnly(Forbidden):
    code = "seller_side_only"
    message = "只有卖方 (研究开发人、让与人、受托人等) 可以申请认定登记"


class BuyerSideOnly(Forbidden):
    code = "buyer_side_only"
    message = "只有买方可以支付或退款"


class NotCompetentRegistrar(Forbidden):
    code = "not_competent_registrar"
    message = "只有卖方所在地的盟市管理员或平台管理员可以认定登记"


class InvalidContractTransition(Conflict):
    code = "invalid_contract_transition"
    message = "合同当前状态不允许此操作"


class RegistrationNotRequested(Conflict):
    code = "registration_not_requested"
    message = "卖方尚未申请认定登记"


class AmountsLocked(Conflict):
    code = "amounts_locked"
    message = "合同已认定登记, 只有登记机构 (卖方所在地盟市管理员或平台管理员) 可以更正; 已完成或已终止的合同不能更正"


class MilestonesUnpaid(Conflict):
    code = "milestones_unpaid"
    message = "尚有未付款的节点, 合同不能完成"


class CompletionSellerOnly(Forbidden):
    code = "completion_seller_only"
    message = "只有卖方 (研究开发人、让与人、受托人等) 可以声明合同履行完毕"


class CompletionBuyerOnly(Forbidden):
    code = "completion_buyer_only"
    message = "只有买方可以确认合同履行完毕或提出异议"


class CompletionAlreadyClaimed(Conflict):
    code = "completion_already_claimed"
    message = "卖方已声明履行完毕, 等待买方确认或提出异议"


class CompletionNotClaimed(Conflict):
    code = "completion_not_claimed"
    message = "卖方尚未声明合同履行完毕"


class CompletionWindowOpen(Conflict):
    code = "completion_window_open"
    message = "买方确认期限未到: 期限内须由买方确认, 逾期未确认也未提出异议的, 卖方可确认完成"


class CompletionWindowClosed(Conflict):
    code = "completion_window_closed"
    message = "买方确认期限已过, 不能再提出异议"


class PaymentNotAllowed(Conflict):
    code = "payment_not_allowed"
    message = "合同当前状态不允许付款"


class RefundNotAllowed(Conflict):
    code = "refund_not_allowed"
    message = "该节点没有可退款的已到账付款"


class DeductionsLocked(Conflict):
    code = "deductions_locked"
    message = "已有收入分配, 扣除项不能再增加"


class InvalidAmounts(ValidationFailed):
    code = "invalid_amounts"
    message = "合同金额不一致"


class PartiesRequired(ValidationFailed):
    code = "parties_required"
    message = "请填写合同对方单位"


class SameOrganization(ValidationFailed):
    code = "same_organization"
    message = "合同买卖双方不能是同一单位"


class PartyNotFound(ValidationFailed):
    code = "party_not_found"
    message = "合同当事方单位不存在"


class PartyNotVerified(ValidationFailed):
    code = "party_not_verified"
    message = "合同双方须为已认证单位 (待审核或已暂停的单位不能签订合同)"


class SubtypeMismatch(ValidationFailed):
    code = "subtype_mismatch"
    message = "合同子类型与合同类型不符"


class AchievementNotSeller(ValidationFailed):
    code = "achievement_not_seller"
    message = "所涉成果须存在且属于卖方"


class TermEndBeforeStart(ValidationFailed):
    code = "term_end_before_start"
    message = "合同期限的结束日期不能早于开始日期"


class DeductionNotPositive(ValidationFailed):
    code = "deduction_not_positive"
    message = "每项扣除的金额应大于 0"


class DeductionsExceedIncome(ValidationFailed):
    code = "deductions_exceed_income"
    message = "扣除项合计不低于合同成交额: 净收入为 0, 成果完成人将得不到任何奖励"


class RewardNotApplicable(ValidationFailed):
    code = "reward_not_applicable"
    message = "职务科技成果收益分配适用于高校、科研院所作为卖方的技术转让或许可合同"


class InventorsRequired(ValidationFailed):
    code = "inventors_required"
    message = "职务科技成果须列明成果完成人"


class InventorWeightNotPositive(ValidationFailed):
    code = "inventor_weight_not_positive"
    message = "成果完成人的份额权重应大于 0"


class TermsChanged(Conflict):
    code = "terms_changed"
    message = "合同条款在签署或登记后被改动, 须双方重新签署或由登记机构更正"


class MilestonePaymentStarted(Conflict):
    code = "milestone_payment_started"
    message = "已发起付款的付款节点不能更改金额或删除"


class RewardRateBelowFloor(ValidationFailed):
    code = "reward_rate_below_floor"
    message = "成果完成人奖励比例低于法定下限"


class ProviderUnavailableError(ServiceUnavailable):
    code = "payment_provider_unavailable"
    message = "支付服务暂时不可用, 请稍后重试 (不会重复扣款)"


class ProviderRejectedError(Conflict):
    code = "payment_provider_rejected"
    message = "支付服务拒绝了请求"


class WebhookSignatureInvalid(ValidationFailed):
    status_code = 400
    code = "webhook_signature_invalid"
    message = "回调签名无效"


class WebhookTimestampOutsideWindow(ValidationFailed):
    status_code = 400
    code = "webhook_timestamp_outside_window"
    message = "回调时间戳超出允许的 5 分钟窗口"


class WebhookReplayed(Conflict):
    code = "webhook_replayed"
    message = "该回调事件已接收过 (重放)"


class WebhookMalformed(ValidationFailed):
    status_code = 400
    code = "webhook_malformed"
    message = "回调内容格式错误"


class RegistrarOnly(Forbidden):
    code = "registrar_only"
    message = "只有登记机构 (盟市管理员或平台管理员) 可以查看认定登记申请队列"


class RegistrarRegionOutOfScope(Forbidden):
    code = "region_out_of_scope"
    message = "盟市管理员只能查看本辖区的认定登记申请"


class RegistrationNotPending(Conflict):
    code = "registration_not_pending"
    message = "登记申请不在待审查状态 (已退回补正、已登记或不予登记)"


class RegistrationNotReturned(Conflict):
    code = "registration_not_returned"
    message = "登记申请未被退回补正, 不能重新提交"


class RegistrationReturned(Conflict):
    code = "registration_returned"
    message = "登记申请已退回补正: 请按补正意见修改后重新提交 (/registration/resubmit)"


class RegistrationClosed(Conflict):
    code = "registration_closed"
    message = "没有待处理的登记申请 (未申请、已登记或不予登记)"


class RegistrationRefused(Conflict):
    code = "registration_refused"
    message = "该合同的登记申请已被不予登记; 合同条款未改动的, 不能再次申请"


class RegistrationSerialExhausted(Conflict):
    code = "registration_serial_exhausted"
    message = "本地区本年度的登记编号已用尽"


class InvalidCorrection(ValidationFailed):
    code = "invalid_correction"
    message = "补正意见不完整"


class ReasonNotChinese(ValidationFailed):
    code = "reason_not_chinese"
    message = "理由须用中文填写"


class InvalidQueueFilter(ValidationFailed):
    code = "invalid_queue_filter"
    message = "登记申请队列的筛选条件无效"


class NotRegistered(Conflict):
    code = "contract_not_registered"
    message = "合同尚未认定登记, 没有登记证明"


class CertificateNotEntitled(Forbidden):
    code = "certificate_not_entitled"
    message = "只有合同当事方和卖方所在地的登记机构 (盟市管理员或平台管理员) 可以下载登记证明"


class RegistrationUnknown(NotFound):
    code = "registration_unknown"
    message = "未找到该登记编号: 证明不真实, 或编号有误"


class RegistrationMaterialsMissing(ValidationFailed):
    code = "registration_materials_missing"
    message = "认定登记申请材料不全"
