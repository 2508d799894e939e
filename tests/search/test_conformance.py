"""One conformance suite, the same cases on both engines (embedded SQLite FTS5, real Meilisearch)."""

from __future__ import annotations

import asyncio
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from core.db import Database, create_engine
from core.settings import Settings
from search.adapters import build_engine
from search.adapters.embedded import EmbeddedEngine
from search.adapters.meilisearch import MeilisearchEngine
from search.documents import SearchDocument
from search.errors import QueryTooLong, SearchUnavailable
from search.pipeline import SearchEngine
from search.query import SearchQuery
from tests.fixtures.meilisearch import MeiliServer


def doc(id: int, title: str, body: str, **extra: object) -> SearchDocument:
    values: dict[str, object] = dict(
        id=id,
        kind="achievement",
        title=title,
        body=body,
        keywords=[],
        field="new_materials",
        region="150200",
        maturity="pilot",
        trl=5,
        ip_type="invention_patent",
        transaction_modes=["transfer"],
        price_fen=None,
        owner_id=id * 10,
        owner_name="测试单位",
        owner_kind="university",
        published_at=datetime(2025, 1, (id - 1) % 28 + 1, tzinfo=UTC),
    )
    values.update(extra)
    return SearchDocument.model_validate(values)


DOCS = [
    doc(
        1,
        "稀土永磁材料制备技术",
        "高性能钕铁硼磁体的晶界扩散工艺, 用于风力发电机组和新能源汽车电机。",
        keywords=["稀土", "磁性材料"],
        region="150200",
        maturity="industrialized",
        trl=8,
        transaction_modes=["transfer", "license"],
        price_fen=500_000_000,
        owner_name="包头稀土研究院",
        owner_kind="institute",
    ),
    doc(
        2,
        "马铃薯淀粉加工废水资源化技术",
        "从马铃薯淀粉废水中回收蛋白, 出水化学需氧量降低80%。",
        keywords=["淀粉废水", "蛋白回收"],
        field="environment",
        region="150900",
        maturity="pilot",
        trl=5,
        ip_type="utility_model",
        transaction_modes=["license"],
        price_fen=80_000_000,
        owner_name="内蒙古农业大学",
    ),
    doc(
        3,
        "Lithium-ion battery cathode recycling",
        "Hydrometallurgical recovery of lithium and cobalt from spent batteries.",
        keywords=["recycling"],
        field="new_energy",
        region="110000",
        maturity="lab",
        trl=4,
        ip_type="know_how",
        transaction_modes=["joint_development"],
        price_fen=None,
        owner_name="清华大学",
    ),
    doc(
        4,
        "光伏组件清洗机器人",
        "沙尘地区太阳能电池板自动清洗, 节水90%, 采用ＬＥＤ状态指示。",
        keywords=["清洗机器人"],
        field="advanced_manufacturing",
        region="150600",
        maturity="industrialized",
        trl=7,
        ip_type="software_copyright",
        transaction_modes=["transfer"],
        price_fen=30_000_000,
        owner_name="鄂尔多斯智能装备有限公司",
        owner_kind="enterprise",
    ),
    doc(
        5,
        "蒙药复方制剂质量控制方法",
        "蒙医药传统复方的指纹图谱与含量测定, 適用於醫院製劑。",
        keywords=["蒙药", "质量控制"],
        field="biomedicine",
        region="150100",
        maturity="research",
        trl=2,
        transaction_modes=["equity"],
        price_fen=200_000_000,
        owner_name="内蒙古医科大学",
    ),
    doc(
        6,
        "GPU集群算力调度平台",
        "面向大模型训练的GPU资源调度与弹性伸缩, 利用率提升30%。",
        keywords=["算力调度", "GPU"],
        field="electronic_info",
        region="310000",
        maturity="pilot",
        trl=6,
        ip_type="software_copyright",
        transaction_modes=["license", "joint_development"],
        price_fen=150_000_000,
        owner_name="上海算力研究所",
        owner_kind="institute",
    ),
]
DEMAND = doc(
    7, "寻求稀土抛光粉回收技术", "企业每年产生废抛光粉, 希望回收稀土。", kind="demand", owner_kind="enterprise"
)


