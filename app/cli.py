"""The ``techmarket`` command: serve, migrate, worker, demo data, admin bootstrap, and the packages' commands."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Annotated, TypeVar

import httpx
import typer
from rich.console import Console

from app.models import install_listeners
from contracts.cli import payments_app, payments_stub
from contracts.statistics.cli import export_app, statistics_app
from core import migrations
from core.db import Database
from core.settings import Settings
from market.attachments.cli import attachments_app
from search.evaluation.cli import eval_app

T = TypeVar("T")

app = typer.Typer(
    help="techmarket 科技成果网络交易平台: 发布成果与需求、智能匹配、技术合同登记与交易统计。\n\n"
    "Settings come from TECHMARKET_* environment variables (see README).",
    no_args_is_help=True,
    rich_markup_mode="rich",
)
admin_app = typer.Typer(help="Platform administration.", no_args_is_help=True)
app.add_typer(admin_app, name="admin")
app.add_typer(payments_app, name="payments")
app.add_typer(attachments_app, name="attachments")
app.add_typer(export_app, name="export")
app.add_typer(statistics_app, name="statistics")
app.add_typer(eval_app, name="eval")
app.command("payments-stub")(payments_stub)
console = Console()


@app.callback()
def _wire() -> None:
    """Runs before every command: any of them may write contracts, whose rollups the listener keeps."""
    install_listeners()


def _settings() -> Settings:
    """The settings, and logging configured by them: JSON lines in the server profile, the standard
    library's loggers (Alembic, SQLAlchemy, uvicorn) included."""
    from core.observability import configure_logging

    try:
        settings = Settings()
    except ValueError as exc:
        console.print(f"[red]配置错误 / invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    configure_logging(json_logs=settings.json_logs, level=settings.log_level)
    return settings


def _with_database(settings: Settings, work: Callable[[Database], Awaitable[T]]) -> T:
    try:
        return migrations.run_with_database(settings, work)
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
    from app.demo import load_full_demo
    from market.demo import DEMO_PASSWORD, load_demo_listings

    settings = _settings()

    async def work(database: Database) -> list[str]:
        async with database.unit_of_work() as session:
            created = await load_full_demo(session, settings)
        return created + await load_demo_listings(database)

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
    import os
    import tempfile

    import uvicorn

    from core.observability import MULTIPROC_ENV, prepare_multiprocess_dir

    settings = _settings()
    if workers > 1 or os.environ.get(MULTIPROC_ENV):
        # every worker process writes its metrics there and /metrics adds them up; emptied now, so a
        # scrape never sums an earlier run's files
        default = Path(tempfile.gettempdir()) / f"techmarket-metrics-{port}"
        prepare_multiprocess_dir(Path(os.environ.get(MULTIPROC_ENV) or default))
    if migrate_first:
        migrate()
    if with_demo:
        demo()
    console.print(f"[bold]techmarket[/bold] on http://{host}:{port}/docs ({settings.profile} profile)")
    with _payment_provider(settings, host, port):
        uvicorn.run(
            "app.factory:create_app",
            factory=True,
            host=host,
            port=port,
            workers=workers,
            access_log=False,
            proxy_headers=False,  # the client is the socket peer; X-Forwarded-For only via TECHMARKET_TRUSTED_PROXIES
            timeout_graceful_shutdown=15,
            log_level=settings.log_level.lower(),
            log_config=None,  # uvicorn's records go to the root logger, rendered like ours (configure_logging)
        )


@contextmanager
def _payment_provider(settings: Settings, host: str, port: int) -> Iterator[None]:
    """Embedded profile without a provider URL: run the bundled one, so payments work out of the box.

    The server profile names its provider (TECHMARKET_PAYMENT_PROVIDER_URL); nothing is started for it.
    The URL goes through the environment, which ``--workers`` processes inherit.
    """
    import os

    from contracts.payment.bundled import URL_VARIABLE, bundled_provider, loopback_webhook_url, provider_url_is_set
    from contracts.settings import PaymentSettings

    if settings.profile != "embedded":
        yield
        return
    try:
        payment_settings = PaymentSettings(env=settings.env)
    except ValueError as exc:
        console.print(f"[red]配置错误 / invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc
    if provider_url_is_set(payment_settings):
        yield
        return
    with bundled_provider(loopback_webhook_url(host, port), payment_settings) as url:
        os.environ[URL_VARIABLE] = url
        console.print(f"内置支付服务 / bundled payment provider on {url}")
        try:
            yield
        finally:
            os.environ.pop(URL_VARIABLE, None)


class ImportKind(StrEnum):
    achievements = "achievements"
    demands = "demands"


@app.command("import")
def import_listings(
    kind: Annotated[ImportKind, typer.Argument(help="achievements or demands")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8/GB18030), XLSX or JSONL")],
    publish: Annotated[
        bool, typer.Option("--publish", help="Import straight to published (migrating a registry).")
    ] = False,
    create_organizations: Annotated[
        bool, typer.Option("--create-organizations", help="Create missing owner organizations as verified.")
    ] = False,
    batch_size: Annotated[int, typer.Option(min=1, max=10_000, help="Rows per transaction.")] = 1000,
    report_path: Annotated[
        Path | None,
        typer.Option(
            "--report", help="Write the full report here: JSON, or .xlsx for the failed rows with their reasons."
        ),
    ] = None,
) -> None:
    """Bulk-import listings; bad rows are reported by line and field, good rows land; re-runs skip what landed.

    Headers and coded cells may be Chinese labels (see GET /api/v1/imports/{kind}/template)."""
    from rich.progress import Progress
    from rich.table import Table

    from market.listings.files import ImportFileRejected, read_rows
    from market.listings.import_report import report_xlsx
    from market.listings.importer import Importer, ImportReport
    from market.listings.kinds import ACHIEVEMENT, DEMAND

    settings = _settings()
    listing_kind = ACHIEVEMENT if kind is ImportKind.achievements else DEMAND
    try:
        rows = list(read_rows(path.name, path.read_bytes()))
    except ImportFileRejected as exc:
        console.print(f"[red]{exc.title}[/red]: {exc.detail}")
        raise typer.Exit(2) from exc

    importer: Importer | None = None

    async def work(database: Database) -> ImportReport:
        nonlocal importer
        with Progress(console=console, transient=True) as progress:
            task = progress.add_task(f"导入{listing_kind.label_zh}", total=len(rows))
            importer = Importer(database, listing_kind)
            return await importer.run(
                rows,
                publish=publish,
                create_organizations=create_organizations,
                batch_size=batch_size,
                progress=lambda n: progress.advance(task, n),
            )

    report = _with_database(settings, work)
    if report_path and report_path.suffix.lower() == ".xlsx":
        assert importer is not None
        report_path.write_bytes(report_xlsx(listing_kind, report, importer.originals))
    elif report_path:
        report_path.write_text(report.model_dump_json(indent=2), encoding="utf-8")
    console.print(
        f"{listing_kind.label_zh}: 共 {report.total} 行, 新增 {report.created}, 已存在跳过 {report.skipped_existing}, "
        f"新建单位 {report.organizations_created}, 失败 {report.failed_rows} 行 (错误 {len(report.errors)} 条)"
    )
    if report.errors:
        table = Table("行", "字段", "代码", "原因")
        for error in report.errors[:50]:
            table.add_row(str(error.line), error.label or error.field, error.code, error.message)
        console.print(table)
        if len(report.errors) > 50:
            console.print(f"... 另有 {len(report.errors) - 50} 条错误 (用 --report 导出全部)")
        raise typer.Exit(1)


@app.command()
def worker(
    once: Annotated[bool, typer.Option("--once", help="Relay what is due, then exit.")] = False,
    heartbeat: Annotated[
        Path | None, typer.Option("--heartbeat", help="Touch this file every round (a health check reads its age).")
    ] = None,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port", help="Serve Prometheus metrics (search index writes, drift, repairs) on this port."
        ),
    ] = None,
    metrics_host: Annotated[
        str,
        typer.Option(
            "--metrics-host", help="Address the metrics port listens on (loopback unless a scraper elsewhere needs it)."
        ),
    ] = "127.0.0.1",
) -> None:
    """Background work: search relay, alert scoring, webhook delivery (several may run at once on PostgreSQL)."""
    import signal

    from prometheus_client import CollectorRegistry, start_http_server

    from app.worker import run_forever, run_once
    from core.http import build_http_client
    from core.observability import PROCESS_METRICS, Metrics
    from search.adapters import build_engine

    # Logging as for `serve`: JSON lines in the server profile, and never the console renderer's tracebacks
    # with local variables (they print connection arguments, passwords included) into service logs.
    settings = _settings()
    if settings.embedding_model is not None:  # as `serve` does: a folder that is no model stops the start
        from search.semantic.encoder import ModelFolderInvalid, fingerprint

        try:
            fingerprint(settings.embedding_model)
        except ModelFolderInvalid as exc:
            console.print(f"[red]配置错误 / invalid settings:[/red] TECHMARKET_EMBEDDING_MODEL: {exc}")
            raise typer.Exit(2) from exc

    async def work(database: Database) -> int:
        async with build_http_client(settings) as http:
            engine = build_engine(settings, database)
            try:
                await engine.ensure_ready()
                if once:
                    return await run_once(database, engine, http)
                stop = asyncio.Event()
                loop = asyncio.get_running_loop()
                for signum in (signal.SIGINT, signal.SIGTERM):
                    loop.add_signal_handler(signum, stop.set)
                console.print(f"worker running (search: {engine.name}); Ctrl+C to stop")
                metrics = Metrics()
                if metrics_port is not None:
                    served = CollectorRegistry()  # the worker's metrics and the per-process counters
                    served.register(metrics.registry)
                    served.register(PROCESS_METRICS.registry)
                    start_http_server(metrics_port, addr=metrics_host, registry=served)
                await run_forever(database, engine, http, stop, heartbeat=heartbeat, metrics=metrics.search_index)
                return 0
            finally:
                await engine.aclose()

    handled = _with_database(settings, work)
    if once:
        console.print(f"已同步 {handled} 条变更")


