from core.errors import Conflict, Forbidden, NotFound, TooManyRequests, Unauthorized, ValidationFailed


class InvalidCredentials(Unauthorized):
    code = "invalid_credentials"
    message = "邮箱或密码错误"


class LoginThrottled(TooManyRequests):
    code = "login_throttled"
    message = "登录失败次数过多, 请稍后再试"


class TokenExpired(Unauthorized):
    code = "token_expired"
    message = "登录已过期, 请重新登录"


class TokenInvalid(Unauthorized):
    code = "token_invalid"
    message = "登录凭证无效"


class ApiKeyInvalid(Unauthorized):
    code = "api_key_invalid"
    message = "API 密钥无效"


class ApiKeyRevoked(Unauthorized):
    code = "api_key_revoked"
    message = "API 密钥已被吊销"


class AccountDisabled(Unauthorized):
    code = "account_disabled"
    message = "账号已停用"


class NotPlatformAdmin(Forbidden):
    code = "platform_admin_required"
    message = "需要平台管理员权限"


class NotOrganizationAdmin(Forbidden):
    code = "organization_admin_required"
    message = "需要本单位管理员权限"


class OtherOrganization(Forbidden):
    code = "other_organization"
    message = "不能代表其他单位操作"


class OrganizationNotVerified(Forbidden):
    code = "organization_not_verified"
    message = "单位尚未通过审核, 审核通过前只能编辑本单位的草稿"


class OrganizationSuspended(Forbidden):
    code = "organization_suspended"
    message = "单位已被暂停, 不能进行任何修改操作"


class OrganizationNotFound(NotFound):
    code = "organization_not_found"
    message = "单位不存在"


class ApiKeyNotFound(NotFound):
    code = "api_key_not_found"
    message = "API 密钥不存在"


class DuplicateOrganization(Conflict):
    code = "duplicate_organization"
    message = "该单位已注册 (名称或统一社会信用代码重复)"


class DuplicateEmail(Conflict):
    code = "duplicate_email"
    message = "该邮箱已注册"


class InvalidStatusChange(Conflict):
    code = "invalid_status_change"
    message = "单位当前状态不允许此操作"


class WeakPassword(ValidationFailed):
    code = "weak_password"
    message = "密码强度不足"


class AuthenticationRequired(Unauthorized):
    code = "authentication_required"
    message = "需要登录 (Bearer 令牌或 X-API-Key)"
