"""The ``techmarket`` command: serve, migrate, demo data, admin bootstrap."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Annotated, TypeVar

import typer
from rich.console import Console

from core import migrations
from core.db import Database
from core.settings import Settings

T = TypeVar("T")

app = typer.Typer(
    help="techmarket 科技成果网络交易平台: 发布成果与需求、智能匹配、技术合同登记与交易统计。\n\n"
    "Settings come from TECHMARKET_* environment variables (see README).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
console = Console()


def _settings() -> Settings:
    try:
        return Settings()
    except ValueError as exc:
        console.print(f"[red]配置错误 / invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    async def run() -> T:
        database = Database.from_settings(settings)
        try:
            await migrations.ensure_schema_current(database)
            return await work(database)
        finally:
            await database.dispose()

    try:
        return asyncio.run(run())
    except migrations.SchemaBehindError as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc


@app.command()
def migrate(
    revision: Annotated[str, typer.Argument(help="Target revision (default: the newest).")] = "head",
    down: Annotated[bool, typer.Option("--down", help="Downgrade to REVISION instead of upgrading.")] = False,
) -> None:
    """Create or upgrade the database schema (the only way the schema is made)."""
    settings = _settings()
    url = settings.resolved_database_url
    if down:
        migrations.downgrade(url, revision)
    else:
        migrations.upgrade(url, revision)
    console.print(f"[green]数据库已迁移到 {revision}[/green] ({settings.profile} profile)")


@app.command()
def demo() -> None:
    """Load demo organizations and users (idempotent; password in README)."""
    from market.demo import DEMO_PASSWORD, load_demo

    settings = _settings()

    async def work(database: Database) -> list[str]:
        async with database.unit_of_work() as session:
            return await load_demo(session, settings)

    created = _with_database(settings, work)
    for line in created:
        console.print(f"  + {line}")
    console.print(f"[green]演示数据就绪[/green] ({len(created)} new); 演示账号密码: {DEMO_PASSWORD}")


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8000,
    migrate_first: Annotated[bool, typer.Option("--migrate", help="Run migrations before starting.")] = False,
    with_demo: Annotated[bool, typer.Option("--demo", help="Load demo data before starting.")] = False,
    workers: Annotated[int, typer.Option(help="Worker processes (server profile).")] = 1,
) -> None:
    """Start the HTTP API (docs at /docs)."""
    import uvicorn

    settings = _settings()
    if migrate_first:
        migrate()
    if with_demo:
        demo()
    console.print(f"[bold]techmarket[/bold] on http://{host}:{port}/docs ({settings.profile} profile)")
    uvicorn.run(
        "market.app:create_app",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        access_log=False,
        timeout_graceful_shutdown=15,
        log_level=settings.log_level.lower(),
    )


@admin_app.command("create")
def admin_create(
    email: Annotated[str, typer.Option(help="Login email of the platform admin.")],
    password: Annotated[str, typer.Option(help="Password (at least 10 characters, letters and digits).")],
    name: Annotated[str, typer.Option(help="Display name.")] = "平台管理员",
) -> None:
    """Create a platform admin (idempotent: an existing admin is left as it is)."""
    from pydantic import ValidationError

    from core.errors import DomainError
    from market.identity.service import IdentityService

    settings = _settings()

    async def work(database: Database) -> bool:
        async with database.unit_of_work() as session:
            _, created = await IdentityService(session, settings).ensure_platform_admin(email, password, name)
            return created

    try:
        created = _with_database(settings, work)
    except ValidationError as exc:
        for error in exc.errors():
            console.print(f"[red]{'.'.join(map(str, error['loc']))}: {error['msg']}[/red]")
        raise typer.Exit(2) from exc
    except DomainError as exc:
        console.print(f"[red]{exc.title}[/red] {exc.detail or ''}")
        raise typer.Exit(1) from exc
    console.print("[green]已创建平台管理员[/green]" if created else "平台管理员已存在, 未作修改")


def main() -> None:
    app()
