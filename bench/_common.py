"""Shared helpers of the bench scripts (not a benchmark itself).

* ``machine()``: the line every script prints (cores, memory, Python, PostgreSQL, Meilisearch).
* ``Corpus``: synthetic but varied Chinese achievements and demands, built from word lists in this
  file (no eval data), with valid field/region codes from ``core.reference``, TRL consistent with
  maturity, valid patent application numbers (check digit), quantified advantages.
* ``temp_database``: a throwaway PostgreSQL database, migrated, dropped afterwards (FORCE).
* ``copy_published``: the fast path for benches that need listings in the database but do not
  measure the import (COPY straight into organizations/achievements/demands, status published).
* ``ApiServer``: ``techmarket serve`` as a subprocess on a free loopback port (server profile).
* ``HttpLoad``: a minimal keep-alive HTTP/1.1 client on raw asyncio streams, so the load generator
  (which shares the 2 cores with the server) costs as little CPU as possible and the same for the
  API and for Meilisearch.
"""

from __future__ import annotations

import asyncio
import json
import os
import platform
import random
import resource
import secrets
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import asyncpg

if TYPE_CHECKING:
    import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from core import migrations  # noqa: E402
from core.reference import fields, regions  # noqa: E402

DEFAULT_DSN = "postgresql://postgres@127.0.0.1:5432/postgres"

# ---------------------------------------------------------------- machine