@pytest.fixture(params=["embedded", "meilisearch", "meilisearch+sqlite"])
def engine_kind(request: pytest.FixtureRequest) -> tuple[str, MeiliServer | None, str | None]:
    """(kind, Meilisearch server, migrated SQLite template), fetched here: those fixtures are synchronous."""
    if request.param == "embedded":
        return "embedded", None, None
    server: MeiliServer = request.getfixturevalue("meili_server")
    if request.param == "meilisearch":
        return "meilisearch", server, None
    return "meilisearch+sqlite", server, request.getfixturevalue("migrated_urls")["sqlite"]


@pytest.fixture
async def fresh_engine(
    engine_kind: tuple[str, MeiliServer | None, str | None], tmp_path: Path
) -> AsyncIterator[SearchEngine]:
    """Ready, with nothing indexed yet (a new deployment). "meilisearch+sqlite" is built as the
    service builds it for the embedded SQLite file against a hosted Meilisearch."""
    kind, server, template = engine_kind
    database: Database | None = None
    if kind == "embedded":
        engine: SearchEngine = EmbeddedEngine(tmp_path / "search.db")
    elif kind == "meilisearch":
        assert server is not None
        engine = MeilisearchEngine(
            server.url, api_key=server.master_key, index_prefix=f"t{uuid.uuid4().hex[:12]}", wait_for_tasks=True
        )
    else:
        assert server is not None and template is not None
        database = sqlite_database(template, tmp_path)
        engine = build_engine(
            Settings(
                search_url=server.url, search_key=server.master_key, search_index_prefix=f"t{uuid.uuid4().hex[:12]}"
            ),
            database,
        )
    engine.database = database  # type: ignore[attr-defined]  # the searches below run inside its transactions
    await engine.ensure_ready()
    yield engine
    await engine.aclose()
    if database is not None:
        await database.dispose()


def sqlite_database(template_url: str, directory: Path) -> Database:
    copy = directory / "techmarket.db"
    shutil.copyfile(template_url.removeprefix("sqlite+aiosqlite:///"), copy)
    return Database(create_engine(f"sqlite+aiosqlite:///{copy}"))


@pytest.fixture
async def engine(fresh_engine: SearchEngine) -> SearchEngine:
    """Holding DOCS and DEMAND."""
    await fresh_engine.upsert("achievement", DOCS)
    await fresh_engine.upsert("demand", [DEMAND])
    return fresh_engine


async def ids(engine: SearchEngine, text: str = "", **kwargs: object) -> list[int]:
    result = await engine.search("achievement", SearchQuery(text=text, **kwargs))  # type: ignore[arg-type]
    return [hit.id for hit in result.hits]


async def test_health_and_count(engine: SearchEngine) -> None:
    assert await engine.health()
    assert await engine.count("achievement") == 6
    assert await engine.count("demand") == 1


@pytest.mark.parametrize(
    ("text", "first"),
    [
        ("稀土永磁", 1),  # Chinese
        ("lithium recycling", 3),  # English
        ("GPU算力", 6),  # mixed
        ("淀粉废水回收蛋白", 2),  # a phrase of several words
        ("包头稀土研究院", 1),  # owner organisation names are searchable
        ("磁材", 1),  # synonym from the thesaurus (磁材 → 磁性材料)
        ("土豆", 2),  # 土豆 → 马铃薯
        ("锂电", 3),  # 锂电 → lithium-ion
        ("馬鈴薯", 2),  # traditional characters
        ("xitu", 1),  # pinyin
        ("xi tu", 1),  # pinyin typed with a space
        ("ma ling shu dian fen", 2),  # pinyin typed a syllable at a time
        ("lithum", 3),  # English typo
        ("hydrometalurgical", 3),  # English typo in a long word
        ("led", 4),  # full-width ＬＥＤ in the document
    ],
)
async def test_free_text(engine: SearchEngine, text: str, first: int) -> None:
    assert (await ids(engine, text))[:1] == [first]


async def test_word_inside_longer_word_is_found(engine: SearchEngine) -> None:
    assert await ids(engine, "磁体") == [1]  # 钕铁硼磁体: jieba keeps 磁体 inside a longer token elsewhere
    assert 6 in await ids(engine, "调度")


