"""The dev set as a regression test, on both engines, through `python -m tooling.evaluation`'s code."""

from __future__ import annotations

from tests.fixtures.meilisearch import MeiliServer
from tests.prerequisites import EVAL_SET, needs
from tooling.evaluation import evaluate

DEV_SET = EVAL_SET
pytestmark = needs(DEV_SET.is_dir(), f"the matching evaluation set is not at {DEV_SET}")


async def test_matching_and_search_quality_on_both_engines(meili_server: MeiliServer) -> None:
    results = await evaluate(
        DEV_SET,
        {"embedded": {}, "meilisearch": {"search_url": meili_server.url, "search_key": meili_server.master_key}},
    )
    baseline = results["BM25 (jieba)"]
    for name, scores in results.items():
        print(
            f"{name:14s} nDCG@10 {scores.ndcg:.3f} R@10 {scores.recall:.3f} MRR {scores.mrr:.3f} "
            f"top3 {scores.top3:.0%} | search R@10 {scores.search_recall:.3f} MRR {scores.search_mrr:.3f}"
        )
    for name in ("embedded", "meilisearch"):
        scores = results[name]
        assert scores.ndcg >= 1.3 * baseline.ndcg, name
        assert scores.top3 >= 0.85, name
        assert scores.search_recall >= 0.95, name
