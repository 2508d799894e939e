from core.errors import Conflict, Forbidden, NotFound, ValidationFailed


class ListingNotFound(NotFound):
    code = "listing_not_found"
    message = "成果或需求不存在"


class InvalidTransition(Conflict):
    code = "invalid_transition"
    message = "当前状态不允许此操作"


class NotListingOwner(Forbidden):
    code = "not_listing_owner"
    message = "只有发布单位的成员可以修改或提交"


class NotReviewer(Forbidden):
    code = "not_reviewer"
    message = "只有平台管理员或该地区的盟市管理员可以审核"


class NotAdmin(Forbidden):
    code = "admin_required"
    message = "需要平台或盟市管理员权限"


class DuplicateExternalId(Conflict):
    code = "duplicate_external_id"
    message = "external_id 已存在"


class MalformedMultipart(ValidationFailed):
    code = "malformed_multipart"
    message = "上传请求格式错误: 须为 multipart/form-data, 文件放在 file 字段"


class PriceHeld(Conflict):
    code = "price_held_by_contract"
    message = "该成果有已签订且未终止的技术合同, 合同履行完毕或终止前不能修改价格"
