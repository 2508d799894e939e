"""Embedded engine: SQLite FTS5 in its own file (``<data_dir>/search.db``), through aiosqlite.

FTS5 ships inside Python's sqlite3 and needs no server. Text columns hold one token per CJK character
(``search.text``), so a phrase query is an exact substring search; filters are bound SQL parameters;
a rebuild fills new tables and renames them in one transaction.
"""

from __future__ import annotations

import asyncio
import json
import sqlite3
import time
from collections.abc import AsyncIterable, Awaitable, Callable, Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any, TypeVar

import aiosqlite
import structlog

from search.adapters.shared import DocumentFrequencies, aiter_docs, count_facets, index_fields, region_filters
from search.documents import KINDS, Kind, SearchDocument
from search.errors import SearchUnavailable
from search.pipeline import CANDIDATE_FIELDS, RERANK_WINDOW, Candidates, SearchResult, run
from search.query import MAX_WINDOW, SearchQuery
from search.rank import PINYIN_FIELDS, TEXT_FIELDS
from search.text import QueryPlan, Term, edit_distance

log = structlog.get_logger("techmarket.search.embedded")
T = TypeVar("T")

TEXT_COLUMNS = tuple(f"t_{name}" for name in TEXT_FIELDS)  # t_title t_keywords t_body t_owner
PINYIN_COLUMNS = tuple(PINYIN_FIELDS)
FTS_COLUMNS = TEXT_COLUMNS + PINYIN_COLUMNS
_TEXT_SCOPE, _PINYIN_SCOPE = "{" + " ".join(TEXT_COLUMNS) + "}", "{" + " ".join(PINYIN_COLUMNS) + "}"
BM25_WEIGHTS = ", ".join(str(weight) for weight, _ in (*TEXT_FIELDS.values(), *PINYIN_FIELDS.values()))
SCALAR_FACETS = {"field", "region", "maturity", "ip_type", "owner_kind"}
STORED = tuple(
    dict.fromkeys(
        (
            "id",
            "title",
            "body",
            "n_title",
            "n_keywords",
            "n_body",
            "n_owner",
            "py_title",
            "py_body",
            "published_ts",
            "price_fen",
            *CANDIDATE_FIELDS,
        )
    )
)
SORT_SQL = {
    "newest": "d.published_ts DESC, d.id DESC",
    "relevance": "d.published_ts DESC, d.id DESC",
    "price_asc": "d.price_fen IS NULL, d.price_fen ASC, d.id ASC",
    "price_desc": "d.price_fen IS NULL, d.price_fen DESC, d.id DESC",
}


def _tables(kind: Kind, suffix: str = "") -> tuple[str, str, str]:
    if kind not in KINDS:  # table names come from this whitelist only
        raise ValueError(kind)
    return f"{kind}_docs{suffix}", f"{kind}_fts{suffix}", f"{kind}_vocab{suffix}"


def _schema(kind: Kind, suffix: str = "") -> list[str]:
    docs, fts, vocab = _tables(kind, suffix)
    return [
        f"""CREATE TABLE IF NOT EXISTS {docs} (
            id INTEGER PRIMARY KEY, field TEXT, region TEXT, prefecture TEXT, province TEXT,
            maturity TEXT, trl INTEGER, ip_type TEXT, owner_kind TEXT, price_fen INTEGER,
            published_ts INTEGER NOT NULL, modes TEXT NOT NULL, data TEXT NOT NULL)""",
        f"""CREATE VIRTUAL TABLE IF NOT EXISTS {fts} USING fts5(
            {", ".join(FTS_COLUMNS)},
            tokenize = 'unicode61 remove_diacritics 2')""",
        f"CREATE VIRTUAL TABLE IF NOT EXISTS {vocab} USING fts5vocab({fts}, 'row')",
    ]


def _row(data: dict[str, Any]) -> tuple[Any, ...]:
    stored = {key: data[key] for key in STORED}
    return (
        data["id"],
        data["field"],
        data["region"],
        data["prefecture"],
        data["province"],
        data["maturity"],
        data["trl"],
        data["ip_type"],
        data["owner_kind"],
        data["price_fen"],
        data["published_ts"],
        json.dumps(data["transaction_modes"]),
        json.dumps(stored, ensure_ascii=False),
    )


