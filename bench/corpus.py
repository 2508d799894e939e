"""Synthetic listings for the benches: varied Chinese achievements and demands, deterministic by seed.

Built from the word lists below (no evaluation data), with the reference's field and region codes,
TRL consistent with maturity, patent application numbers with a correct check digit and quantified
advantages, so the search and matching benches exercise the same analysis real listings get. A
list's order is part of the corpus: the same seed gives the same listings, and figures of runs
stay comparable only while it does.
"""

from __future__ import annotations

import json
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.reference import fields, regions

# Per technology field: objects (what the technology is about) and processes (what it does to it).
VOCAB: dict[str, tuple[list[str], list[str]]] = {
    "new_materials": (
        (
            "稀土永磁材料 钕铁硼磁体 稀土抛光粉 稀土储氢合金 镁合金 铝合金型材 碳化硅陶瓷 "
            "石墨烯 高纯石英砂 多晶硅 稀土催化剂 耐磨钢 铜基复合材料 碳纤维 聚乳酸 "
            "稀土发光材料 锂电正极材料 硅碳负极 高纯氧化铝 稀土荧光粉 钛白粉 玄武岩纤维"
        ).split(),
        "制备 表面改性 晶界扩散 烧结 提纯 熔炼 回收再生 粉体分级 热处理 涂层".split(),
    ),
    "new_energy": (
        (
            "风电机组 风机叶片 光伏组件 储能电池 液流电池 氢燃料电池 电解水制氢 光热发电 "
            "锂离子电池 超级电容器 生物质锅炉 热泵机组 微电网 光伏支架 逆变器 储热系统"
        ).split(),
        "运维 故障诊断 功率预测 效率提升 梯次利用 状态监测 寿命评估 智能控制 清洗 并网".split(),
    ),
    "environment": (
        (
            "煤矸石 粉煤灰 脱硫石膏 电石渣 矿井水 焦化废水 高盐废水 洗毛废水 秸秆 畜禽粪污 "
            "沙化土地 盐碱地 尾矿 赤泥 挥发性有机物 垃圾渗滤液 工业烟气 荒漠草原"
        ).split(),
        "综合利用 资源化 无害化处理 生态修复 零排放 脱硝 固化 蒸发结晶 植被恢复 防沙固沙".split(),
    ),
    "agriculture": (
        (
            "马铃薯 肉羊 绒山羊 奶牛 燕麦 向日葵 玉米 苜蓿 沙棘 枸杞 甜菜 小杂粮 牧草种子 "
            "羊绒 乳清蛋白 青贮饲料 肉牛 荞麦"
        ).split(),
        ("高产栽培 良种繁育 精准饲喂 病害防控 节水灌溉 机械化收获 贮藏保鲜 深加工 品质检测 胚胎移植").split(),
    ),
    "biomedicine": (
        (
            "蒙药 沙棘黄酮 益生菌 乳酸菌 疫苗 诊断试剂 医用敷料 骨科植入物 中药提取物 肉苁蓉 "
            "甘草 黄芪 苁蓉多糖 单克隆抗体 酶制剂"
        ).split(),
        "提取纯化 发酵 质量控制 制剂 检测 筛选 冻干 药效评价 标准化种植 缓释".split(),
    ),
    "electronic_info": (
        (
            "大数据平台 工业互联网 边缘计算 物联网传感器 无人机 机器视觉 北斗定位 区块链 "
            "智慧牧场 视频监控 数字孪生 5G专网 算力调度 遥感影像 知识图谱"
        ).split(),
        ("数据采集 智能识别 安全防护 可视化 调度优化 异常检测 精准定位 数据治理 远程运维 预测预警").split(),
    ),
    "advanced_manufacturing": (
        (
            "掘进机 刮板输送机 液压支架 矿用卡车 减速器 轴承 数控机床 焊接机器人 齿轮箱 "
            "压力容器 铸件 农机装备 智能仓储 激光熔覆 增材制造"
        ).split(),
        ("设计优化 智能制造 在线监测 故障诊断 精密加工 焊接变形控制 再制造 轻量化 自动化 寿命预测").split(),
    ),
    "nuclear": (
        "辐照装置 同位素示踪 射线探伤 核子秤 中子测水 辐射防护材料 放射性废物".split(),
        "检测 辐照育种 剂量监测 屏蔽 标定 安全评价 远程控制".split(),
    ),
    "aerospace": (
        "卫星遥感 固体火箭发动机 航空复合材料 无人机飞控 高温合金 航天测控 机载雷达".split(),
        "数据处理 结构设计 试验验证 精密成形 姿态控制 可靠性评估 热防护".split(),
    ),
    "transport": (
        "重载铁路 公路沥青 新能源重卡 矿区无人驾驶 冷链物流 桥梁结构 充换电站 多式联运".split(),
        "养护 健康监测 调度 路面抗裂 节能运行 路径规划 安全预警".split(),
    ),
    "urban_social": (
        "装配式建筑 供热管网 城市燃气 智慧社区 被动式建筑 建筑垃圾 地下管廊 寒区混凝土".split(),
        "节能改造 泄漏检测 抗冻融 再生利用 智慧运维 保温 结构加固".split(),
    ),
}
MODIFIERS = (
    "高效 低成本 智能化 绿色 节能型 高性能 新型 连续式 模块化 低温 耐磨 轻量化 一体化 环保型 高精度 大型 便携式 自动化"
).split()
METHODS = (
    "基于机器视觉的 基于深度学习的 微波辅助 超声强化 膜分离 等离子体 生物发酵 催化氧化 "
    "多源数据融合的 数字孪生驱动的 真空 电化学 低温等离子 固相反应"
).split()
SUFFIXES = "技术 工艺 系统 装置 方法 关键技术 成套装备 及其应用 集成技术 示范工程".split()
METRICS = "能耗 成本 故障率 排放 用水量 人工 废品率 运行费用".split()
GAINS = "效率 产量 回收率 合格率 使用寿命 检测精度 产品纯度 转化率".split()
ORG_WORDS = (
    "草原 北疆 阴山 黄河 敕勒川 大青山 科尔沁 鄂尔多斯 锡林 呼伦 乌拉 贺兰 蒙东 天骄 金川 银河 绿原 塞北 长城 祥云"
).split()
STAGES = "已完成中试 已在示范线应用 已获授权专利 已通过省级科技成果评价 适合中小企业推广".split()
DEMAND_PROBLEMS = "效率低 成本高 能耗大 故障频繁 产品质量不稳定 环保压力大 人工依赖严重 设备寿命短".split()
ORG_SUFFIX = {
    "university": "大学 理工大学 工业大学 农业大学 科技大学 师范大学 医科大学".split(),
    "institute": "研究院 科学研究所 技术研究院 产业技术研究院 工程技术研究中心".split(),
    "enterprise": "科技有限公司 新材料股份有限公司 能源集团有限公司 智能装备有限公司 生物科技有限公司".split(),
}
SURNAMES = (
    "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾"
    "丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤"
    "尹黎易常武乔贺赖龚文"
)
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国红文志海峰亮宇鹏辉晶琳雪梅斌浩凯鑫瑞博婷颖佳琪晨阳乐巴特尔其其格"
)
MATURITY_TRL = {"research": (1, 3), "lab": (3, 4), "pilot": (5, 6), "industrialized": (7, 9)}
MODES = ["transfer", "license", "equity", "joint_development"]
IP_TYPES = (
    ["invention_patent"] * 5
    + ["utility_model"] * 2
    + ["software_copyright"] * 2
    + ["know_how", "design", "plant_variety", "ic_layout"]
)


