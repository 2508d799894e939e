"""Errors of trade statistics (each carries its HTTP status, stable code and Chinese message).

Hierarchy (see core.errors)::

    Forbidden (403)          StatisticsAdminRequired, RegionOutOfScope
    ValidationFailed (422)   UnknownRegion, InvalidPeriod, InvertedPeriod, PeriodOutOfRange, InvalidTarget,
                             SameCrossDimension
    NotFound (404)           TargetNotFound, PublicationNotFound
    Conflict (409)           TargetExists
    ServiceUnavailable (503) ChartFontMissing
"""

from __future__ import annotations

from core.errors import Conflict, FieldError, Forbidden, NotFound, ServiceUnavailable, ValidationFailed


class StatisticsAdminRequired(Forbidden):
    code = "statistics_admin_required"
    message = "交易统计仅对平台管理员和盟市管理员开放 (公众可查看已发布的统计摘要)"


class RegionOutOfScope(Forbidden):
    code = "region_out_of_scope"
    message = "盟市管理员只能查看本辖区的统计"


class UnknownRegion(ValidationFailed):
    code = "unknown_region"
    message = "未知的行政区划代码"

    @classmethod
    def for_code(cls, code: str, field: str = "query.region") -> UnknownRegion:
        return cls(
            errors=[
                FieldError(
                    field=field,
                    code=cls.code,
                    message=f"未知的行政区划代码 {code} (GB/T 2260 代码, 境外为 99+国家代码, 或 all)",
                )
            ]
        )


class InvalidPeriod(ValidationFailed):
    code = "invalid_period"
    message = "统计期间格式错误"


class InvertedPeriod(ValidationFailed):
    code = "inverted_period"
    message = "统计期间的开始晚于结束"


class PeriodOutOfRange(ValidationFailed):
    code = "period_out_of_range"
    message = "统计期间超出合理范围"


class InvalidTarget(ValidationFailed):
    code = "invalid_target"
    message = "目标数据无效"


class SameCrossDimension(ValidationFailed):
    code = "same_cross_dimension"
    message = "交叉表的行与列须为两个不同的维度"


class TargetNotFound(NotFound):
    code = "target_not_found"
    message = "目标不存在"


class TargetExists(Conflict):
    code = "target_exists"
    message = "该地区、指标和年份的目标已存在"


class PublicationNotFound(NotFound):
    code = "publication_not_found"
    message = "统计摘要不存在或未发布"


class ChartFontMissing(ServiceUnavailable):
    code = "cjk_font_missing"
    message = "服务器未安装中文字体, 无法绘制图表 (Debian: apt-get install fonts-noto-cjk)"


def on_field(error: type[ValidationFailed], field: str, message: str) -> ValidationFailed:
    return error(errors=[FieldError(field=field, code=error.code, message=message)])
