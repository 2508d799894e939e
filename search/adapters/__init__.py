"""Engine adapters and the factory that picks one from the settings."""

from __future__ import annotations

from core.db import Database
from core.settings import Settings
from search.pipeline import SearchEngine


def build_engine(settings: Settings, database: Database | None = None) -> SearchEngine:
    """Meilisearch when ``search_url`` is set, else the embedded SQLite FTS5 engine under data_dir.
    With a PostgreSQL ``database``, Meilisearch shares its term counts with every process through
    it; on SQLite it keeps them per process (see ``search.term_counts``)."""
    if settings.search_url:
        from search.adapters.meilisearch import MeilisearchEngine
        from search.term_counts import TermCounts

        return MeilisearchEngine(
            settings.search_url,
            api_key=settings.search_key,
            index_prefix=settings.search_index_prefix,
            timeout_seconds=settings.search_timeout_seconds,
            term_counts=TermCounts(database) if database is not None and database.dialect == "postgresql" else None,
        )
    from search.adapters.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.data_dir / "search.db", timeout_seconds=settings.search_timeout_seconds)
