"""Errors of inventor invitations (each carries its status, code and Chinese message)."""

from __future__ import annotations

from core.errors import Conflict, DomainError, Forbidden, NotFound


class InventorNotFound(NotFound):
    code = "inventor_not_found"
    message = "合同中没有这一位成果完成人"


class InvitationSellerOnly(Forbidden):
    code = "invitation_seller_only"
    message = "只有卖方单位 (成果完成单位) 可以邀请成果完成人"


class PersonalLoginRequired(Forbidden):
    code = "personal_login_required"
    message = "接受邀请须由成果完成人本人登录后操作, 不能使用 API 密钥"


class InvitationNotFound(NotFound):
    code = "invitation_not_found"
    message = "邀请码无效, 或已被卖方的新邀请取代"


class InvitationExpired(DomainError):
    status_code = 410
    code = "invitation_expired"
    message = "邀请码已过期, 请卖方重新邀请"


class InvitationAlreadyAccepted(Conflict):
    code = "invitation_already_accepted"
    message = "该邀请已被另一个账号接受"


class InventorAlreadyLinked(Conflict):
    code = "inventor_already_linked"
    message = "该账号已关联本合同的另一位成果完成人"