@app.command("search-key")
def search_key(
    out: Annotated[
        Path | None, typer.Option("--out", help="Write the key to this file (owner-only) instead of printing it.")
    ] = None,
) -> None:
    """With the master key (TECHMARKET_SEARCH_KEY), create or find the app's own Meilisearch key: the
    app's indexes (TECHMARKET_SEARCH_INDEX_PREFIX) and the actions it uses only. Idempotent."""
    from app.search_key import SearchKeyError, ensure_app_key, write_key

    settings = _settings()
    if not settings.search_url or not settings.search_key:
        console.print("[red]TECHMARKET_SEARCH_URL and TECHMARKET_SEARCH_KEY (the master key) are required[/red]")
        raise typer.Exit(2)
    try:
        key = ensure_app_key(settings.search_url, settings.search_key, settings.search_index_prefix)
    except (SearchKeyError, httpx.HTTPError) as exc:
        console.print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    if out is None:
        print(key)
    else:
        write_key(out, key)
        console.print(f"search key for indexes {settings.search_index_prefix}_* written to {out}")


@app.command()
def reindex(
    kind: Annotated[ImportKind | None, typer.Argument(help="achievements or demands (default: both)")] = None,
    check: Annotated[
        bool,
        typer.Option(
            "--check", help="Compare published ids with indexed ids and repair the differences, instead of rebuilding."
        ),
    ] = False,
) -> None:
    """Rebuild the search index from the database and swap it in, with no downtime."""
    from functools import partial

    from rich.progress import Progress

    from search.adapters import build_engine
    from search.outbox_relay import count_published
    from search.outbox_relay import reindex as rebuild

    settings = _settings()
    kinds = [kind] if kind else list(ImportKind)
    if check:
        _check_index(settings, [item.value.removesuffix("s") for item in kinds])
        return

    async def work(database: Database) -> dict[str, int]:
        counts: dict[str, int] = {}
        engine = build_engine(settings)
        try:
            await engine.ensure_ready()
            with Progress(console=console) as progress:
                for item in kinds:
                    name = item.value.removesuffix("s")
                    task = progress.add_task(f"重建索引 {item.value}", total=await count_published(database, name))
                    counts[item.value] = await rebuild(database, engine, name, partial(progress.advance, task))
        finally:
            await engine.aclose()
        return counts

    for name, count in _with_database(settings, work).items():
        console.print(f"[green]{name}: 已索引 {count} 条[/green]")


def _check_index(settings: Settings, kinds: list[str]) -> None:
    """The worker's periodic consistency check, run now: the same comparison and repairs."""
    from rich.table import Table

    from search.adapters import build_engine
    from search.consistency import check_index

    async def work(database: Database) -> list[tuple[str, int, int, list[int], list[int]]]:
        engine = build_engine(settings)
        try:
            await engine.ensure_ready()
            reports = [await check_index(database, engine, name) for name in kinds]
        finally:
            await engine.aclose()
        return [(r.kind, r.published, r.indexed, r.missing, r.extra) for r in reports]

    table = Table("kind", "published", "indexed", "missing (indexed now)", "extra (deleted now)")
    for name, published, indexed, missing, extra in _with_database(settings, work):
        table.add_row(
            name,
            str(published),
            str(indexed),
            f"{len(missing)} {missing[:10] or ''}",
            f"{len(extra)} {extra[:10] or ''}",
        )
    console.print(table)


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


if __name__ == "__main__":  # `python -m app.cli`, the benches' fallback when the script is not installed
    main()
