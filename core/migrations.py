"""Alembic glue: migrations are the only way the schema is made, on both dialects."""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TypeVar

from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from alembic import command
from core.db import Database
from core.settings import Settings

T = TypeVar("T")

ALEMBIC_DIR = Path(__file__).resolve().parents[1] / "alembic"


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(ALEMBIC_DIR))
    config.set_main_option("sqlalchemy.url", database_url.replace("%", "%%"))
    config.attributes["configure_logging"] = False
    return config


def upgrade(database_url: str, revision: str = "head") -> None:
    command.upgrade(alembic_config(database_url), revision)


def downgrade(database_url: str, revision: str) -> None:
    command.downgrade(alembic_config(database_url), revision)


@functools.cache
def head_revisions() -> frozenset[str]:
    """The heads of the migration scripts shipped with this code: read once per process (alembic
    compiles every script to find them, ~70 ms, and the app checks them at each start)."""
    return frozenset(ScriptDirectory.from_config(alembic_config("sqlite://")).get_heads())


async def current_revisions(database: Database) -> set[str]:
    async with database.sessionmaker() as session:
        heads = await session.run_sync(lambda sync: MigrationContext.configure(sync.connection()).get_current_heads())
    return set(heads)


class SchemaBehindError(RuntimeError):
    """The database schema is older than this code; the message names the fix."""


async def ensure_schema_current(database: Database) -> None:
    current, heads = await current_revisions(database), head_revisions()
    if current != heads:
        raise SchemaBehindError(
            f"数据库结构版本不是最新 (database schema at {sorted(current) or 'empty'}, code expects "
            f"{sorted(heads)}). Run `techmarket migrate` (or start with `techmarket serve --migrate`)."
        )


def run_with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    """One command-line job: open the database, refuse a stale schema, run ``work``, close it."""

    async def main() -> T:
        database = Database.from_settings(settings)
        try:
            await ensure_schema_current(database)
            return await work(database)
        finally:
            await database.dispose()

    return asyncio.run(main())
