"""docker-compose.yml cannot be run here (no Docker engine); check what would break it."""

import os
import re
import subprocess
from pathlib import Path

import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[1]


def test_compose_runs_postgres_meilisearch_and_app_with_health_checks() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    services = compose["services"]
    assert set(services) >= {"postgres", "meilisearch", "app"}
    assert services["meilisearch"]["image"] == "getmeili/meilisearch:v1.21.0"
    assert all("healthcheck" in service for service in services.values())
    app = services["app"]
    assert "--migrate" in app["command"]
    assert app["environment"]["TECHMARKET_DATABASE_URL"].startswith("postgresql+asyncpg://")
    assert {dep: cond["condition"] for dep, cond in app["depends_on"].items()} == {
        "postgres": "service_healthy",
        "meilisearch": "service_healthy",
    }
    # Secrets come from the environment, never from the file.
    assert app["environment"]["TECHMARKET_SECRET_KEY"].startswith("${")


def test_dockerfile_copies_every_package_the_project_installs() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    for package in ("core", "market", "search", "contracts", "alembic"):
        assert f"COPY {package} ./{package}" in dockerfile
    assert "pip install --no-cache-dir -e ." in dockerfile


# --- the complete deployment: worker, payment stub, several API workers, secrets, volumes ---------

SECRETS = (
    "POSTGRES_PASSWORD",
    "MEILI_MASTER_KEY",
    "TECHMARKET_SECRET_KEY",
    "TECHMARKET_PAYMENT_WEBHOOK_SECRET",
    "TECHMARKET_PAYMENT_PROVIDER_API_KEY",
)


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _cli_options(*path: str) -> set[str]:
    """Every option name of a ``techmarket`` subcommand, read from the CLI itself."""
    from app.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def _options_used(command: list[str]) -> dict[str, str]:
    return {arg: command[i + 1] for i, arg in enumerate(command) if arg.startswith("--") and i + 1 < len(command)}


def test_compose_has_worker_and_payment_stub_built_from_the_app_image() -> None:
    services = _compose()["services"]
    assert set(services) >= {"postgres", "meilisearch", "app", "worker", "payments"}
    app = services["app"]
    for name in ("worker", "payments"):
        assert services[name]["build"] == app["build"] == "."
        assert services[name]["image"] == app["image"]
        assert "healthcheck" in services[name] and services[name].get("restart") == "unless-stopped"
    assert services["worker"]["command"][:2] == ["techmarket", "worker"]
    assert services["payments"]["command"][:2] == ["techmarket", "payments-stub"]
    # Several API workers; no background loop inside them (the worker service does that).
    assert int(_options_used(app["command"])["--workers"]) >= 2
    assert app["environment"]["TECHMARKET_WORKER_IN_PROCESS"] == "false"


def test_compose_commands_use_only_options_the_cli_has() -> None:
    services = _compose()["services"]
    for name in ("app", "worker", "payments"):
        command = services[name]["command"]
        flags = {arg for arg in command if arg.startswith("--")}
        assert flags <= _cli_options(command[1]), (name, flags - _cli_options(command[1]))


def test_compose_worker_shares_the_apps_settings_and_waits_for_its_migrations() -> None:
    services = _compose()["services"]
    app, worker = services["app"], services["worker"]
    assert worker["environment"] == app["environment"]
    assert {dep: cond["condition"] for dep, cond in worker["depends_on"].items()} == {
        "postgres": "service_healthy",
        "meilisearch": "service_healthy",
        "app": "service_healthy",  # app runs `--migrate`; the worker refuses a schema that is behind
    }
    heartbeat = _options_used(worker["command"])["--heartbeat"]
    assert heartbeat in " ".join(worker["healthcheck"]["test"])


def test_compose_wires_the_app_to_the_payment_stub_and_back() -> None:
    services = _compose()["services"]
    app, payments = services["app"], services["payments"]
    stub = _options_used(payments["command"])
    assert app["environment"]["TECHMARKET_PAYMENT_PROVIDER_URL"] == f"http://payments:{stub['--port']}"
    app_port = _options_used(app["command"])["--port"]
    assert stub["--webhook-url"] == f"http://app:{app_port}/api/v1/payments/webhook"
    assert stub["--host"] == "0.0.0.0" and "ports" not in payments  # reachable by the app only
    for key in ("TECHMARKET_PAYMENT_PROVIDER_API_KEY", "TECHMARKET_PAYMENT_WEBHOOK_SECRET"):
        assert payments["environment"][key] == app["environment"][key]  # both sides sign and check alike
    assert payments["environment"]["TECHMARKET_ENV"] == "production"  # refuses the development secrets


def test_compose_takes_every_secret_from_the_environment_and_keeps_data_in_volumes() -> None:
    compose = _compose()
    text = (ROOT / "docker-compose.yml").read_text(encoding="utf-8")
    for secret in SECRETS:
        assert f"${{{secret}:?" in text, secret  # required: no silent empty password
    for name, service in compose["services"].items():
        for key, value in (service.get("environment") or {}).items():
            if re.search(r"PASSWORD|SECRET|_KEY$", key):
                assert str(value).startswith("${"), (name, key)
            if "://" in str(value) and "@" in str(value):  # credentials inside a URL are interpolated too
                assert re.search(r"://[^:/@]+:\$\{[A-Z_]+(:\?[^}]*)?\}@", str(value)), (name, key)
    assert set(compose["volumes"]) == {"pgdata", "meilidata"}
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "meilidata:/meili_data" in compose["services"]["meilisearch"]["volumes"]


def test_compose_file_is_accepted_by_a_compose_client() -> None:
    """The real parser and schema, offline: needs `docker compose` or `docker-compose` (no engine)."""
    from tests.hardening.server_profile import which_compose

    client = which_compose()
    if client is None:
        pytest.skip(
            "no compose client here (`docker compose` plugin or `docker-compose`); the YAML checks above still ran"
        )
    env = {k: v for k, v in os.environ.items() if k not in SECRETS}
    missing = subprocess.run(
        [*client, "-f", str(ROOT / "docker-compose.yml"), "config", "--quiet"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert missing.returncode != 0 and "set " in missing.stderr, missing.stderr  # refuses to start without secrets
    env.update({secret: f"test-{secret.lower()}-0123456789abcdef0123456789" for secret in SECRETS})
    config = subprocess.run(
        [*client, "-f", str(ROOT / "docker-compose.yml"), "config"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert config.returncode == 0, config.stderr
    resolved = yaml.safe_load(config.stdout)["services"]
    assert set(resolved) == {"postgres", "meilisearch", "app", "worker", "payments"}
    assert resolved["worker"]["environment"]["TECHMARKET_DATABASE_URL"].endswith("@postgres:5432/techmarket")
