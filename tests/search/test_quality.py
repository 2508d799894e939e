"""The dev set as a regression test, on both engines, through `techmarket eval matching`'s code."""

from __future__ import annotations

import httpx

from search.evaluation.folds import average
from search.evaluation.runs import Target, evaluate
from tests.fixtures.meilisearch import MeiliServer
from tests.prerequisites import EVAL_SET, needs

DEV_SET = EVAL_SET
pytestmark = needs(DEV_SET.is_dir(), f"the matching evaluation set is not at {DEV_SET}")


def index_uids(meili_server: MeiliServer) -> set[str]:
    listed = httpx.get(f"{meili_server.url}/indexes", headers=meili_server.headers, params={"limit": 1000}).json()
    return {index["uid"] for index in listed["results"]}


async def test_matching_and_search_quality_on_both_engines(meili_server: MeiliServer) -> None:
    before = index_uids(meili_server)
    reports = await evaluate(
        DEV_SET,
        {"embedded": Target(), "meilisearch": Target(meili_server.url, meili_server.master_key)},
    )
    baseline = average(reports[0].matching)
    for report in reports:
        matching, search = average(report.matching), average(report.search)
        held_out = average(report.matching_cv.held_out) if report.matching_cv else matching
        print(
            f"{report.name:14s} nDCG@10 {matching['ndcg']:.3f} (CV {held_out['ndcg']:.3f})"
            f" R@10 {matching['recall']:.3f} MRR {matching['mrr']:.3f} top3 {matching['top3']:.0%}"
            f" | search R@10 {search['recall']:.3f} MRR {search['mrr']:.3f}"
        )
    for report in reports[1:]:
        matching, search = average(report.matching), average(report.search)
        assert report.matching_cv is not None and report.search_cv is not None
        held_out = average(report.matching_cv.held_out)
        assert matching["ndcg"] >= 1.3 * baseline["ndcg"], report.name
        assert held_out["ndcg"] >= 1.25 * baseline["ndcg"], report.name  # fitted weights, scored unseen
        assert matching["top3"] >= 0.85, report.name
        assert search["recall"] >= 0.95, report.name
        assert not report.notes, report.notes
    assert index_uids(meili_server) <= before  # the run dropped the indexes it made