async def test_a_word_no_listing_holds_reads_as_its_characters(engine: SearchEngine) -> None:
    """A shortening or folk word nothing holds (冻车, 湿电) gets the listings holding its characters,
    near each other and in order first, and says so, rather than an empty page."""
    await engine.upsert("achievement", [doc(8, "永久磁铁充磁检测", "适用于稀有金属元件。")])  # apart
    result = await engine.search("achievement", SearchQuery(text="稀磁"))
    assert result.relaxed
    assert [hit.id for hit in result.hits] == [1, 8]
    assert result.total == 2
    assert result.hits[0].highlights["title"] == "<em>稀土永磁</em>材料制备技术"
    assert not (await engine.search("achievement", SearchQuery(text="稀土"))).relaxed
    nothing = await engine.search("achievement", SearchQuery(text="猫腻"))
    assert (nothing.total, nothing.relaxed) == (0, True)
    # a word listings hold, only none within the filters, is not read as characters
    elsewhere = await engine.search("achievement", SearchQuery(text="永磁", regions=["150900"]))
    assert (elsewhere.total, elsewhere.relaxed) == (0, False)


async def test_kinds_are_separate(engine: SearchEngine) -> None:
    assert 1 in await ids(engine, "稀土")
    demands = await engine.search("demand", SearchQuery(text="稀土"))
    assert [hit.id for hit in demands.hits] == [7]


async def test_highlights_mark_the_original_text(engine: SearchEngine) -> None:
    hit = (await engine.search("achievement", SearchQuery(text="馬鈴薯"))).hits[0]
    assert hit.highlights["title"] == "<em>马铃薯</em>淀粉加工废水资源化技术"
    assert "<em>马铃薯</em>淀粉废水" in hit.highlights["body"]
    led = (await engine.search("achievement", SearchQuery(text="led"))).hits[0]
    assert "<em>ＬＥＤ</em>" in led.highlights["body"]
    traditional = (await engine.search("achievement", SearchQuery(text="医院制剂"))).hits[0]
    assert "<em>醫院製劑</em>" in traditional.highlights["body"]  # simplified query, traditional text
    pinyin = (await engine.search("achievement", SearchQuery(text="xitu"))).hits[0]
    assert pinyin.highlights["title"].startswith("<em>稀土</em>")


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"fields": ["environment", "biomedicine"]}, {2, 5}),
        ({"regions": ["150000"]}, {1, 2, 4, 5}),  # a province matches all its 盟市
        ({"regions": ["150200", "310000"]}, {1, 6}),
        ({"maturity": ["industrialized"]}, {1, 4}),
        ({"trl_min": 5, "trl_max": 7}, {2, 4, 6}),
        ({"transaction_modes": ["license", "equity"]}, {1, 2, 5, 6}),  # any of
        ({"price_min_fen": 50_000_000, "price_max_fen": 200_000_000}, {2, 5, 6}),  # 面议 excluded
        ({"ip_types": ["software_copyright"]}, {4, 6}),
        ({"owner_kinds": ["institute", "enterprise"]}, {1, 4, 6}),
    ],
)
async def test_filters(engine: SearchEngine, filters: dict[str, object], expected: set[int]) -> None:
    assert set(await ids(engine, "", **filters)) == expected
    with_text = await engine.search("achievement", SearchQuery(text="技术", **filters))  # type: ignore[arg-type]
    assert {hit.id for hit in with_text.hits} <= expected


async def test_facet_counts(engine: SearchEngine) -> None:
    facets = ["field", "region", "maturity", "ip_type", "transaction_modes", "owner_kind"]
    browse = await engine.search("achievement", SearchQuery(facets=facets))  # type: ignore[arg-type]
    assert browse.total == 6
    assert browse.facets["transaction_modes"] == {"transfer": 2, "license": 3, "joint_development": 2, "equity": 1}
    assert browse.facets["maturity"] == {"industrialized": 2, "pilot": 2, "lab": 1, "research": 1}
    assert browse.facets["owner_kind"] == {"institute": 2, "university": 3, "enterprise": 1}
    matched = await engine.search("achievement", SearchQuery(text="稀土 蒙药", facets=["field", "region"]))
    assert matched.total == 2
    assert matched.facets == {"field": {"new_materials": 1, "biomedicine": 1}, "region": {"150200": 1, "150100": 1}}
    filtered = await engine.search("achievement", SearchQuery(regions=["150000"], facets=["owner_kind"]))
    assert filtered.facets["owner_kind"] == {"institute": 1, "university": 2, "enterprise": 1}


