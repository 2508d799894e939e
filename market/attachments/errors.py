"""Attachment errors: each with its HTTP status, stable code and Chinese message."""

from __future__ import annotations

from core.errors import DomainError, Forbidden, NotFound, ValidationFailed


class AttachmentNotFound(NotFound):
    code = "attachment_not_found"
    message = "附件不存在"


class AttachmentForbidden(Forbidden):
    code = "attachment_forbidden"
    message = "无权上传或删除此对象的附件"


class FileTooLarge(DomainError):
    status_code = 413
    code = "file_too_large"
    message = "文件过大"


class FileTypeRefused(ValidationFailed):
    code = "file_type_refused"
    message = "不支持的文件类型 (按文件内容识别): 仅接受 PDF、JPEG、PNG、DOCX、XLSX"


class EmptyFile(ValidationFailed):
    code = "empty_file"
    message = "文件为空"


class BadUpload(ValidationFailed):
    code = "malformed_upload"
    message = "上传请求格式错误: 须为 multipart/form-data, 文件放在 file 字段, 只传一个文件"


class LinkInvalid(Forbidden):
    code = "download_link_invalid"
    message = "下载链接无效或已过期, 请重新获取"


class ObjectUnavailable(DomainError):
    status_code = 503
    code = "attachment_unavailable"
    message = "附件文件暂时无法读取, 请稍后重试"