def _fts_row(data: dict[str, Any]) -> tuple[Any, ...]:
    return (data["id"], *(data[column] for column in FTS_COLUMNS))


def _filters(query: SearchQuery) -> tuple[list[str], list[Any]]:
    clauses: list[str] = []
    params: list[Any] = []

    def any_of(column: str, values: Sequence[Any]) -> None:
        if values:
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(values)

    any_of("d.field", query.fields)
    any_of("d.maturity", query.maturity)
    any_of("d.ip_type", query.ip_types)
    any_of("d.owner_kind", query.owner_kinds)
    if query.regions:
        parts = [f"d.{attribute} = ?" for attribute, _ in region_filters(query.regions)]
        clauses.append(f"({' OR '.join(parts)})")
        params.extend(value for _, value in region_filters(query.regions))
    if query.transaction_modes:
        marks = ", ".join("?" * len(query.transaction_modes))
        clauses.append(f"EXISTS (SELECT 1 FROM json_each(d.modes) j WHERE j.value IN ({marks}))")
        params.extend(query.transaction_modes)
    for column, op, value in (
        ("d.trl", ">=", query.trl_min),
        ("d.trl", "<=", query.trl_max),
        ("d.price_fen", ">=", query.price_min_fen),
        ("d.price_fen", "<=", query.price_max_fen),
    ):
        if value is not None:
            clauses.append(f"{column} {op} ?")
            params.append(value)
    return clauses, params


def _summary_sql(source: str, where: str, facets: Sequence[str], fts: str | None, window: int) -> str:
    """One statement for the total, the facet counts and, given ``fts``, the ids of the ``window``
    best matches by BM25 (rows ``("", None, total)``, ``(facet, value, count)``, ``("#", id, score)``):
    a common table expression runs the full-text match once for all of them."""
    columns = "d.id, d.field, d.region, d.maturity, d.ip_type, d.owner_kind, d.modes"
    if fts:
        columns += f", bm25({fts}, {BM25_WEIGHTS}) AS score"
    parts = ["SELECT '', NULL, count(*) FROM m"]
    for name in facets:  # FacetName values only: the query model validated them
        if name in SCALAR_FACETS:
            parts.append(f"SELECT '{name}', {name}, count(*) FROM m WHERE {name} IS NOT NULL GROUP BY 2")
        else:
            parts.append(f"SELECT '{name}', j.value, count(*) FROM m JOIN json_each(m.modes) j GROUP BY 2")
    if fts:
        parts.append(f"SELECT '#', id, score FROM (SELECT id, score FROM m ORDER BY score LIMIT {int(window)})")
    return f"WITH m AS (SELECT {columns} FROM {source} {where}) " + " UNION ALL ".join(parts)


