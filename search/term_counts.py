"""How many documents of an index hold each term, shared by every process through the database.

A relevance query weighs each term's share of the engine's candidate pool by its rarity, so it
needs these counts before it can ask for candidates. Each process keeps them for a few minutes;
this table is the level behind that: a fresh process, or another worker, reads what any process
counted in the last day instead of asking the engine again, and the relay counts a newly published
listing's matching terms ahead of its first match (``search.matching.service.warm_match_counts``).
Only counts without filters are shared. The table is a cache: losing it, or failing to read or
write it, costs a count round trip, never a search.

PostgreSQL only. A search runs inside its request's unit of work, and on SQLite every transaction
takes the one write lock (``BEGIN IMMEDIATE``): a second transaction opened from within the search
would wait out the busy timeout on its own request's lock, and hold every other request behind it.
The embedded profile is one process, so its per-process counts lose nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta

import structlog
from sqlalchemy import bindparam, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Field, SQLModel

from core.db import Database
from core.types import UTCDateTime, utcnow

log = structlog.get_logger("techmarket.search.term_counts")


class SearchTermCount(SQLModel, table=True):
    __tablename__ = "search_term_counts"

    index_uid: str = Field(primary_key=True, max_length=250)
    term: str = Field(primary_key=True, max_length=250)  # the analysed term's key ("text:储能"); "" = the whole index
    documents: int = Field(ge=0)
    counted_at: datetime = Field(default_factory=utcnow, sa_type=UTCDateTime, nullable=False)


# a Core statement, compiled once: it runs before every search whose counts this process lacks
_TABLE = SearchTermCount.__table__  # type: ignore[attr-defined]
_READ = select(_TABLE.c.term, _TABLE.c.documents).where(
    _TABLE.c.index_uid == bindparam("index_uid"),
    _TABLE.c.term.in_(bindparam("terms", expanding=True)),
    _TABLE.c.counted_at >= bindparam("since"),
)


class TermCounts:
    def __init__(self, database: Database, *, ttl_seconds: float = 86_400.0) -> None:
        if database.dialect != "postgresql":
            raise ValueError(
                "shared term counts need PostgreSQL: on SQLite a search's own transaction holds the write lock"
            )
        self.database = database
        self.ttl = timedelta(seconds=ttl_seconds)

    async def get(self, index_uid: str, terms: Sequence[str]) -> dict[str, int]:
        """The counts younger than the TTL; terms too long to store are never there."""
        wanted = [term for term in dict.fromkeys(terms) if len(term) <= 250]
        if not wanted:
            return {}
        try:
            async with self.database.sessionmaker() as session:
                rows = await session.execute(
                    _READ, {"index_uid": index_uid, "terms": wanted, "since": utcnow() - self.ttl}
                )
                return {term: documents for term, documents in rows}
        except (SQLAlchemyError, OSError) as exc:
            log.warning("term_counts_unreadable", error=repr(exc)[:300])
            return {}

    async def put(self, index_uid: str, counts: Mapping[str, int]) -> None:
        rows = [
            {"index_uid": index_uid, "term": term, "documents": int(n), "counted_at": utcnow()}
            for term, n in counts.items()
            if len(term) <= 250
        ]
        if not rows:
            return
        insert = pg_insert if self.database.dialect == "postgresql" else sqlite_insert
        statement = insert(SearchTermCount).values(rows)
        statement = statement.on_conflict_do_update(
            index_elements=["index_uid", "term"],
            set_={"documents": statement.excluded.documents, "counted_at": statement.excluded.counted_at},
        )
        try:
            async with self.database.unit_of_work() as session:
                await session.execute(statement)
        except (SQLAlchemyError, OSError) as exc:
            log.warning("term_counts_unwritable", error=repr(exc)[:300])
