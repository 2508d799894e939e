"""Meilisearch adapter (server profile), over an httpcore connection pool so every call has a bounded
timeout and the event loop is never blocked.

A relevance search is one federated ``/multi-search``: a sub-query per analysed term, weighted by the
term's weight and rarity, so one engine call yields a deduplicated candidate pool for the shared
re-ranker without Meilisearch's 10-word limit or its prefix-only Chinese matching. Filter values are
always quoted strings or validated integers, so ``x" OR field = "y`` stays a value.
"""

from __future__ import annotations

import asyncio
import json
import re
import time
from collections.abc import AsyncIterable, Iterable, Mapping, Sequence
from typing import Any

import orjson
import structlog

from core.http import POOL_ERRORS, quick_ack_pool
from core.observability import PROCESS_METRICS
from search.adapters.shared import DocumentFrequencies, aiter_docs, count_facets, index_fields, region_filters
from search.documents import KINDS, Kind, SearchDocument
from search.errors import SearchRejected, SearchUnavailable
from search.pipeline import CANDIDATE_FIELDS, RERANK_WINDOW, Candidates, SearchResult, run
from search.query import FACETS, MAX_WINDOW, SearchQuery
from search.rank import idf
from search.term_counts import TermCounts
from search.text import WARM_UP_QUERY, QueryPlan, Term, analyze_query

log = structlog.get_logger("techmarket.search.meilisearch")

TEXT_ATTRIBUTES = ["t_title", "t_keywords", "t_body", "t_owner"]
PINYIN_ATTRIBUTES = ["py_title", "py_body"]
# originals for highlights, normalised text (n_*) for the re-ranker, m_words for search.feedback
TEXT_RETRIEVE = [
    "id",
    "title",
    "body",
    "n_title",
    "n_keywords",
    "n_body",
    "n_owner",
    "m_words",
    "published_ts",
    "price_fen",
]
RETRIEVE = TEXT_RETRIEVE + PINYIN_ATTRIBUTES  # pinyin fields only travel when the query has pinyin terms
COUNT_UP_TO = 1_000_000_000  # what Meilisearch counts exactly (documents in scope, per term, totals)
MIN_WEIGHT = 0.01  # a sub-query's weight, at least
PHRASE_SCORE_FLOOR = 0.5  # a phrase match's lowest ranking score under the rules below (measured: 0.55)
ALL_TERMS_WEIGHT = 2.0  # a document matching every concept outranks any single-term match in the pool
MAX_AND_WORDS = 8  # Meilisearch reads the first 10 words of a query
SETTINGS: dict[str, Any] = {
    "searchableAttributes": TEXT_ATTRIBUTES + PINYIN_ATTRIBUTES,
    "filterableAttributes": [
        "field",
        "region",
        "prefecture",
        "province",
        "maturity",
        "trl",
        "ip_type",
        "transaction_modes",
        "price_fen",
        "owner_kind",
        "owner_id",
    ],
    "sortableAttributes": ["published_ts", "price_fen", "id"],
    # the shared re-ranker decides relevance: the engine only brings the likeliest candidates forward, cheaply
    "rankingRules": ["sort", "typo", "attribute"],
    "typoTolerance": {"enabled": True, "disableOnAttributes": PINYIN_ATTRIBUTES},
    # it also caps estimatedTotalHits, which IDF needs exact; paging stays bounded by MAX_WINDOW here
    "pagination": {"maxTotalHits": COUNT_UP_TO},
    "faceting": {"maxValuesPerFacet": 500},
    "prefixSearch": "disabled",
}
# error codes a search may get from an index that holds no documents yet (see _nothing_indexed)
NOTHING_INDEXED = ("index_not_found", "invalid_search_attributes_to_search_on")
SORTS = {
    "relevance": ["published_ts:desc", "id:desc"],
    "newest": ["published_ts:desc", "id:desc"],
    "price_asc": ["price_fen:asc", "id:asc"],
    "price_desc": ["price_fen:desc", "id:desc"],
}