def _fts_phrase(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


class EmbeddedEngine:
    name = "embedded"
    warms_term_counts = False  # FTS5's bm25 weighs rare terms itself; nothing to count ahead

    def __init__(self, path: Path, *, timeout_seconds: float = 3.0, frequencies_ttl_seconds: float = 300.0) -> None:
        self.path = Path(path)
        self.timeout = timeout_seconds
        self._write: aiosqlite.Connection | None = None
        self._read: aiosqlite.Connection | None = None
        self._open_lock = asyncio.Lock()
        self._write_lock = asyncio.Lock()
        self._building: dict[str, set[int]] = {}  # kind → ids written live while a rebuild runs
        self._frequencies = DocumentFrequencies(frequencies_ttl_seconds)  # for BM25: documents in scope, per term

    # ------------------------------------------------------------ plumbing

    async def _guard(self, work: Callable[[], Awaitable[T]], timeout: float | None = None) -> T:
        try:
            return await asyncio.wait_for(work(), timeout or self.timeout)
        except (sqlite3.Error, OSError, ValueError, TimeoutError) as exc:
            log.warning("search_engine_error", engine=self.name, error=repr(exc))
            raise SearchUnavailable() from exc

    async def _connect(self) -> tuple[aiosqlite.Connection, aiosqlite.Connection]:
        async with self._open_lock:
            if self._write is None or self._read is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                write = await aiosqlite.connect(self.path, isolation_level=None)
                await write.execute("PRAGMA journal_mode=WAL")
                await write.execute("PRAGMA synchronous=NORMAL")
                await write.execute("PRAGMA busy_timeout=5000")
                for kind in KINDS:
                    for statement in _schema(kind):
                        await write.execute(statement)
                read = await aiosqlite.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
                await read.execute("PRAGMA busy_timeout=5000")
                self._write, self._read = write, read
            return self._write, self._read

    async def ensure_ready(self) -> None:
        from search.text import WARM_UP_QUERY
        from search.text import analyze_query as warm

        await self._guard(self._connect)
        await asyncio.to_thread(warm, WARM_UP_QUERY)  # off the event loop

    async def aclose(self) -> None:
        for connection in (self._read, self._write):
            if connection is not None:
                await connection.close()
        self._read = self._write = None

    async def health(self) -> bool:
        try:
            _, read = await self._guard(self._connect)
            await self._guard(lambda: read.execute("SELECT 1"))
            return True
        except SearchUnavailable:
            return False

    # ------------------------------------------------------------ writes

    async def _put(self, db: aiosqlite.Connection, kind: Kind, rows: list[dict[str, Any]], suffix: str = "") -> None:
        docs, fts, _ = _tables(kind, suffix)
        ids = [(row["id"],) for row in rows]
        await db.executemany(f"DELETE FROM {fts} WHERE rowid = ?", ids)
        await db.executemany(f"INSERT OR REPLACE INTO {docs} VALUES ({', '.join('?' * 13)})", [_row(r) for r in rows])
        await db.executemany(
            f"INSERT INTO {fts} (rowid, {', '.join(FTS_COLUMNS)}) VALUES ({', '.join('?' * (1 + len(FTS_COLUMNS)))})",
            [_fts_row(r) for r in rows],
        )

    async def upsert(self, kind: Kind, docs: Sequence[SearchDocument]) -> None:
        if not docs:
            return
        rows = await asyncio.to_thread(lambda: [index_fields(doc) for doc in docs])
        write, _ = await self._guard(self._connect)

        async def work() -> None:
            async with self._write_lock:
                await write.execute("BEGIN IMMEDIATE")
                try:
                    await self._put(write, kind, rows)
                    if kind in self._building:
                        await self._put(write, kind, rows, "_new")
                        self._building[kind].update(row["id"] for row in rows)
                    await write.execute("COMMIT")
                except BaseException:
                    await write.execute("ROLLBACK")
                    raise

        await self._guard(work, self.timeout * 4)

    async def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        if not ids:
            return
        write, _ = await self._guard(self._connect)

        async def work() -> None:
            async with self._write_lock:
                await write.execute("BEGIN IMMEDIATE")
                try:
                    suffixes = ["", "_new"] if kind in self._building else [""]
                    for suffix in suffixes:
                        docs, fts, _ = _tables(kind, suffix)
                        await write.executemany(f"DELETE FROM {fts} WHERE rowid = ?", [(i,) for i in ids])
                        await write.executemany(f"DELETE FROM {docs} WHERE id = ?", [(i,) for i in ids])
                    if kind in self._building:
                        self._building[kind].update(ids)
                    await write.execute("COMMIT")
                except BaseException:
                    await write.execute("ROLLBACK")
                    raise

        await self._guard(work, self.timeout * 4)

    async def rebuild(
        self, kind: Kind, docs: Iterable[SearchDocument] | AsyncIterable[SearchDocument], *, batch_size: int = 500
    ) -> int:
        write, _ = await self._guard(self._connect)
        docs_t, fts_t, vocab_t = _tables(kind)
        new_docs, new_fts, new_vocab = _tables(kind, "_new")

        async def script(statements: list[str]) -> None:
            async with self._write_lock:
                await write.execute("BEGIN IMMEDIATE")
                try:
                    for statement in statements:
                        await write.execute(statement)
                    await write.execute("COMMIT")
                except BaseException:
                    await write.execute("ROLLBACK")
                    raise

        async def load(batch: list[SearchDocument]) -> None:
            rows = await asyncio.to_thread(lambda: [index_fields(doc) for doc in batch])
            async with self._write_lock:
                touched = self._building.get(kind, set())  # live writes already reached the new table
                await write.execute("BEGIN IMMEDIATE")
                try:
                    await self._put(write, kind, [r for r in rows if r["id"] not in touched], "_new")
                    await write.execute("COMMIT")
                except BaseException:
                    await write.execute("ROLLBACK")
                    raise

        drop_new = [
            f"DROP TABLE IF EXISTS {new_vocab}",
            f"DROP TABLE IF EXISTS {new_fts}",
            f"DROP TABLE IF EXISTS {new_docs}",
        ]
        await self._guard(lambda: script([*drop_new, *_schema(kind, "_new")]))
        self._building[kind] = set()
        total = 0
        try:
            batch: list[SearchDocument] = []
            async for doc in aiter_docs(docs):
                batch.append(doc)
                if len(batch) >= batch_size:
                    await self._guard(partial(load, batch), self.timeout * 10)
                    total, batch = total + len(batch), []
            if batch:
                await self._guard(partial(load, batch), self.timeout * 10)
                total += len(batch)
            await self._guard(
                lambda: script(
                    [
                        f"DROP TABLE {vocab_t}",
                        f"DROP TABLE {fts_t}",
                        f"DROP TABLE {docs_t}",
                        f"DROP TABLE {new_vocab}",
                        f"ALTER TABLE {new_docs} RENAME TO {docs_t}",
                        f"ALTER TABLE {new_fts} RENAME TO {fts_t}",
                        _schema(kind)[2],
                    ]
                )
            )
        except BaseException:
            self._building.pop(kind, None)
            await self._guard(lambda: script(drop_new))
            raise
        self._building.pop(kind, None)
        return total

    # ------------------------------------------------------------ reads

    async def count(self, kind: Kind) -> int:
        _, read = await self._guard(self._connect)
        docs, _, _ = _tables(kind)
        rows = await self._guard(lambda: read.execute_fetchall(f"SELECT count(*) FROM {docs}"))
        return int(list(rows)[0][0])

    async def ids(self, kind: Kind) -> set[int]:
        """Every document id in the live index (the consistency check compares them with the database)."""
        _, read = await self._guard(self._connect)
        docs, _, _ = _tables(kind)
        rows = await self._guard(lambda: read.execute_fetchall(f"SELECT id FROM {docs}"), self.timeout * 4)
        return {int(row[0]) for row in rows}

    async def _variants(self, read: aiosqlite.Connection, kind: Kind, word: str, budget: int) -> list[str]:
        """Indexed words within ``budget`` typos of ``word`` (same first letter, as Meilisearch)."""
        if not budget:
            return [word]
        _, _, vocab = _tables(kind)
        rows = await read.execute_fetchall(
            f"SELECT term FROM {vocab} WHERE term >= ? AND term < ? AND length(term) BETWEEN ? AND ?",
            (word[0], chr(ord(word[0]) + 1), len(word) - budget, len(word) + budget),
        )
        return [word] + [t for (t,) in rows if t != word and edit_distance(t, word, budget) <= budget]

    async def _match(self, read: aiosqlite.Connection, kind: Kind, term: Term) -> str:
        if term.field == "pinyin":
            return f"{_PINYIN_SCOPE} : {_fts_phrase(term.text)}"
        if term.field == "chars":
            return f"{_TEXT_SCOPE} : ({' AND '.join(_fts_phrase(c) for c in term.text)})"
        if term.is_ascii_word:
            variants = await self._variants(read, kind, term.text, term.typo_budget)
            return f"{_TEXT_SCOPE} : ({' OR '.join(_fts_phrase(v) for v in variants)})"
        return f"{_TEXT_SCOPE} : {_fts_phrase(term.phrase)}"

    async def warm(self, kind: Kind, queries: Sequence[SearchQuery]) -> None:
        return None

    async def search(self, kind: Kind, query: SearchQuery) -> SearchResult:
        return await run(self, kind, query)

    async def candidates(self, kind: Kind, query: SearchQuery, plan: QueryPlan) -> Candidates:
        _, read = await self._guard(self._connect)
        return await self._guard(lambda: self._candidates(read, kind, plan, query))

    async def _candidates(
        self, read: aiosqlite.Connection, kind: Kind, plan: QueryPlan, query: SearchQuery
    ) -> Candidates:
        docs_t, fts_t, _ = _tables(kind)
        clauses, params = _filters(query)
        source = f"{docs_t} d"
        if not plan.empty:
            matches = {term.key: await self._match(read, kind, term) for term in plan.terms}
            source = f"{fts_t} f JOIN {docs_t} d ON d.id = f.rowid"
            clauses = [f"{fts_t} MATCH ?", *clauses]
            params = [" OR ".join(f"({m})" for m in matches.values()), *params]
        where = f"WHERE {' AND '.join(clauses)}" if clauses else ""

        async def fetch(sql: str, args: Sequence[Any]) -> list[Any]:
            return list(await read.execute_fetchall(sql, args))

        async def documents(ids: Sequence[int]) -> list[dict[str, Any]]:
            """Stored documents in the order of ``ids``, read apart so SQLite never loads a match it then drops."""
            rows = await fetch(f"SELECT id, data FROM {docs_t} WHERE id IN ({', '.join('?' * len(ids))})", ids)
            stored = {int(id_): data for id_, data in rows}
            return [json.loads(stored[i]) for i in ids if i in stored]

        async def first(order: str, limit: int, offset: int) -> list[dict[str, Any]]:
            ids = await fetch(
                f"SELECT d.id FROM {source} {where} ORDER BY {order} LIMIT ? OFFSET ?", [*params, limit, offset]
            )
            return await documents([int(i) for (i,) in ids])

        if query.candidates_only:  # matching: the engine's own order, nothing counted or re-ranked
            order = SORT_SQL["newest"] if plan.empty else f"bm25({fts_t}, {BM25_WEIGHTS})"
            page = await first(order, query.limit, query.offset)
            return Candidates(page, total=query.offset + len(page), paged=True)
        relevance = not plan.empty and query.sort == "relevance"
        window = max(query.window, RERANK_WINDOW) if relevance else 0
        summary = await fetch(_summary_sql(source, where, query.facets, fts_t if relevance else None, window), params)
        total = next(n for name, _, n in summary if name == "")
        facets = count_facets(query.facets, [])
        for name, value, n in summary:
            if name in facets:
                facets[name][str(value)] = int(n)
        if query.offset >= min(total, MAX_WINDOW):
            return Candidates([], total=total, facets=facets)
        if relevance:
            candidates = await documents([int(value) for name, value, _ in summary if name == "#"])
        else:
            candidates = await first(SORT_SQL[query.sort], min(query.limit, MAX_WINDOW - query.offset), query.offset)
        df: dict[str, int] = {}
        n_docs = total
        if not plan.empty:
            filters = clauses[1:]
            scope = (kind, json.dumps([filters, params[1:]], ensure_ascii=False))
            now = time.monotonic()

            async def counted(key: str, sql: str, args: list[Any]) -> int:
                value = self._frequencies.get((*scope, key), now)
                if value is None:
                    value = int((await fetch(sql, args))[0][0])
                    self._frequencies.put((*scope, key), value, now)
                return value

            n_docs = await counted(
                "", f"SELECT count(*) FROM {docs_t} d {'WHERE ' + ' AND '.join(filters) if filters else ''}", params[1:]
            )
            for key, match in matches.items():
                df[key] = await counted(key, f"SELECT count(*) FROM {source} {where}", [match, *params[1:]])
        return Candidates(candidates, total=total, facets=facets, df=df, n_docs=n_docs, paged=not relevance)
