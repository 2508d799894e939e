"""Engine adapters and the factory that picks one from the settings."""

from __future__ import annotations

import httpx

from core.settings import Settings
from search.engine import SearchEngine


def build_engine(settings: Settings, http_client: httpx.AsyncClient | None = None) -> SearchEngine:
    """Meilisearch when ``search_url`` is set, else the embedded SQLite FTS5 engine under data_dir."""
    if settings.search_url:
        from search.engines.meilisearch import MeilisearchEngine

        return MeilisearchEngine(
            settings.search_url,
            api_key=settings.search_key,
            index_prefix=settings.search_index_prefix,
            timeout_seconds=settings.search_timeout_seconds,
            http_client=http_client,
        )
    from search.engines.embedded import EmbeddedEngine

    return EmbeddedEngine(settings.data_dir / "search.db", timeout_seconds=settings.search_timeout_seconds)