def machine(extra: str = "") -> str:
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            kib = int(next(line for line in handle if line.startswith("MemTotal")).split()[1])
        memory = f"{kib / 1024 / 1024:.0f} GiB"
    except (OSError, StopIteration, ValueError):
        memory = "?"
    cpu = "?"
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as handle:
            cpu = next(line.split(":", 1)[1].strip() for line in handle if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    line = (
        f"machine: nproc={os.cpu_count()} ({cpu}), {memory} RAM, Python {platform.python_version()}, "
        f"{platform.system()} {platform.release()}"
    )
    return line + (f", {extra}" if extra else "")


def verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def percentile(samples: Sequence[float], p: float) -> float:
    """Nearest-rank percentile (p in 0..100) of a non-empty sample."""
    ordered = sorted(samples)
    rank = max(1, min(len(ordered), round(p / 100 * len(ordered) + 0.5)))
    return ordered[rank - 1]


# ---------------------------------------------------------------- vocabulary

# Per technology field: objects (what the technology is about) and processes (what it does to it).
VOCAB: dict[str, tuple[list[str], list[str]]] = {
    "new_materials": (
        [
            "稀土永磁材料",
            "钕铁硼磁体",
            "稀土抛光粉",
            "稀土储氢合金",
            "镁合金",
            "铝合金型材",
            "碳化硅陶瓷",
            "石墨烯",
            "高纯石英砂",
            "多晶硅",
            "稀土催化剂",
            "耐磨钢",
            "铜基复合材料",
            "碳纤维",
            "聚乳酸",
            "稀土发光材料",
            "锂电正极材料",
            "硅碳负极",
            "高纯氧化铝",
            "稀土荧光粉",
            "钛白粉",
            "玄武岩纤维",
        ],
        ["制备", "表面改性", "晶界扩散", "烧结", "提纯", "熔炼", "回收再生", "粉体分级", "热处理", "涂层"],
    ),
    "new_energy": (
        [
            "风电机组",
            "风机叶片",
            "光伏组件",
            "储能电池",
            "液流电池",
            "氢燃料电池",
            "电解水制氢",
            "光热发电",
            "锂离子电池",
            "超级电容器",
            "生物质锅炉",
            "热泵机组",
            "微电网",
            "光伏支架",
            "逆变器",
            "储热系统",
        ],
        ["运维", "故障诊断", "功率预测", "效率提升", "梯次利用", "状态监测", "寿命评估", "智能控制", "清洗", "并网"],
    ),
    "environment": (
        [
            "煤矸石",
            "粉煤灰",
            "脱硫石膏",
            "电石渣",
            "矿井水",
            "焦化废水",
            "高盐废水",
            "洗毛废水",
            "秸秆",
            "畜禽粪污",
            "沙化土地",
            "盐碱地",
            "尾矿",
            "赤泥",
            "挥发性有机物",
            "垃圾渗滤液",
            "工业烟气",
            "荒漠草原",
        ],
        ["综合利用", "资源化", "无害化处理", "生态修复", "零排放", "脱硝", "固化", "蒸发结晶", "植被恢复", "防沙固沙"],
    ),
    "agriculture": (
        [
            "马铃薯",
            "肉羊",
            "绒山羊",
            "奶牛",
            "燕麦",
            "向日葵",
            "玉米",
            "苜蓿",
            "沙棘",
            "枸杞",
            "甜菜",
            "小杂粮",
            "牧草种子",
            "羊绒",
            "乳清蛋白",
            "青贮饲料",
            "肉牛",
            "荞麦",
        ],
        [
            "高产栽培",
            "良种繁育",
            "精准饲喂",
            "病害防控",
            "节水灌溉",
            "机械化收获",
            "贮藏保鲜",
            "深加工",
            "品质检测",
            "胚胎移植",
        ],
    ),
    "biomedicine": (
        [
            "蒙药",
            "沙棘黄酮",
            "益生菌",
            "乳酸菌",
            "疫苗",
            "诊断试剂",
            "医用敷料",
            "骨科植入物",
            "中药提取物",
            "肉苁蓉",
            "甘草",
            "黄芪",
            "苁蓉多糖",
            "单克隆抗体",
            "酶制剂",
        ],
        ["提取纯化", "发酵", "质量控制", "制剂", "检测", "筛选", "冻干", "药效评价", "标准化种植", "缓释"],
    ),
    "electronic_info": (
        [
            "大数据平台",
            "工业互联网",
            "边缘计算",
            "物联网传感器",
            "无人机",
            "机器视觉",
            "北斗定位",
            "区块链",
            "智慧牧场",
            "视频监控",
            "数字孪生",
            "5G专网",
            "算力调度",
            "遥感影像",
            "知识图谱",
        ],
        [
            "数据采集",
            "智能识别",
            "安全防护",
            "可视化",
            "调度优化",
            "异常检测",
            "精准定位",
            "数据治理",
            "远程运维",
            "预测预警",
        ],
    ),
    "advanced_manufacturing": (
        [
            "掘进机",
            "刮板输送机",
            "液压支架",
            "矿用卡车",
            "减速器",
            "轴承",
            "数控机床",
            "焊接机器人",
            "齿轮箱",
            "压力容器",
            "铸件",
            "农机装备",
            "智能仓储",
            "激光熔覆",
            "增材制造",
        ],
        [
            "设计优化",
            "智能制造",
            "在线监测",
            "故障诊断",
            "精密加工",
            "焊接变形控制",
            "再制造",
            "轻量化",
            "自动化",
            "寿命预测",
        ],
    ),
    "nuclear": (
        ["辐照装置", "同位素示踪", "射线探伤", "核子秤", "中子测水", "辐射防护材料", "放射性废物"],
        ["检测", "辐照育种", "剂量监测", "屏蔽", "标定", "安全评价", "远程控制"],
    ),
    "aerospace": (
        ["卫星遥感", "固体火箭发动机", "航空复合材料", "无人机飞控", "高温合金", "航天测控", "机载雷达"],
        ["数据处理", "结构设计", "试验验证", "精密成形", "姿态控制", "可靠性评估", "热防护"],
    ),
    "transport": (
        ["重载铁路", "公路沥青", "新能源重卡", "矿区无人驾驶", "冷链物流", "桥梁结构", "充换电站", "多式联运"],
        ["养护", "健康监测", "调度", "路面抗裂", "节能运行", "路径规划", "安全预警"],
    ),
    "urban_social": (
        ["装配式建筑", "供热管网", "城市燃气", "智慧社区", "被动式建筑", "建筑垃圾", "地下管廊", "寒区混凝土"],
        ["节能改造", "泄漏检测", "抗冻融", "再生利用", "智慧运维", "保温", "结构加固"],
    ),
}
MODIFIERS = [
    "高效",
    "低成本",
    "智能化",
    "绿色",
    "节能型",
    "高性能",
    "新型",
    "连续式",
    "模块化",
    "低温",
    "耐磨",
    "轻量化",
    "一体化",
    "环保型",
    "高精度",
    "大型",
    "便携式",
    "自动化",
]
METHODS = [
    "基于机器视觉的",
    "基于深度学习的",
    "微波辅助",
    "超声强化",
    "膜分离",
    "等离子体",
    "生物发酵",
    "催化氧化",
    "多源数据融合的",
    "数字孪生驱动的",
    "真空",
    "电化学",
    "低温等离子",
    "固相反应",
]
SUFFIXES = ["技术", "工艺", "系统", "装置", "方法", "关键技术", "成套装备", "及其应用", "集成技术", "示范工程"]
METRICS = ["能耗", "成本", "故障率", "排放", "用水量", "人工", "废品率", "运行费用"]
GAINS = ["效率", "产量", "回收率", "合格率", "使用寿命", "检测精度", "产品纯度", "转化率"]
SURNAMES = "王李张刘陈杨赵黄周吴徐孙胡朱高林何郭马罗梁宋郑谢韩唐冯于董萧程曹袁邓许傅沈曾彭吕苏卢蒋蔡贾丁魏薛叶阎余潘杜戴夏钟汪田任姜范方石姚谭廖邹熊金陆郝孔白崔康毛邱秦江史顾侯邵孟龙万段雷钱汤尹黎易常武乔贺赖龚文"
GIVEN = (
    "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀霞平刚桂英华建国红文志海峰亮宇鹏辉晶琳雪梅斌浩凯鑫瑞博婷颖佳琪晨阳乐巴特尔其其格"
)
ORG_WORDS = [
    "草原",
    "北疆",
    "阴山",
    "黄河",
    "敕勒川",
    "大青山",
    "科尔沁",
    "鄂尔多斯",
    "锡林",
    "呼伦",
    "乌拉",
    "贺兰",
    "蒙东",
    "天骄",
    "金川",
    "银河",
    "绿原",
    "塞北",
    "长城",
    "祥云",
]
ORG_SUFFIX = {
    "university": ["大学", "理工大学", "工业大学", "农业大学", "科技大学", "师范大学", "医科大学"],
    "institute": ["研究院", "科学研究所", "技术研究院", "产业技术研究院", "工程技术研究中心"],
    "enterprise": ["科技有限公司", "新材料股份有限公司", "能源集团有限公司", "智能装备有限公司", "生物科技有限公司"],
}
DEMAND_PROBLEMS = [
    "效率低",
    "成本高",
    "能耗大",
    "故障频繁",
    "产品质量不稳定",
    "环保压力大",
    "人工依赖严重",
    "设备寿命短",
]
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
            f"{rng.choice(['已完成中试', '已在示范线应用', '已获授权专利', '已通过省级科技成果评价', '适合中小企业推广'])}，"
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


# ---------------------------------------------------------------- PostgreSQL


@asynccontextmanager
async def temp_database(dsn: str = DEFAULT_DSN, *, migrate: bool = True) -> AsyncIterator[tuple[str, str]]:
    """(asyncpg dsn, SQLAlchemy url) of a fresh database, migrated; dropped (FORCE) at the end."""
    name = f"techmarket_bench_{uuid.uuid4().hex[:8]}"
    admin = await asyncpg.connect(dsn)
    await admin.execute(f'CREATE DATABASE "{name}"')
    db_dsn = dsn.rsplit("/", 1)[0] + f"/{name}"
    url = db_dsn.replace("postgresql://", "postgresql+asyncpg://", 1)
    try:
        if migrate:
            await asyncio.to_thread(migrations.upgrade, url)
        yield db_dsn, url
    finally:
        await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await admin.close()


async def postgres_version(dsn: str) -> str:
    connection = await asyncpg.connect(dsn)
    try:
        return str(await connection.fetchval("SHOW server_version")).split()[0]
    finally:
        await connection.close()


ACHIEVEMENT_COLUMNS = [
    "external_id",
    "owner_id",
    "status",
    "title",
    "field",
    "keywords",
    "transaction_modes",
    "region",
    "contact",
    "created_at",
    "updated_at",
    "published_at",
    "summary",
    "maturity",
    "trl",
    "ip_type",
    "ip_numbers",
    "price_fen",
    "inventors",
    "advantages",
]
DEMAND_COLUMNS = [
    "external_id",
    "owner_id",
    "status",
    "title",
    "field",
    "keywords",
    "transaction_modes",
    "region",
    "contact",
    "created_at",
    "updated_at",
    "published_at",
    "description",
    "budget_max_fen",
    "min_maturity",
]


def _dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def achievement_record(row: dict[str, Any], owner_id: int, now: datetime, status: str = "published") -> tuple[Any, ...]:
    return (
        row["external_id"],
        owner_id,
        status,
        row["title"],
        row["field"],
        _dumps(row["keywords"]),
        _dumps(row["transaction_modes"]),
        row["region"],
        _dumps(row["contact"]),
        now,
        now,
        now if status == "published" else None,
        row["summary"],
        row["maturity"],
        row["trl"],
        row["ip_type"],
        _dumps([n.removeprefix("CN") for n in row["ip_numbers"]]),
        None if row["price"] is None else row["price"] * 100,
        _dumps([{"name": x["name"], "share": str(x["share"])} for x in row["inventors"]]),
        _dumps(row["advantages"]),
    )


async def copy_published(
    dsn: str,
    corpus: Corpus,
    achievements: Sequence[dict[str, Any]],
    demands: Sequence[dict[str, Any]] = (),
    *,
    organizations: bool = True,
) -> None:
    """Organizations (unless already there) and published listings straight into the schema with
    COPY (no outbox rows: nothing for a worker to relay)."""
    now = datetime.now(UTC)
    connection = await asyncpg.connect(dsn)
    try:
        if organizations:
            await connection.copy_records_to_table(
                "organizations",
                columns=["name", "kind", "region", "status", "created_at", "verified_at"],
                records=[(o.name, o.kind, o.region, "verified", now, now) for o in corpus.organizations],
            )
        ids = {r["name"]: r["id"] for r in await connection.fetch("SELECT id, name FROM organizations")}
        for start in range(0, len(achievements), 20_000):
            await connection.copy_records_to_table(
                "achievements",
                columns=ACHIEVEMENT_COLUMNS,
                records=[achievement_record(r, ids[r["owner"]], now) for r in achievements[start : start + 20_000]],
            )
        if demands:
            await connection.copy_records_to_table(
                "demands",
                columns=DEMAND_COLUMNS,
                records=[
                    (
                        d["external_id"],
                        ids[d["owner"]],
                        "published",
                        d["title"],
                        d["field"],
                        _dumps(d["keywords"]),
                        _dumps(d["transaction_modes"]),
                        d["region"],
                        "{}",
                        now,
                        now,
                        now,
                        d["description"],
                        None if d["budget_max"] is None else d["budget_max"] * 100,
                        d["min_maturity"],
                    )
                    for d in demands
                ],
            )
        await connection.execute("ANALYZE")
    finally:
        await connection.close()


# ---------------------------------------------------------------- the API as a subprocess


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


SERVER_GROUPS: dict[str, int] = {}  # base URL of a running `techmarket serve` → its process group (CpuMeter)


@contextmanager
def api_server(
    database_url: str, search_url: str, search_key: str, *, workers: int = 1, settings: dict[str, str] | None = None
) -> Iterator[str]:
    """``techmarket serve`` on the server profile (ENV=production); yields its base URL, stops it after.

    ``settings``: more ``TECHMARKET_*`` variables for the server (e.g. a login throttle's limits)."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("TECHMARKET_")}
    env.update(
        TECHMARKET_ENV="production",
        TECHMARKET_DATABASE_URL=database_url,
        TECHMARKET_SEARCH_URL=search_url,
        TECHMARKET_SEARCH_KEY=search_key,
        TECHMARKET_SECRET_KEY=secrets.token_urlsafe(48),
        # production also refuses the development payment secrets (contracts/settings.py); no payment is made here
        TECHMARKET_PAYMENT_WEBHOOK_SECRET=secrets.token_urlsafe(48),
        TECHMARKET_PAYMENT_PROVIDER_API_KEY=secrets.token_urlsafe(24),
        TECHMARKET_DATA_DIR=tempfile.mkdtemp(prefix="techmarket-bench-data-"),
        TECHMARKET_LOG_LEVEL="WARNING",
    )
    env.update(settings or {})
    binary = Path(sys.executable).with_name("techmarket")
    command = [str(binary)] if binary.exists() else [sys.executable, "-m", "app.cli"]
    log = tempfile.NamedTemporaryFile(prefix="techmarket-bench-serve-", suffix=".log", delete=False)
    process = subprocess.Popen(
        [*command, "serve", "--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + 180
        while True:
            if process.poll() is not None:
                raise RuntimeError(
                    f"techmarket serve exited with {process.returncode}:\n{Path(log.name).read_text()[-3000:]}"
                )
            try:
                if httpx.get(f"{url}/readyz", timeout=2, trust_env=False).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"techmarket serve not ready after 180 s:\n{Path(log.name).read_text()[-3000:]}")
            time.sleep(0.2)
        SERVER_GROUPS[url] = process.pid  # started in a session of its own: its pid is its group
        yield url
    finally:
        SERVER_GROUPS.pop(url, None)
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)  # its own session: the uvicorn workers go too
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
        log.close()
        os.unlink(log.name)
        import shutil

        shutil.rmtree(env["TECHMARKET_DATA_DIR"], ignore_errors=True)


# ---------------------------------------------------------------- CPU accounting


class CpuMeter:
    """CPU seconds (user + system) each side of a measurement spent, read from /proc (Linux).

    Throughput on this 2-core machine is a share of the same two cores between the API, the
    engine, PostgreSQL and the load generator, and it swings with the host's noise; CPU time per
    request does not, and it shows which process a target's cost is in."""

    def __init__(self, *, api_url: str | None = None, meili_pid: int | None = None) -> None:
        self.group = SERVER_GROUPS.get(api_url or "")
        self.meili_pid = meili_pid

    def read(self) -> dict[str, float]:
        totals = {"API": 0.0, "Meilisearch": 0.0, "PostgreSQL": 0.0}
        tick = os.sysconf("SC_CLK_TCK")
        for entry in os.scandir("/proc") if os.path.isdir("/proc") else ():
            if not entry.name.isdigit():
                continue
            try:
                raw = Path(entry.path, "stat").read_text()
            except OSError:
                continue  # gone meanwhile
            command, fields = raw[raw.index("(") + 1 : raw.rindex(")")], raw[raw.rindex(")") + 2 :].split()
            seconds = (int(fields[11]) + int(fields[12])) / tick
            if self.group is not None and int(fields[2]) == self.group:
                totals["API"] += seconds
            elif int(entry.name) == self.meili_pid:
                totals["Meilisearch"] += seconds
            elif command == "postgres":
                totals["PostgreSQL"] += seconds
        usage = resource.getrusage(resource.RUSAGE_SELF)
        totals["load generator"] = usage.ru_utime + usage.ru_stime
        return totals

    @staticmethod
    def per_request(before: dict[str, float], after: dict[str, float], requests: int) -> dict[str, float]:
        """Milliseconds of CPU per request by side."""
        return {side: (after[side] - before[side]) * 1000 / max(requests, 1) for side in before}


# ---------------------------------------------------------------- load generation


class HttpError(RuntimeError):
    pass


class Connection:
    """One keep-alive HTTP/1.1 connection (Content-Length or chunked replies)."""

    def __init__(self, base_url: str, headers: dict[str, str] | None = None) -> None:
        parts = urlsplit(base_url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.extra = "".join(f"{k}: {v}\r\n" for k, v in (headers or {}).items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, path: str, body: bytes | None = None, content_type: str = "application/json"
    ) -> tuple[int, bytes]:
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        head = f"{method} {path} HTTP/1.1\r\nHost: {self.host}:{self.port}\r\n{self.extra}"
        if body is not None:
            head += f"Content-Type: {content_type}\r\nContent-Length: {len(body)}\r\n"
        self.writer.write(head.encode("latin-1") + b"\r\n" + (body or b""))
        status_line = await self.reader.readline()
        if not status_line:
            raise HttpError("connection closed")
        status = int(status_line.split()[1])
        length, chunked = None, False
        while True:
            line = await self.reader.readline()
            if line in (b"\r\n", b""):
                break
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "transfer-encoding" and "chunked" in value.lower():
                chunked = True
        if chunked:
            parts = []
            while True:
                size = int((await self.reader.readline()).split(b";")[0], 16)
                if size == 0:
                    await self.reader.readline()
                    break
                parts.append(await self.reader.readexactly(size))
                await self.reader.readline()
            payload = b"".join(parts)
        else:
            payload = await self.reader.readexactly(length or 0)
        return status, payload

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            try:
                await self.writer.wait_closed()
            except OSError:
                pass


@dataclass
class LoadResult:
    label: str
    latencies: list[float]  # seconds
    wall: float
    errors: int

    @property
    def throughput(self) -> float:
        return len(self.latencies) / self.wall

    def ms(self, p: float) -> float:
        return percentile(self.latencies, p) * 1000

    def line(self) -> str:
        return (
            f"{self.label:38} {self.throughput:9.1f} req/s   p50 {self.ms(50):8.2f} ms   p95 {self.ms(95):8.2f} ms   "
            f"p99 {self.ms(99):8.2f} ms   ({len(self.latencies)} requests, {self.errors} errors)"
        )


async def run_load(
    label: str,
    base_url: str,
    requests: Sequence[tuple[str, str, bytes | None]],
    *,
    concurrency: int,
    headers: dict[str, str] | None = None,
    check: Any = None,
) -> LoadResult:
    """Send every request once from ``concurrency`` closed-loop clients; per-request latencies.

    ``check(status, body)`` may raise to count an error; by default any non-200 is an error.
    """
    queue: asyncio.Queue[tuple[str, str, bytes | None]] = asyncio.Queue()
    for item in requests:
        queue.put_nowait(item)
    latencies: list[float] = []
    errors = 0

    async def client() -> None:
        nonlocal errors
        connection = Connection(base_url, headers)
        try:
            while not queue.empty():
                method, path, body = queue.get_nowait()
                started = time.perf_counter()
                status, payload = await connection.request(method, path, body)
                latencies.append(time.perf_counter() - started)
                if status != 200 or (check is not None and not check(payload)):
                    errors += 1
                    if errors <= 3:
                        print(f"  ! {label}: HTTP {status} for {path}: {payload[:200]!r}")
        finally:
            await connection.close()

    started = time.perf_counter()
    await asyncio.gather(*(client() for _ in range(concurrency)))
    return LoadResult(label, latencies, time.perf_counter() - started, errors)


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


# ---------------------------------------------------------------- filling Meilisearch fast (setup, not timed)


def _payloads(chunk: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Worker: documents → what the Meilisearch adapter sends (its own _document, unchanged)."""
    from search.adapters.meilisearch import MeilisearchEngine
    from search.documents import SearchDocument

    return [MeilisearchEngine._document(SearchDocument(**doc)) for doc in chunk]


async def search_documents(dsn: str, kind: str, rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """SearchDocument fields of COPYed listings (as search.outbox_relay.document_for maps them)."""
    table = "achievements" if kind == "achievement" else "demands"
    connection = await asyncpg.connect(dsn)
    try:
        stored = {
            r["external_id"]: r
            for r in await connection.fetch(
                f"SELECT l.id, l.external_id, l.owner_id, l.published_at, o.name, o.kind FROM {table} l "
                "JOIN organizations o ON o.id = l.owner_id WHERE l.external_id = ANY($1::text[])",
                [row["external_id"] for row in rows],
            )
        }
    finally:
        await connection.close()
    docs = []
    for row in rows:
        db = stored[row["external_id"]]
        common = {
            "id": db["id"],
            "kind": kind,
            "external_id": row["external_id"],
            "title": row["title"],
            "keywords": row["keywords"],
            "field": row["field"],
            "region": row["region"],
            "transaction_modes": row["transaction_modes"],
            "owner_id": db["owner_id"],
            "owner_name": db["name"],
            "owner_kind": db["kind"],
            "published_at": db["published_at"],
        }
        if kind == "achievement":
            common.update(
                body=row["summary"],
                maturity=row["maturity"],
                trl=row["trl"],
                ip_type=row["ip_type"],
                price_fen=None if row["price"] is None else row["price"] * 100,
            )
        else:
            common.update(
                body=row["description"],
                maturity=row["min_maturity"],
                price_fen=None if row["budget_max"] is None else row["budget_max"] * 100,
            )
        docs.append(common)
    return docs


async def wait_task(client: httpx.AsyncClient, uid: int, timeout: float = 900) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    delay = 0.01
    while True:
        state = (await client.get(f"/tasks/{uid}")).json()
        if state["status"] in ("succeeded", "failed", "canceled"):
            if state["status"] != "succeeded":
                raise RuntimeError(f"Meilisearch task {uid} {state['status']}: {state.get('error')}")
            return state
        if time.monotonic() > deadline:
            raise RuntimeError(f"Meilisearch task {uid} not done after {timeout} s")
        await asyncio.sleep(delay)
        delay = min(delay * 2, 0.1)


async def fill_index(
    meili_url: str,
    key: str,
    uid: str,
    docs: Sequence[dict[str, Any]],
    *,
    processes: int | None = None,
    chunk: int = 2000,
) -> None:
    """Build payloads on every core (fork pool) and add them to ``uid`` as they come; wait for all tasks.

    The index must exist with the adapter's settings (``MeilisearchEngine.ensure_ready``).
    """
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    import httpx

    loop = asyncio.get_running_loop()
    chunks = [list(docs[i : i + chunk]) for i in range(0, len(docs), chunk)]
    tasks: list[int] = []
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/json"}
    with ProcessPoolExecutor(processes or os.cpu_count() or 2, mp_context=multiprocessing.get_context("fork")) as pool:
        async with httpx.AsyncClient(base_url=meili_url, headers=headers, timeout=120, trust_env=False) as client:
            futures = [loop.run_in_executor(pool, _payloads, part) for part in chunks]
            for future in futures:
                payload = await future
                reply = await client.post(
                    f"/indexes/{uid}/documents", content=json.dumps(payload, ensure_ascii=False).encode()
                )
                reply.raise_for_status()
                tasks.append(reply.json()["taskUid"])
            for task in tasks:
                await wait_task(client, task)
