"""``techmarket eval matching`` on a small labelled folder: the figures as evaluated and under
k-fold cross-validation, per query kind, next to BM25."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from app.cli import app

ACHIEVEMENTS = [
    (
        "A1",
        "储氢合金负极材料制备技术",
        "镍氢电池负极用稀土储氢合金, 放电容量 340 mAh/g, 循环寿命 800 次。",
        "new_materials",
        ["储氢合金", "镍氢电池"],
    ),
    (
        "A2",
        "马铃薯脱毒种薯快繁技术",
        "茎尖脱毒结合雾培快繁, 原原种单株结薯 30 粒以上, 适合北方马铃薯产区。",
        "agriculture",
        ["马铃薯", "脱毒种薯"],
    ),
    (
        "A3",
        "燃煤烟气脱硫石膏制板工艺",
        "以脱硫石膏为原料生产纸面石膏板, 板材断裂荷载优于国标, 已在电厂配套应用。",
        "environment",
        ["脱硫石膏", "石膏板"],
    ),
    (
        "A4",
        "矿井苦咸水反渗透脱盐回用技术",
        "针对高矿化度矿井水, 纳滤与反渗透双膜脱盐, 产水回用于洗煤和电厂补水, 浓盐水蒸发结晶。",
        "environment",
        ["矿井水", "反渗透", "脱盐"],
    ),
    (
        "A5",
        "风机叶片无人机巡检系统",
        "无人机搭载高清相机自动巡检风电机组叶片, 识别裂纹与雷击损伤, 单台巡检 15 分钟。",
        "new_energy",
        ["风电", "叶片巡检", "无人机"],
    ),
    (
        "A6",
        "羊绒纤维细度快速检测仪",
        "基于图像分析测量羊绒纤维直径, 单样检测 3 分钟, 与标准方法偏差小于 0.2 微米。",
        "advanced_manufacturing",
        ["羊绒", "细度检测"],
    ),
]
DEMANDS = [
    (
        "D1",
        "矿井涌水发苦发咸无法外排",
        "我矿每小时涌水 500 立方米, 含盐量高, 不能直接外排, 希望处理后回用。",
        "environment",
        ["涌水", "苦咸", "回用"],
    ),
    (
        "D2",
        "风电场叶片检修靠人工效率低",
        "风场 100 台机组, 叶片损伤靠人工登高检查, 希望用自动化手段快速发现裂纹。",
        "new_energy",
        ["叶片", "检修"],
    ),
    (
        "D3",
        "马铃薯种薯退化减产",
        "合作社种植马铃薯多年自留种, 病毒积累导致减产, 需要健康种薯来源。",
        "agriculture",
        ["马铃薯", "种薯"],
    ),
    (
        "D4",
        "电厂脱硫副产品堆存占地",
        "电厂每年产生大量脱硫石膏堆存, 希望做成建材产品消纳。",
        "environment",
        ["脱硫石膏", "建材"],
    ),
]


def write_folder(folder: Path) -> None:
    def jsonl(name: str, rows: list[dict[str, object]]) -> None:
        (folder / name).write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")

    jsonl(
        "achievements.jsonl",
        [
            {
                "external_id": key, "title": title, "summary": summary, "field": field, "keywords": keywords,
                "maturity": "pilot", "trl": 6, "ip_type": "invention_patent", "transaction_modes": ["transfer"],
                "price": 300000, "region": "150100", "owner": "内蒙古测试大学", "owner_kind": "university",
            }
            for key, title, summary, field, keywords in ACHIEVEMENTS
        ],
    )  # fmt: skip
    jsonl(
        "demands.jsonl",
        [
            {
                "external_id": key, "title": title, "description": body, "field": field, "keywords": keywords,
                "budget_max": None, "region": "150600", "transaction_modes": ["transfer"], "min_maturity": None,
                "owner": f"测试企业{key}有限公司", "owner_kind": "enterprise",
            }
            for key, title, body, field, keywords in DEMANDS
        ],
    )  # fmt: skip
    jsonl(
        "qrels.jsonl",
        [
            {"demand": "D1", "achievement": "A4", "grade": 3},
            {"demand": "D2", "achievement": "A5", "grade": 3},
            {"demand": "D3", "achievement": "A2", "grade": 3},
            {"demand": "D4", "achievement": "A3", "grade": 3},
        ],
    )
    jsonl(
        "queries.jsonl",
        [
            {"q": "储氢合金", "relevant": ["A1"], "kind": "exact"},
            {"q": "脱硫石膏板", "relevant": ["A3"], "kind": "exact"},
            {"q": "土豆脱毒", "relevant": ["A2"], "kind": "synonym"},
            {"q": "羊绒细度", "relevant": ["A6"], "kind": "exact"},
        ],
    )


def test_eval_matching_prints_as_evaluated_and_cross_validated_figures(tmp_path: Path) -> None:
    write_folder(tmp_path)
    result = CliRunner().invoke(
        app, ["eval", "matching", str(tmp_path), "--engine", "embedded", "--folds", "2"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    out = result.output
    assert "2-fold CV" in out and "as evaluated" in out and "BM25 (jieba)" in out
    held_out = [line for line in out.splitlines() if "2-fold CV" in line and "│" in line]
    assert len(held_out) == 2  # BM25 on the same folds, and the engine with its ratio to it
    assert "×)" in held_out[1] and "×)" not in held_out[0]
    kinds = {
        line.split("│")[1].strip()
        for line in out.splitlines()
        if line.startswith("│ exact") or line.startswith("│ synonym")
    }
    assert kinds == {"exact (3)", "synonym (1)"}
    exact = next(line for line in out.splitlines() if line.startswith("│ exact"))
    assert exact.split("│")[3].strip() == "1.00 / 1.00"  # the engine finds every exact query, held out too
    assert "fitted per fold" in out


def test_meilisearch_without_a_server_is_refused_by_name(tmp_path: Path) -> None:
    write_folder(tmp_path)
    result = CliRunner().invoke(app, ["eval", "matching", str(tmp_path), "--engine", "meilisearch"])
    assert result.exit_code == 2
    assert "--search-url" in result.output