async def test_sorts(engine: SearchEngine) -> None:
    assert await ids(engine, "", sort="newest") == [6, 5, 4, 3, 2, 1]
    assert await ids(engine, "", sort="price_asc") == [4, 2, 6, 5, 1, 3]  # 面议 last
    assert await ids(engine, "", sort="price_desc") == [1, 5, 6, 2, 4, 3]
    assert await ids(engine, "技术 调度", sort="newest") == [6, 2, 1]
    assert await ids(engine, "技术 调度", sort="price_asc") == [2, 6, 1]


async def test_pagination(engine: SearchEngine) -> None:
    pages = [await ids(engine, "", sort="newest", offset=offset, limit=2) for offset in (0, 2, 4)]
    assert pages == [[6, 5], [4, 3], [2, 1]]
    beyond = await engine.search("achievement", SearchQuery(offset=50, limit=10))
    assert beyond.hits == [] and beyond.total == 6
    relevance = [await ids(engine, "技术 调度", offset=offset, limit=1) for offset in range(4)]
    assert [page for page in relevance if page] == [[i] for i in await ids(engine, "技术 调度")]
    assert relevance[-1] == []


async def test_counts_are_exact_beyond_the_deepest_page(fresh_engine: SearchEngine) -> None:
    """Totals, and the document frequencies relevance is weighted by, count every match: paging
    stops at MAX_WINDOW (1,000), counting does not."""
    many = [doc(i, f"稀土永磁材料 {i} 号", "稀土", region="150200" if i % 2 else "150600") for i in range(1, 1201)]
    await fresh_engine.upsert("achievement", many)
    for query, total in (
        (SearchQuery(text="稀土"), 1200),
        (SearchQuery(), 1200),
        (SearchQuery(text="永磁", regions=["150200"]), 600),
        (SearchQuery(text="稀土", sort="newest"), 1200),
    ):
        result = await fresh_engine.search("achievement", query)
        assert result.total == total, query
    deepest = await fresh_engine.search("achievement", SearchQuery(text="稀土", offset=990, limit=20))
    assert len(deepest.hits) == 10 and deepest.total == 1200


async def test_empty_and_punctuation_queries_browse(engine: SearchEngine) -> None:
    for typed in ("", "   ", "？！…", "\"'"):
        result = await engine.search("achievement", SearchQuery(text=typed))
        assert result.total == 6 and len(result.hits) == 6


async def test_a_kind_with_nothing_published_answers_empty(fresh_engine: SearchEngine) -> None:
    queries = [
        SearchQuery(text="稀土 永磁", facets=["field"]),
        SearchQuery(text="xitu"),
        SearchQuery(text="稀土", sort="price_asc"),
        SearchQuery(text="稀土 永磁", candidates_only=True),
        SearchQuery(),
    ]
    for query in queries:
        result = await fresh_engine.search("demand", query)
        assert (result.total, result.hits) == (0, []), query
    await fresh_engine.upsert("demand", [DEMAND])  # and the first listing is found as usual
    assert [hit.id for hit in (await fresh_engine.search("demand", SearchQuery(text="稀土"))).hits] == [7]


async def test_too_long_query_is_refused() -> None:
    with pytest.raises(QueryTooLong) as error:
        SearchQuery(text="稀" * 201)
    assert error.value.code == "query_too_long" and error.value.status_code == 422


async def test_filter_injection_is_harmless(engine: SearchEngine) -> None:
    hostile = ['150200" OR region != "x', "150200') OR ('1'='1", 'x" OR 1 = 1', "a = b", "\\", "OR"]
    for value in hostile:  # model_construct skips the schema: the adapter alone must hold
        query = SearchQuery.model_construct(**{**SearchQuery().model_dump(), "regions": [value], "fields": [value]})
        assert (await engine.search("achievement", query)).hits == []
    for typed in hostile + ['"稀土" OR "光伏"', "NEAR(稀土 光伏)", "稀土 AND -光伏", "{t_title}: 稀土", "*"]:
        await engine.search("achievement", SearchQuery(text=typed))  # no error, no engine syntax


async def test_a_rare_word_is_not_crowded_out_by_a_common_one(engine: SearchEngine) -> None:
    """More documents hold the common word in their title than the engine re-ranks; the one
    document with the rare word (in its body only) must still be found, and first."""
    common = [doc(100 + i, f"智能控制系统{i}号", "自动控制与远程监控。") for i in range(130)]
    rare = doc(99, "新型太阳能电池", "采用钙钛矿叠层结构, 转换效率提升。")
    await engine.upsert("achievement", [*common, rare])
    assert (await ids(engine, "控制 钙钛矿"))[0] == 99


