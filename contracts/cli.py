"""``techmarket payments reconcile`` and ``techmarket payments-stub`` (wired in app.cli)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from contracts.settings import PaymentSettings

payments_app = typer.Typer(help="Payments through the provider.", no_args_is_help=True)
console = Console()


@payments_app.command("reconcile")
def reconcile_command(
    repair: Annotated[bool, typer.Option("--repair", help="Apply the provider's state where ours differs.")] = False,
) -> None:
    """Compare the provider's payment intents with ours; exit 1 when differences remain."""
    from contracts.payment.client import PaymentProvider, ProviderError
    from contracts.payment.reconcile import Difference, reconcile
    from core import migrations
    from core.db import Database
    from core.http import build_http_client
    from core.settings import Settings

    try:
        settings = Settings()
        payment_settings = PaymentSettings(env=settings.env)
    except ValueError as exc:
        console.print(f"[red]配置错误 / invalid settings:[/red] {exc}")
        raise typer.Exit(2) from exc

    async def run(database: Database) -> list[Difference]:
        async with build_http_client(settings) as http:
            return await reconcile(database, PaymentProvider(http, payment_settings), repair=repair)

    try:
        differences = migrations.run_with_database(settings, run)
    except ProviderError as exc:
        console.print(f"[red]支付服务不可用 / provider unavailable:[/red] {exc}")
        raise typer.Exit(2) from exc
    for difference in differences:
        mark = "[green]repaired[/green]" if difference.repaired else "[yellow]open[/yellow]"
        console.print(f"  {difference.kind:22} {difference.intent_id or '-':30} {difference.detail}  {mark}")
    remaining = [d for d in differences if not d.repaired]
    if not differences:
        console.print("[green]对账一致 (clean)[/green]")
    elif remaining:
        console.print(f"[red]{len(remaining)} 处不一致[/red]" + ("" if repair else " (use --repair)"))
        raise typer.Exit(1)
    else:
        console.print(f"[green]已修复 {len(differences)} 处不一致[/green]")


def payments_stub(
    host: Annotated[str, typer.Option(help="Address to bind.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to bind.")] = 8090,
    webhook_url: Annotated[
        str, typer.Option(help="Backend webhook URL.")
    ] = "http://127.0.0.1:8000/api/v1/payments/webhook",
) -> None:
    """Run the payment provider stub (for development, tests and docker-compose; state in memory)."""
    import uvicorn

    from contracts.payment.stub import create_stub_app

    settings = PaymentSettings()
    console.print(f"[bold]payment provider stub[/bold] on http://{host}:{port} → webhooks to {webhook_url}")
    uvicorn.run(
        create_stub_app(webhook_url, settings.webhook_secret, settings.provider_api_key),
        host=host,
        port=port,
        access_log=False,
    )