def patent_number(rng: random.Random, ip_type: str) -> str:
    """A Chinese patent application number with a correct check digit (weights 2..9, mod 11)."""
    kind = {"invention_patent": "1", "utility_model": "2", "design": "3"}[ip_type]
    body = f"{rng.randint(2012, 2025)}{kind}{rng.randrange(10**7):07d}"
    weights = [2, 3, 4, 5, 6, 7, 8, 9]
    check = sum(int(d) * weights[i % 8] for i, d in enumerate(body)) % 11
    return f"CN{body}.{'X' if check == 10 else check}"


@dataclass
class Organization:
    name: str
    kind: str
    region: str


@dataclass
class Corpus:
    """Deterministic synthetic listings (API field names, as an import file carries them)."""

    seed: int = 2026
    organizations: list[Organization] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)
        codes = list(regions())
        self.home = [c for c in codes if c.startswith("15") and c != "150000"]
        self.other = [c for c in codes if not c.startswith("15")]
        self.field_codes = list(fields())
        assert set(self.field_codes) <= set(VOCAB), "every reference field needs a word list"
        self._make_organizations(600)

    def _make_organizations(self, count: int) -> None:
        rng, seen = self.rng, set()
        names = {c: r.name_zh for c, r in regions().items()}
        while len(self.organizations) < count:
            kind = rng.choice(["university", "institute", "institute", "enterprise", "enterprise", "enterprise"])
            region = rng.choice(self.home) if rng.random() < 0.75 else rng.choice(self.other)
            place = names[region].removesuffix("市").removesuffix("省").removesuffix("自治区").removesuffix("盟")
            name = f"{place}{rng.choice(ORG_WORDS)}{rng.choice(ORG_SUFFIX[kind])}"
            if name in seen:
                name = f"{place}{rng.choice(ORG_WORDS)}{rng.choice(ORG_WORDS)}{rng.choice(ORG_SUFFIX[kind])}"
            if name in seen:
                continue
            seen.add(name)
            self.organizations.append(Organization(name, kind, region))

    def _title(self, field_code: str) -> tuple[str, list[str]]:
        rng = self.rng
        objects, processes = VOCAB[field_code]
        obj, proc = rng.choice(objects), rng.choice(processes)
        shape = rng.random()
        if shape < 0.35:
            head = f"{rng.choice(MODIFIERS)}{obj}{proc}"
        elif shape < 0.6:
            head = f"{rng.choice(METHODS)}{obj}{proc}"
        elif shape < 0.8:
            head = f"{obj}{proc}与{rng.choice(processes)}"
        else:
            head = f"{obj}{proc}"
        return f"{head}{rng.choice(SUFFIXES)}", [obj, proc]

    def achievement(self, i: int) -> dict[str, Any]:
        rng = self.rng
        field_code = rng.choice(self.field_codes)
        objects, processes = VOCAB[field_code]
        title, (obj, proc) = self._title(field_code)
        owner = rng.choice(self.organizations)
        maturity = rng.choice(list(MATURITY_TRL))
        low, high = MATURITY_TRL[maturity]
        ip_type = rng.choice(IP_TYPES)
        other_obj = rng.choice(objects)
        gain, metric = rng.choice(GAINS), rng.choice(METRICS)
        up, down = rng.randint(8, 60), rng.randint(5, 50)
        region_name = regions()[owner.region].name_zh
        summary = (
            f"针对{other_obj}{rng.choice(processes)}过程中{rng.choice(DEMAND_PROBLEMS)}的问题，本成果采用"
            f"{rng.choice(METHODS).removesuffix('的')}与{rng.choice(MODIFIERS)}{proc}相结合的方案，实现{obj}的{proc}。"
            f"经{rng.randint(2, 30)}家企业现场试验验证，{gain}提高{up}%，{metric}降低{down}%，"
            f"连续运行{rng.randint(100, 5000)}小时无故障。成果由{region_name}{owner.name}完成，"
            f"{rng.choice(STAGES)}，"
            f"可用于{rng.choice(objects)}、{rng.choice(objects)}等{fields()[field_code].name_zh}领域。"
        )
        keywords = list(dict.fromkeys([obj, proc, rng.choice(objects), rng.choice(processes)]))[: rng.randint(2, 4)]
        ip_numbers = (
            [patent_number(rng, ip_type) for _ in range(rng.randint(1, 3))]
            if ip_type in ("invention_patent", "utility_model", "design")
            else []
        )
        price = None if rng.random() < 0.2 else rng.choice([5, 10, 20, 30, 50, 80, 100, 150, 200, 500]) * 10_000
        return {
            "external_id": f"BENCH-A{i:07d}",
            "title": title,
            "summary": summary,
            "field": field_code,
            "keywords": keywords,
            "maturity": maturity,
            "trl": rng.randint(low, high),
            "ip_type": ip_type,
            "ip_numbers": ip_numbers,
            "transaction_modes": rng.sample(MODES, rng.randint(1, 3)),
            "price": price,
            "region": owner.region,
            "inventors": [
                {
                    "name": rng.choice(SURNAMES) + "".join(rng.sample(GIVEN, rng.randint(1, 2))),
                    "share": rng.randint(1, 5),
                }
                for _ in range(rng.randint(1, 4))
            ],
            "advantages": [f"{gain}提高{up}%", f"{metric}降低{down}%"],
            "contact": {"name": rng.choice(SURNAMES) + "老师", "phone": f"0471-{rng.randint(1000000, 9999999)}"},
            "owner": owner.name,
            "owner_kind": owner.kind,
        }

    def demand(self, i: int) -> dict[str, Any]:
        rng = self.rng
        field_code = rng.choice(self.field_codes)
        objects, processes = VOCAB[field_code]
        obj, proc = rng.choice(objects), rng.choice(processes)
        problem = rng.choice(DEMAND_PROBLEMS)
        owner = rng.choice([o for o in self.organizations if o.kind == "enterprise"])
        title = rng.choice(
            [
                f"{obj}{proc}{problem}，求解决方案",
                f"寻求{obj}{proc}技术",
                f"{obj}{problem}怎么办",
                f"需要{rng.choice(MODIFIERS)}{obj}{proc}技术",
            ]
        )
        description = (
            f"我公司位于{regions()[owner.region].name_zh}，主要从事{obj}相关生产，目前{proc}环节{problem}，"
            f"年损失约{rng.randint(50, 2000)}万元。希望引进{rng.choice(MODIFIERS)}{obj}{proc}技术或"
            f"{rng.choice(processes)}方案，要求{rng.choice(METRICS)}降低{rng.randint(10, 40)}%以上，可合作开发。"
        )
        return {
            "external_id": f"BENCH-D{i:07d}",
            "title": title,
            "description": description,
            "field": field_code,
            "keywords": list(dict.fromkeys([obj, proc])),
            "budget_max": None if rng.random() < 0.3 else rng.choice([10, 50, 100, 300, 500]) * 10_000,
            "transaction_modes": rng.sample(MODES, rng.randint(1, 4)),
            "min_maturity": rng.choice([None, "lab", "pilot", "industrialized"]),
            "region": owner.region,
            "owner": owner.name,
            "owner_kind": owner.kind,
        }

    def achievements(self, n: int) -> list[dict[str, Any]]:
        return [self.achievement(i) for i in range(n)]

    def demands(self, n: int) -> list[dict[str, Any]]:
        return [self.demand(i) for i in range(n)]

    def queries(self, n: int) -> list[str]:
        """Short queries as people type them: an object, an object and a process, or a modifier."""
        rng, out = random.Random(self.seed + 1), []
        for _ in range(n):
            objects, processes = VOCAB[rng.choice(self.field_codes)]
            shape = rng.random()
            if shape < 0.4:
                out.append(rng.choice(objects))
            elif shape < 0.8:
                out.append(f"{rng.choice(objects)} {rng.choice(processes)}")
            else:
                out.append(f"{rng.choice(MODIFIERS)}{rng.choice(objects)}")
        return out


def write_jsonl(path: Path, rows: Sequence[dict[str, Any]]) -> None:
    with path.open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False))
            handle.write("\n")