async def test_upsert_is_idempotent_and_replaces(engine: SearchEngine) -> None:
    await engine.upsert("achievement", DOCS[:2])
    await engine.upsert("achievement", DOCS[:2])
    assert await engine.count("achievement") == 6
    await engine.upsert("achievement", [DOCS[0].model_copy(update={"title": "高温超导带材", "keywords": []})])
    assert await ids(engine, "超导") == [1]
    assert 1 not in await ids(engine, "制备")  # the old title's word (永磁 would find its body's 钕铁硼)


async def test_delete(engine: SearchEngine) -> None:
    await engine.delete("achievement", [2, 999])
    assert await engine.count("achievement") == 5
    assert await ids(engine, "马铃薯") == []
    await engine.delete("achievement", [2])  # again: nothing to do, no error


async def test_rebuild_swaps_while_serving(engine: SearchEngine) -> None:
    served: list[list[int]] = []

    async def source() -> AsyncIterator[SearchDocument]:
        for document in DOCS[2:]:
            served.append(await ids(engine, "马铃薯"))  # the old index keeps answering mid-rebuild
            yield document
            await asyncio.sleep(0)

    assert await engine.rebuild("achievement", source(), batch_size=2) == 4
    assert served and all(hits == [2] for hits in served)
    assert await engine.count("achievement") == 4
    assert await ids(engine, "马铃薯") == []
    assert await ids(engine, "xitu") == []
    assert await ids(engine, "光伏") == [4]
    assert await engine.count("demand") == 1  # other kinds untouched


async def test_writes_during_rebuild_are_kept(engine: SearchEngine) -> None:
    async def source() -> AsyncIterator[SearchDocument]:
        yield DOCS[0]
        await engine.delete("achievement", [1])
        await engine.upsert("achievement", [DOCS[1]])
        yield DOCS[2]

    await engine.rebuild("achievement", source())
    assert sorted(await ids(engine, "")) == [2, 3]


async def test_ids_are_every_indexed_document(engine: SearchEngine) -> None:
    assert await engine.ids("achievement") == {d.id for d in DOCS}
    await engine.delete("achievement", [2])
    assert await engine.ids("achievement") == {d.id for d in DOCS} - {2}
    assert await engine.ids("demand") == {DEMAND.id}


async def test_a_search_inside_a_request_transaction_never_waits_on_the_database(engine: SearchEngine) -> None:
    """A search runs inside its request's unit of work; on SQLite that transaction holds the one
    write lock, so an engine that opened a transaction of its own (to share term counts) would wait
    out the busy timeout on its own request, and every other request behind it."""
    database: Database | None = engine.database  # type: ignore[attr-defined]
    if database is None:
        pytest.skip("an engine without the service's database")
    async with database.unit_of_work() as session:
        await session.execute(text("SELECT 1"))  # BEGIN IMMEDIATE on SQLite: the write lock is held
        started = time.monotonic()
        result = await asyncio.wait_for(engine.search("achievement", SearchQuery(text="稀土 回收 电机")), timeout=30)
        assert time.monotonic() - started < 2.0  # the busy timeout is 5 s
    assert result.hits and result.hits[0].id == 1


async def test_engine_down_is_unavailable_within_bounds(tmp_path: Path) -> None:
    with socket_closed() as port:
        meili = build_engine(Settings(search_url=f"http://127.0.0.1:{port}", search_key="k", search_timeout_seconds=1))
        blocker = tmp_path / "file"
        blocker.write_text("not a directory")
        embedded = build_engine(Settings(data_dir=blocker / "sub", search_timeout_seconds=1))
        for down in (meili, embedded):
            started = time.monotonic()
            with pytest.raises(SearchUnavailable) as error:
                await down.search("achievement", SearchQuery(text="稀土"))
            assert time.monotonic() - started < 5
            assert error.value.code == "search_unavailable" and error.value.status_code == 503
            assert "127.0.0.1" not in error.value.title and "Errno" not in error.value.title
            assert await down.health() is False
            await down.aclose()


class socket_closed:
    """A loopback port nothing listens on."""

    def __enter__(self) -> int:
        import socket

        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            return int(sock.getsockname()[1])

    def __exit__(self, *exc: object) -> None:
        return None