def quote(value: Any) -> str:
    """A filter value as Meilisearch filter syntax: integers as such, anything else a quoted string."""
    if isinstance(value, bool) or not isinstance(value, int):
        return '"' + str(value).replace("\\", "\\\\").replace('"', '\\"') + '"'
    return str(value)


def build_filter(query: SearchQuery) -> list[str | list[str]]:
    """AND of clauses (a nested list is an OR), values quoted by ``quote``."""
    clauses: list[str | list[str]] = []
    for attribute, values in (
        ("field", query.fields),
        ("maturity", query.maturity),
        ("ip_type", query.ip_types),
        ("owner_kind", query.owner_kinds),
        ("transaction_modes", query.transaction_modes),
    ):
        if values:  # for an array attribute, IN is "any element in"
            clauses.append(f"{attribute} IN [{', '.join(quote(v) for v in values)}]")
    if query.regions:
        clauses.append([f"{attribute} = {quote(value)}" for attribute, value in region_filters(query.regions)])
    for attribute, op, value in (
        ("trl", ">=", query.trl_min),
        ("trl", "<=", query.trl_max),
        ("price_fen", ">=", query.price_min_fen),
        ("price_fen", "<=", query.price_max_fen),
    ):
        if value is not None:
            clauses.append(f"{attribute} {op} {quote(int(value))}")
    return clauses


def term_query(term: Term) -> dict[str, Any]:
    if term.field == "pinyin":
        return {"q": f'"{term.text}"', "attributesToSearchOn": PINYIN_ATTRIBUTES}
    if term.field == "chars":  # each character a word of its own; matchingStrategy "all" wants them all
        return {"q": " ".join(term.text), "attributesToSearchOn": TEXT_ATTRIBUTES}
    if term.is_ascii_word and term.typo_budget:  # unquoted: Meilisearch's typo tolerance applies
        return {"q": term.text, "attributesToSearchOn": TEXT_ATTRIBUTES}
    return {"q": f'"{term.phrase}"', "attributesToSearchOn": TEXT_ATTRIBUTES}


def outranked(terms: Sequence[Term], weights: Mapping[str, float], df: Mapping[str, int], limit: int) -> set[str]:
    """Keys of the terms none of whose matches can enter a federated pool of ``limit``: a phrase in at
    least ``limit`` documents whose weight × ``PHRASE_SCORE_FLOOR`` beats a term's full weight keeps all
    that term's matches out (Meilisearch merges by weight × ranking score), so its sub-query only costs."""
    floor = max(
        (weights[t.key] * PHRASE_SCORE_FLOOR for t in terms if df.get(t.key, 0) >= limit and not t.typo_budget),
        default=0.0,
    )
    return {term.key for term in terms if weights[term.key] < floor}


