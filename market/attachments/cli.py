"""``techmarket attachments reconcile``: storage against the database."""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

import typer
from rich.console import Console

attachments_app = typer.Typer(help="Attachments and their stored objects.", no_args_is_help=True)
console = Console()


@attachments_app.command("reconcile")
def reconcile_command(
    remove: Annotated[
        bool, typer.Option("--remove", help="Delete orphaned objects (older than the grace) and fix counts.")
    ] = False,
    grace_minutes: Annotated[
        int, typer.Option("--grace-minutes", min=0, help="Younger orphans may be uploads still committing.")
    ] = 60,
) -> None:
    """Report objects no row knows (orphans), rows whose object is gone (missing) and wrong counts;
    exit 1 while any remain."""
    from core import migrations
    from core.db import Database
    from core.settings import Settings
    from core.storage import build_store
    from market.attachments.cleanup import Reconciliation, reconcile

    try:
        settings = Settings()
    except ValueError as exc:
        console.print(f"[red]配置错误 / invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc

    async def run(database: Database) -> Reconciliation:
        store = build_store(settings)
        try:
            return await reconcile(database, store, remove=remove, grace=timedelta(minutes=grace_minutes))
        finally:
            await store.aclose()

    result = migrations.run_with_database(settings, run)
    for sha256 in result.orphans:
        state = "[green]removed[/green]" if sha256 in result.removed else "[yellow]open[/yellow]"
        console.print(f"  orphan    {sha256}  {state}")
    for sha256 in result.recent:
        console.print(f"  recent    {sha256}  (younger than {grace_minutes} min: left alone)")
    for sha256 in result.missing:
        console.print(f"  missing   {sha256}  [red]对象缺失, 请重新上传[/red]")
    for sha256, (counted, rows) in result.miscounted.items():
        state = "[green]fixed[/green]" if remove else "[yellow]open[/yellow]"
        console.print(f"  count     {sha256}  refcount {counted} != {rows} attachments  {state}")
    open_orphans = [sha for sha in result.orphans if sha not in result.removed]
    remaining = len(open_orphans) + len(result.missing) + (0 if remove else len(result.miscounted))
    if result.clean:
        console.print("[green]存储与数据库一致 (clean)[/green]")
    elif remaining:
        console.print(f"[red]{remaining} 处不一致[/red]" + ("" if remove else " (use --remove)"))
        raise typer.Exit(1)
    else:
        console.print("[green]已清理[/green]")
