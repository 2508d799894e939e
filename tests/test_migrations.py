"""Migrations are the only way the schema is made: up, down and up again on both dialects. Each is a
frozen snapshot: it imports none of the project's live code, so it does the same whatever that code says later."""

from __future__ import annotations

import ast
import asyncio
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect

from app.factory import create_app
from app.models import metadata
from core import migrations
from core.db import Database, create_engine
from core.settings import Settings

VERSIONS = Path(__file__).resolve().parents[1] / "alembic" / "versions"
PROJECT_PACKAGES = {"core", "market", "search", "contracts", "app", "tooling"}


def _imported_roots(path: Path) -> set[str]:
    """The top-level package of every import in the file, module level or inside functions."""
    roots = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            roots |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom):
            roots.add("." if node.level else (node.module or "").split(".")[0])
        elif isinstance(node, ast.Call) and getattr(node.func, "attr", getattr(node.func, "id", "")) in (
            "import_module",
            "__import__",
        ):
            roots |= {str(a.value).split(".")[0] for a in node.args if isinstance(a, ast.Constant)}
    return roots


def test_no_migration_imports_the_projects_live_code() -> None:
    files = sorted(VERSIONS.glob("*.py"))
    assert len(files) >= 12
    offenders = {path.name: sorted(_imported_roots(path) & (PROJECT_PACKAGES | {"."})) for path in files}
    assert {name: roots for name, roots in offenders.items() if roots} == {}


@pytest.fixture
def empty_url(dialect: str, tmp_path: Path, postgres_database_factory) -> str:
    if dialect == "sqlite":
        return f"sqlite+aiosqlite:///{tmp_path / 'fresh.db'}"
    return str(postgres_database_factory())


async def _tables_and_diff(url: str) -> tuple[set[str], list[object]]:
    engine = create_engine(url)
    try:
        async with engine.connect() as connection:

            def inspect_sync(sync):
                diff = compare_metadata(MigrationContext.configure(sync, opts={"compare_type": True}), metadata)
                return set(inspect(sync).get_table_names()), diff

            return await connection.run_sync(inspect_sync)
    finally:
        await engine.dispose()


async def test_upgrade_downgrade_upgrade_and_schema_matches_models(empty_url: str) -> None:
    await asyncio.to_thread(migrations.upgrade, empty_url)
    tables, diff = await _tables_and_diff(empty_url)
    assert set(metadata.tables) <= tables
    assert diff == [], f"models and migrations disagree: {diff}"

    await asyncio.to_thread(migrations.downgrade, empty_url, "base")
    tables, _ = await _tables_and_diff(empty_url)
    assert tables <= {"alembic_version"}

    await asyncio.to_thread(migrations.upgrade, empty_url)
    tables, _ = await _tables_and_diff(empty_url)
    assert set(metadata.tables) <= tables


async def test_app_refuses_to_start_on_a_database_that_is_behind(empty_url: str, tmp_path: Path) -> None:
    settings = Settings(env="test", secret_key="s" * 40, database_url=empty_url, data_dir=tmp_path)
    database = Database.from_settings(settings)
    app = create_app(settings, database=database)
    try:
        with pytest.raises(migrations.SchemaBehindError, match="techmarket migrate"):
            async with app.router.lifespan_context(app):
                pass
    finally:
        await database.dispose()