class MeilisearchEngine:
    name = "meilisearch"

    def __init__(
        self,
        url: str,
        *,
        api_key: str | None = None,
        index_prefix: str = "techmarket",
        timeout_seconds: float = 3.0,
        wait_for_tasks: bool = True,
        frequencies_ttl_seconds: float = 300.0,
        term_counts: TermCounts | None = None,
    ) -> None:
        if not re.fullmatch(r"[A-Za-z0-9_-]{1,200}", index_prefix):
            raise ValueError("search_index_prefix may only hold letters, digits, '-' and '_'")
        self.url = url.rstrip("/")
        self.prefix = index_prefix
        self.timeout = timeout_seconds
        # a write returns once its tasks succeeded, so the relay never marks done what the engine refused
        self.wait_for_tasks = wait_for_tasks
        # uncompressed: on a local network gzip costs both sides CPU and saves nothing worth it
        self._headers: dict[bytes | str, bytes | str] = {"Accept-Encoding": "identity"}
        if api_key:
            self._headers["Authorization"] = f"Bearer {api_key}"
        self._json_headers: dict[bytes | str, bytes | str] = {**self._headers, "Content-Type": "application/json"}
        self._connections = quick_ack_pool()
        self._building: dict[str, set[int]] = {}  # kind → ids written live while a rebuild runs
        self._frequencies = DocumentFrequencies(frequencies_ttl_seconds)
        self._term_counts = term_counts  # shared by every process: counts without filters

    @property
    def warms_term_counts(self) -> bool:
        """Whether counting a listing's terms ahead (``warm``) helps: only with a shared store."""
        return self._term_counts is not None

    def uid(self, kind: Kind, suffix: str = "") -> str:
        if kind not in KINDS:
            raise ValueError(kind)
        return f"{self.prefix}_{kind}{suffix}"

    # ------------------------------------------------------------ plumbing

    async def _call(
        self, method: str, path: str, *, json: Any = None, timeout: float | None = None, allow: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """One request; transport errors, timeouts and error replies become SearchUnavailable
        (codes listed in ``allow`` are returned to the caller instead)."""
        seconds = timeout or self.timeout
        try:
            response = await self._connections.request(
                method,
                f"{self.url}{path}",
                content=None if json is None else orjson.dumps(json),
                headers=self._headers if json is None else self._json_headers,
                extensions={"timeout": {"connect": seconds, "read": seconds, "write": seconds, "pool": seconds}},
            )
        except POOL_ERRORS as exc:
            log.warning("search_engine_error", engine=self.name, path=path, error=repr(exc))
            PROCESS_METRICS.search_engine_errors.labels(self.name, "transport").inc()
            raise SearchUnavailable() from exc
        try:
            body = orjson.loads(response.content) if response.content else {}
        except orjson.JSONDecodeError:
            body = {}
        if response.status >= 400:
            code = body.get("code") if isinstance(body, dict) else None
            if code in allow:
                return body
            PROCESS_METRICS.search_engine_errors.labels(self.name, f"http_{response.status // 100}xx").inc()
            log.warning(
                "search_engine_error",
                engine=self.name,
                path=path,
                status=response.status,
                code=code,
                error=str(body.get("message", ""))[:300] if isinstance(body, dict) else "",
            )
            raise SearchUnavailable()
        return body if isinstance(body, dict) else {"results": body}

    async def _wait(self, task: dict[str, Any], timeout: float = 60.0) -> dict[str, Any]:
        uid = task["taskUid"]
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.01
        while True:
            state = await self._call("GET", f"/tasks/{uid}")
            if state.get("status") in ("succeeded", "failed", "canceled"):
                return state
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("search_task_timeout", engine=self.name, task=uid)
                raise SearchUnavailable()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)

    async def _settle(self, tasks: Sequence[dict[str, Any]], timeout: float = 30.0) -> None:
        """Wait for several tasks with one ``GET /tasks?uids=`` per poll; any that failed raises
        ``SearchRejected`` with its error code (the engine refused the write after accepting it)."""
        uids = [int(task["taskUid"]) for task in tasks]
        if not uids:
            return
        deadline = asyncio.get_running_loop().time() + timeout
        delay = 0.01
        while True:
            listed = await self._call("GET", f"/tasks?uids={','.join(map(str, uids))}&limit={len(uids)}")
            states = {int(state["uid"]): state for state in listed.get("results", [])}
            if all(states.get(uid, {}).get("status") in ("succeeded", "failed", "canceled") for uid in uids):
                break
            if asyncio.get_running_loop().time() >= deadline:
                log.warning("search_task_timeout", engine=self.name, tasks=uids)
                raise SearchUnavailable()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 0.2)
        failed = [states[uid] for uid in uids if states[uid].get("status") != "succeeded"]
        if failed:
            error = failed[0].get("error") or {}
            reason = f"{error.get('code') or failed[0].get('status')}: {str(error.get('message', ''))[:300]}"
            log.error("search_task_failed", engine=self.name, tasks=[state["uid"] for state in failed], reason=reason)
            raise SearchRejected(reason)

    async def _enqueue(self, method: str, path: str, json: Any, *, wait: bool | None = None) -> None:
        task = await self._call(method, path, json=json, timeout=max(self.timeout, 10.0))
        if wait if wait is not None else self.wait_for_tasks:
            state = await self._wait(task)
            if state.get("status") != "succeeded":
                log.warning(
                    "search_task_failed",
                    engine=self.name,
                    task=task.get("taskUid"),
                    error=(state.get("error") or {}).get("code"),
                )
                raise SearchUnavailable()

    async def _create_index(self, uid: str) -> None:
        task = await self._call("POST", "/indexes", json={"uid": uid, "primaryKey": "id"})
        state = await self._wait(task)
        if state.get("status") != "succeeded" and (state.get("error") or {}).get("code") != "index_already_exists":
            raise SearchUnavailable()
        await self._enqueue("PATCH", f"/indexes/{uid}/settings", SETTINGS, wait=True)

    # ------------------------------------------------------------ lifecycle

    async def ensure_ready(self) -> None:
        for kind in KINDS:
            await self._create_index(self.uid(kind))
        await asyncio.to_thread(analyze_query, WARM_UP_QUERY)  # off the event loop

    async def health(self) -> bool:
        try:
            return (await self._call("GET", "/health")).get("status") == "available"
        except SearchUnavailable:
            return False

    async def aclose(self) -> None:
        await self._connections.aclose()

    async def count(self, kind: Kind) -> int:
        stats = await self._call("GET", f"/indexes/{self.uid(kind)}/stats", allow=("index_not_found",))
        return int(stats.get("numberOfDocuments", 0))

    # ------------------------------------------------------------ writes

    @staticmethod
    def _document(doc: SearchDocument) -> dict[str, Any]:
        data = index_fields(doc)
        if data["price_fen"] is None:
            del data["price_fen"]  # absent values sort last both ways, as in the embedded engine
        return data

    async def upsert(self, kind: Kind, docs: Sequence[SearchDocument]) -> None:
        if not docs:
            return
        payload = await asyncio.to_thread(lambda: [self._document(doc) for doc in docs])
        suffixes = ["", "__build"] if kind in self._building else [""]
        self._building.get(kind, set()).update(doc.id for doc in docs)
        await self._write(
            [("PUT", f"/indexes/{self.uid(kind, suffix)}/documents?primaryKey=id", payload) for suffix in suffixes]
        )

    async def delete(self, kind: Kind, ids: Sequence[int]) -> None:
        if not ids:
            return
        suffixes = ["", "__build"] if kind in self._building else [""]
        self._building.get(kind, set()).update(ids)
        await self._write(
            [("POST", f"/indexes/{self.uid(kind, suffix)}/documents/delete-batch", list(ids)) for suffix in suffixes]
        )

    async def _write(self, requests: Sequence[tuple[str, str, Any]]) -> None:
        """Send every request, then (unless told not to wait) wait for all their tasks at once."""
        tasks = [
            await self._call(method, path, json=body, timeout=max(self.timeout, 10.0))
            for method, path, body in requests
        ]
        if self.wait_for_tasks:
            await self._settle(tasks)

    async def ids(self, kind: Kind) -> set[int]:
        """Every document id in the live index (the consistency check compares them with the database)."""
        found: set[int] = set()
        page, offset = 10_000, 0
        while True:
            reply = await self._call(
                "POST",
                f"/indexes/{self.uid(kind)}/documents/fetch",
                json={"fields": ["id"], "limit": page, "offset": offset},
                timeout=max(self.timeout, 10.0),
                allow=("index_not_found",),
            )
            batch = [int(item["id"]) for item in reply.get("results", [])]
            found.update(batch)
            offset += len(batch)
            if len(batch) < page:
                return found

    async def rebuild(
        self, kind: Kind, docs: Iterable[SearchDocument] | AsyncIterable[SearchDocument], *, batch_size: int = 2500
    ) -> int:
        """Batches of 2,500 keep Meilisearch (the slower side) busy while the next one is built."""
        live, build = self.uid(kind), self.uid(kind, "__build")
        await self._drop_index(build)  # a leftover of an interrupted rebuild
        await self._create_index(build)
        await self._create_index(live)  # swapping needs both sides to exist
        self._building[kind] = set()
        total = 0
        try:
            pending: list[dict[str, Any]] = []
            batch: list[SearchDocument] = []

            async def flush() -> None:
                payload = await asyncio.to_thread(lambda: [self._document(doc) for doc in batch])
                touched = self._building.get(kind, set())  # live writes already reached the new index
                payload = [item for item in payload if item["id"] not in touched]
                pending.append(await self._call("POST", f"/indexes/{build}/documents", json=payload, timeout=60))
                if len(pending) >= 8:  # bound the queue: wait for the oldest before sending more
                    await self._check(pending.pop(0))

            async for doc in aiter_docs(docs):
                batch.append(doc)
                if len(batch) >= batch_size:
                    await flush()
                    total, batch = total + len(batch), []
            if batch:
                await flush()
                total += len(batch)
            for task in pending:
                await self._check(task)
            await self._check(await self._call("POST", "/swap-indexes", json=[{"indexes": [live, build]}]))
        finally:
            self._building.pop(kind, None)
        await self._enqueue("DELETE", f"/indexes/{build}", None, wait=False)
        return total

    async def _drop_index(self, uid: str) -> None:
        state = await self._wait(await self._call("DELETE", f"/indexes/{uid}"))
        if state.get("status") != "succeeded" and (state.get("error") or {}).get("code") != "index_not_found":
            raise SearchUnavailable()

    async def _check(self, task: dict[str, Any]) -> None:
        state = await self._wait(task, timeout=600)
        if state.get("status") != "succeeded":
            log.warning(
                "search_task_failed",
                engine=self.name,
                task=task.get("taskUid"),
                error=(state.get("error") or {}).get("code"),
            )
            raise SearchUnavailable()

    # ------------------------------------------------------------ reads

    async def search(self, kind: Kind, query: SearchQuery) -> SearchResult:
        return await run(self, kind, query)

    async def candidates(self, kind: Kind, query: SearchQuery, plan: QueryPlan) -> Candidates:
        if plan.empty:
            return await self._browse(kind, query)
        return await self._match(kind, query, plan)

    def _base(self, kind: Kind, query: SearchQuery) -> dict[str, Any]:
        return {"indexUid": self.uid(kind), "filter": build_filter(query) or None}

    async def _multi(self, queries: list[dict[str, Any]]) -> list[dict[str, Any]]:
        reply = await self._call("POST", "/multi-search", json={"queries": queries}, allow=NOTHING_INDEXED)
        if await self._nothing_indexed(reply):
            return [{"hits": [], "estimatedTotalHits": 0, "facetDistribution": {}} for _ in queries]
        return list(reply["results"])

    async def _nothing_indexed(self, reply: dict[str, Any]) -> bool:
        """Whether an error reply only says the index holds no documents yet. Meilisearch learns a
        field from the first document that has it, so until then it refuses ``attributesToSearchOn``
        (a kind nobody has published yet, a fresh deployment); any other cause stays an error. The
        message lists the fields the index knew when it answered: none means it was empty then, even
        if its first documents have landed since (counting them now would call that an outage)."""
        code = reply.get("code")
        if code == "index_not_found":
            return True
        if code != "invalid_search_attributes_to_search_on":
            return False
        message = str(reply.get("message", ""))
        if "Available searchable attributes are: ``" in message:
            return True
        index = re.search(r"Index `([^`]+)`", message)
        stats = await self._call("GET", f"/indexes/{index.group(1)}/stats", allow=("index_not_found",)) if index else {}
        if int(stats.get("numberOfDocuments", 1)) == 0:
            return True
        log.warning(
            "search_engine_error",
            engine=self.name,
            path="/multi-search",
            code=code,
            error=str(reply.get("message", ""))[:300],
        )
        raise SearchUnavailable()

    async def _browse(self, kind: Kind, query: SearchQuery) -> Candidates:
        if query.offset >= MAX_WINDOW:
            limit = 0
        else:
            limit = min(query.limit, MAX_WINDOW - query.offset)
        retrieve = list(CANDIDATE_FIELDS) if query.candidates_only else RETRIEVE
        request = {
            **self._base(kind, query),
            "q": "",
            "offset": query.offset,
            "limit": limit,
            "sort": SORTS[query.sort],
            "attributesToRetrieve": retrieve,
            "facets": list(query.facets),
        }
        (result,) = await self._multi([request])
        return Candidates(
            result["hits"], total=int(result["estimatedTotalHits"]), facets=self._facets(query, [result]), paged=True
        )

    def _pool(
        self,
        kind: Kind,
        query: SearchQuery,
        plan: QueryPlan,
        retrieve: list[str],
        rarity: dict[str, float],
        df: Mapping[str, int],
        limit: int,
    ) -> list[dict[str, Any]]:
        """Federated sub-queries: every concept at once (weighted up), then each term alone, weighted
        by its weight in the query and its rarity (IDF relative to the rarest term's). Matching
        leaves out the terms whose matches cannot reach the pool (``outranked``)."""
        weights = {
            term.key: max(term.weight * query.term_weights.get(term.text, 1.0) * rarity[term.key], MIN_WEIGHT)
            for term in plan.terms
        }
        # a search keeps every term: its total and facets count the union of all of them
        skipped = outranked(plan.terms, weights, df, limit) if query.candidates_only else set()
        queries: list[dict[str, Any]] = []
        base = self._base(kind, query)
        primaries = [g.terms[0] for g in plan.groups if g.terms and g.terms[0].field == "text"]
        # documents holding every concept lead a search's pool; matching sends a listing's 16 key
        # terms, which no document holds all of, so there it would only cost an 8-phrase intersection
        if 2 <= len(primaries) <= MAX_AND_WORDS and not query.candidates_only:
            queries.append(
                {
                    **base,
                    "q": " ".join(term_query(t)["q"] for t in primaries),
                    "attributesToSearchOn": TEXT_ATTRIBUTES,
                    "matchingStrategy": "all",
                    "attributesToRetrieve": retrieve,
                    "federationOptions": {"weight": ALL_TERMS_WEIGHT},
                }
            )
        for term in plan.terms:
            if term.key not in skipped:
                queries.append(
                    {
                        **base,
                        **term_query(term),
                        "matchingStrategy": "all",
                        "attributesToRetrieve": retrieve,
                        "federationOptions": {"weight": weights[term.key]},
                    }
                )
        return queries

    async def _match(self, kind: Kind, query: SearchQuery, plan: QueryPlan) -> Candidates:
        if query.sort != "relevance":
            return await self._match_sorted(kind, query, plan)
        terms = plan.terms
        n_docs, df = await self._document_frequencies(kind, query, terms)
        weights = {term.key: idf(min(df[term.key], n_docs), max(n_docs, 1)) for term in terms}
        rarest = max(weights.values(), default=1.0) or 1.0
        rarity = {key: value / rarest for key, value in weights.items()}
        if query.candidates_only:  # matching: no facets or re-rank
            pool = await self._federated(
                self._pool(kind, query, plan, list(CANDIDATE_FIELDS), rarity, df, query.window), {"limit": query.window}
            )
            hits = pool.get("hits", [])
            return Candidates(hits[query.offset :], total=int(pool.get("estimatedTotalHits", 0)), paged=True)
        retrieve = RETRIEVE if any(t.field == "pinyin" for t in terms) else TEXT_RETRIEVE
        federation: dict[str, Any] = {"limit": max(query.window, RERANK_WINDOW)}
        if query.facets:
            federation["facetsByIndex"] = {self.uid(kind): list(query.facets)}
        pool = await self._federated(
            self._pool(kind, query, plan, retrieve, rarity, df, federation["limit"]), federation
        )
        total = int(pool.get("estimatedTotalHits", 0))
        by_index = (pool.get("facetsByIndex") or {}).get(self.uid(kind)) or {}
        facets = self._facets(query, [{"facetDistribution": by_index.get("distribution") or {}}])
        return Candidates(pool.get("hits", []), total=total, facets=facets, df=df, n_docs=n_docs)

    async def _document_frequencies(
        self, kind: Kind, query: SearchQuery, terms: Sequence[Term]
    ) -> tuple[int, dict[str, int]]:
        """(documents in scope, documents per term) under the query's filters; counts only what
        neither this process's cache nor, without filters, the shared store holds, in one
        count-only round trip, and shares what it counted."""
        base = self._base(kind, query)
        scope = (base["indexUid"], json.dumps(base["filter"], ensure_ascii=False))
        now = time.monotonic()
        known = {key: self._frequencies.get((*scope, key), now) for key in ["", *(t.key for t in terms)]}
        shared = self._term_counts if base["filter"] is None else None
        if shared is not None and None in known.values():
            found = await shared.get(base["indexUid"], [key for key, value in known.items() if value is None])
            for key, value in found.items():
                known[key] = value
                self._frequencies.put((*scope, key), value, now)
        missing = list({t.key: t for t in terms if known[t.key] is None}.values())
        if missing or known[""] is None:
            counts = [{**base, "q": "", "limit": 0}]
            counts += [{**base, **term_query(t), "matchingStrategy": "all", "limit": 0} for t in missing]
            results = await self._multi(counts)
            counted: dict[str, int] = {}
            for key, result in zip(["", *(t.key for t in missing)], results, strict=True):
                known[key] = counted[key] = int(result["estimatedTotalHits"])
                self._frequencies.put((*scope, key), counted[key], now)
            if shared is not None:
                await shared.put(base["indexUid"], counted)
        return int(known.pop("") or 0), {key: int(value or 0) for key, value in known.items()}

    async def warm(self, kind: Kind, queries: Sequence[SearchQuery], *, limit: int = 400) -> None:
        """Count the terms of these (unfiltered) queries that no process has counted lately, ``limit``
        per request, so that the searches themselves find them counted."""
        if self._term_counts is None:
            return
        terms: dict[str, Term] = {}
        for query in queries:
            for term in query.plan().terms:
                terms.setdefault(term.key, term)
        pending = list(terms.values())
        for start in range(0, len(pending), limit):  # bounded requests; each term costs once a day
            await self._document_frequencies(kind, SearchQuery(), pending[start : start + limit])

    async def _federated(self, queries: list[dict[str, Any]], federation: dict[str, Any]) -> dict[str, Any]:
        """One merged, deduplicated candidate list over all sub-queries, with facets of their union."""
        reply = await self._call(
            "POST", "/multi-search", json={"federation": federation, "queries": queries}, allow=NOTHING_INDEXED
        )
        return {"hits": [], "estimatedTotalHits": 0} if await self._nothing_indexed(reply) else reply

    async def _match_sorted(self, kind: Kind, query: SearchQuery, plan: QueryPlan) -> Candidates:
        """An explicit sort: each term's first ``window`` matches in that order, merged."""
        terms = plan.terms
        per_term = query.window
        retrieve = RETRIEVE + [f for f in FACETS if f in query.facets]
        base = self._base(kind, query)
        queries: list[dict[str, Any]] = [{**base, "q": "", "limit": 0}]
        for term in terms:
            sub = {
                **base,
                **term_query(term),
                "limit": per_term,
                "matchingStrategy": "all",
                "attributesToRetrieve": retrieve,
                "sort": SORTS[query.sort],
            }
            if query.facets:
                sub["facets"] = list(query.facets)
            queries.append(sub)
        results = await self._multi(queries)
        n_docs = int(results[0]["estimatedTotalHits"])
        union: dict[int, dict[str, Any]] = {}
        complete = True
        df: dict[str, int] = {}
        for term, result in zip(terms, results[1:], strict=True):
            df[term.key] = int(result["estimatedTotalHits"])
            complete = complete and df[term.key] <= per_term
            for hit in result["hits"]:
                union.setdefault(int(hit["id"]), hit)
        total = len(union) if complete else max([len(union), *df.values()])
        facets = count_facets(query.facets, union.values()) if complete else self._facets(query, results[1:])
        return Candidates(list(union.values()), total=total, facets=facets, df=df, n_docs=n_docs)

    @staticmethod
    def _facets(query: SearchQuery, results: Sequence[dict[str, Any]]) -> dict[str, dict[str, int]]:
        """Per value, the largest count any sub-query saw: exact for one query, a lower bound for many."""
        facets: dict[str, dict[str, int]] = {name: {} for name in query.facets}
        for result in results:
            for name, values in (result.get("facetDistribution") or {}).items():
                if name in facets:
                    for value, n in values.items():
                        facets[name][value] = max(facets[name].get(value, 0), int(n))
        return facets
