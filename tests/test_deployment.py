"""docker-compose.yml, the Dockerfile and the lock files cannot be run here (no Docker engine); check
what would break them, and parse the compose file with a real compose client when one is here."""

import os
import re
import subprocess
from pathlib import Path

import typer
import yaml

from tests.prerequisites import require

ROOT = Path(__file__).resolve().parents[1]

SECRETS = (
    "POSTGRES_PASSWORD",
    "MEILI_MASTER_KEY",
    "TECHMARKET_SECRET_KEY",
    "TECHMARKET_PAYMENT_WEBHOOK_SECRET",
    "TECHMARKET_PAYMENT_PROVIDER_API_KEY",
    "TECHMARKET_METRICS_TOKEN",
    "S3_ACCESS_KEY",
    "S3_SECRET_KEY",
)
LONG_RUNNING = ("postgres", "meilisearch", "objects", "app", "worker", "payments")
ONE_SHOT = ("migrate", "search-key")


def _compose() -> dict:  # type: ignore[type-arg]
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))


def _dockerfile() -> str:
    return (ROOT / "Dockerfile").read_text(encoding="utf-8")


def _cli_options(*path: str) -> set[str]:
    """Every option name of a ``techmarket`` subcommand, read from the CLI itself."""
    from app.cli import app

    command = typer.main.get_command(app)
    for name in path:
        command = command.commands[name]  # type: ignore[attr-defined]
    return {opt for param in command.params for opt in getattr(param, "opts", [])}


def _options_used(command: list[str]) -> dict[str, str]:
    return {arg: command[i + 1] for i, arg in enumerate(command) if arg.startswith("--") and i + 1 < len(command)}


def _conditions(service: dict) -> dict[str, str]:  # type: ignore[type-arg]
    return {dep: cond["condition"] for dep, cond in service["depends_on"].items()}


# --- the compose file ---------------------------------------------------------------------------


def test_compose_services_and_health_checks() -> None:
    services = _compose()["services"]
    assert set(services) == {*LONG_RUNNING, *ONE_SHOT}
    for name in LONG_RUNNING:
        check = services[name]["healthcheck"]
        assert check["test"] and not check.get("disable"), name
        assert services[name]["restart"] == "unless-stopped", name
    for name in ONE_SHOT:  # a one-shot step is healthy by exiting 0; restarting it would loop
        assert services[name]["restart"] == "no", name
        assert services[name]["healthcheck"] == {"disable": True}, name
    app = services["app"]
    assert app["environment"]["TECHMARKET_DATABASE_URL"].startswith("postgresql+asyncpg://")
    for name in ("app", "worker", "payments", *ONE_SHOT):
        assert services[name]["build"] == "." and services[name]["image"] == app["image"], name


def test_images_are_pinned_to_exact_versions() -> None:
    services = _compose()["services"]
    assert services["meilisearch"]["image"] == "getmeili/meilisearch:v1.21.0"
    assert re.fullmatch(r"postgres:\d+\.\d+(-bookworm)?", services["postgres"]["image"])
    assert re.fullmatch(r"minio/minio:RELEASE\.\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ", services["objects"]["image"])
    base = re.search(r"^FROM (\S+)", _dockerfile(), re.M)
    assert base is not None and re.fullmatch(r"python:3\.11\.\d+-slim-bookworm", base.group(1)), base


def test_migrations_run_once_in_a_one_shot_service_that_app_and_worker_wait_for() -> None:
    services = _compose()["services"]
    migrate = services["migrate"]
    assert migrate["command"] == ["techmarket", "migrate"]
    assert _conditions(migrate) == {"postgres": "service_healthy"}
    for name in ("app", "worker"):
        assert "--migrate" not in services[name]["command"], name  # N processes would race to migrate
        assert _conditions(services[name]) == {
            "postgres": "service_healthy",
            "meilisearch": "service_healthy",
            "objects": "service_healthy",
            "migrate": "service_completed_successfully",
            "search-key": "service_completed_successfully",
        }, name


def test_app_and_worker_get_a_scoped_search_key_never_the_master_key() -> None:
    compose = _compose()
    services = compose["services"]
    step = services["search-key"]
    out = _options_used(step["command"])["--out"]
    assert step["command"][:2] == ["techmarket", "search-key"]
    assert step["environment"]["TECHMARKET_SEARCH_KEY"] == "${MEILI_MASTER_KEY:?set MEILI_MASTER_KEY}"
    assert _conditions(step) == {"meilisearch": "service_healthy"}
    volume = next(v.split(":")[0] for v in step["volumes"] if Path(out).parent.as_posix() in v)
    assert volume in compose["volumes"]
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["TECHMARKET_SEARCH_KEY_FILE"] == out and "TECHMARKET_SEARCH_KEY" not in env, name
        assert "MEILI_MASTER_KEY" not in str(services[name]), name
        assert f"{volume}:{Path(out).parent.as_posix()}:ro" in services[name]["volumes"], name
    for name, service in services.items():
        if "MEILI_MASTER_KEY" in str(service):
            assert name in {"meilisearch", "search-key"}, name
        if name in ("migrate", "payments"):
            assert not any("SEARCH" in key for key in service["environment"]), name


def test_compose_has_worker_and_payment_stub_built_from_the_app_image() -> None:
    services = _compose()["services"]
    app = services["app"]
    assert services["worker"]["command"][:2] == ["techmarket", "worker"]
    assert services["payments"]["command"][:2] == ["techmarket", "payments-stub"]
    # Several API workers; no background loop inside them (the worker service does that).
    assert int(_options_used(app["command"])["--workers"]) >= 2
    assert app["environment"]["TECHMARKET_WORKER_IN_PROCESS"] == "false"
    assert app["environment"]["TECHMARKET_METRICS_TOKEN"].startswith("${TECHMARKET_METRICS_TOKEN:?")


def test_compose_commands_use_only_options_the_cli_has() -> None:
    services = _compose()["services"]
    for name in ("app", "worker", "payments", *ONE_SHOT):
        command = services[name]["command"]
        flags = {arg for arg in command if arg.startswith("--")}
        assert flags <= _cli_options(command[1]), (name, flags - _cli_options(command[1]))


def test_compose_worker_shares_the_apps_settings() -> None:
    services = _compose()["services"]
    app, worker = services["app"], services["worker"]
    assert worker["environment"] == app["environment"]
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
            if re.search(r"PASSWORD|SECRET|_KEY$|_TOKEN$", key):
                assert str(value).startswith("${"), (name, key)
            if "://" in str(value) and "@" in str(value):  # credentials inside a URL are interpolated too
                assert re.search(r"://[^:/@]+:\$\{[A-Z_]+(:\?[^}]*)?\}@", str(value)), (name, key)
    assert set(compose["volumes"]) == {"pgdata", "meilidata", "searchkey", "objectdata"}
    assert "objectdata:/data" in compose["services"]["objects"]["volumes"]
    assert "pgdata:/var/lib/postgresql/data" in compose["services"]["postgres"]["volumes"]
    assert "meilidata:/meili_data" in compose["services"]["meilisearch"]["volumes"]


def test_compose_file_is_accepted_by_a_compose_client() -> None:
    """The real parser and schema, offline: needs `docker compose` or `docker-compose` (no engine)."""
    from tests.hardening.server_profile import which_compose

    client = which_compose()
    require(
        client, "no compose client here (`docker compose` plugin or `docker-compose`); the YAML checks above still ran"
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
    assert set(resolved) == {*LONG_RUNNING, *ONE_SHOT}
    assert resolved["worker"]["environment"]["TECHMARKET_DATABASE_URL"].endswith("@postgres:5432/techmarket")
    assert resolved["app"]["depends_on"]["migrate"]["condition"] == "service_completed_successfully"
    master = env["MEILI_MASTER_KEY"]
    assert master not in str(resolved["app"]) and master not in str(resolved["worker"])


# --- the image --------------------------------------------------------------------------------------


def test_dockerfile_installs_the_cjk_font_and_locked_dependencies_before_the_code() -> None:
    dockerfile = _dockerfile()
    assert re.search(r"apt-get install[^\n]*\bfonts-noto-cjk\b", dockerfile)  # else charts: 503 cjk_font_missing
    lines = dockerfile.splitlines()

    def index(pattern: str) -> int:
        return next(i for i, line in enumerate(lines) if re.search(pattern, line))

    locked = index(r"pip install --require-hashes -r requirements\.lock")
    assert index(r"^COPY requirements\.lock ") < locked
    for package in ("core", "market", "search", "contracts", "app", "alembic"):
        assert index(rf"^COPY {package} \./{package}$") > locked, package  # a code change keeps the deps layer
    assert index(r"pip install --no-deps -e \.") > index(r"^COPY app ")
    assert "--migrate" not in dockerfile


def test_dockerignore_keeps_environments_history_and_secrets_out_of_the_context() -> None:
    ignored = {
        line.strip() for line in (ROOT / ".dockerignore").read_text(encoding="utf-8").splitlines() if line.strip()
    }
    assert {".venv", ".git", ".env", "var"} <= ignored
    copied = set(re.findall(r"^COPY (\S+)", _dockerfile(), re.M))
    assert not copied & ignored  # nothing the Dockerfile needs is left out


# --- the lock files ---------------------------------------------------------------------------------


def _pins(path: Path) -> dict[str, str]:
    text = path.read_text(encoding="utf-8")
    return {
        m.group(1).lower().replace("_", "-"): m.group(2) for m in re.finditer(r"^([A-Za-z0-9_.-]+)==(\S+)", text, re.M)
    }


def test_lock_files_pin_and_hash_every_requirement_the_project_declares() -> None:
    import tomllib

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    runtime, dev = _pins(ROOT / "requirements.lock"), _pins(ROOT / "requirements-dev.lock")
    for path in ("requirements.lock", "requirements-dev.lock"):
        blocks = re.split(r"\n(?=[A-Za-z0-9])", (ROOT / path).read_text(encoding="utf-8"))
        assert all("--hash=sha256:" in block for block in blocks if re.match(r"[A-Za-z0-9]", block)), path
    for requirement in project["dependencies"]:
        name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s;]+)", requirement).groups()  # type: ignore[union-attr]
        assert runtime[name.lower().replace("_", "-")] == version, requirement
    for requirement in project["optional-dependencies"]["dev"]:
        name, version = re.match(r"([A-Za-z0-9_.-]+)(?:\[[^]]*\])?==([^\s;]+)", requirement).groups()  # type: ignore[union-attr]
        assert dev[name.lower().replace("_", "-")] == version, requirement
    assert all(dev[name] == version for name, version in runtime.items())  # one resolution, two subsets
    assert "pytest" not in runtime and "mypy" not in runtime  # the image gets the runtime set only
    scripts = {name: (ROOT / "scripts" / name).read_text(encoding="utf-8") for name in ("_venv.sh", "test", "start")}
    assert "--require-hashes" in scripts["_venv.sh"] and "--no-deps" in scripts["_venv.sh"]
    assert "install_locked requirements-dev.lock" in scripts["test"]
    assert "install_locked requirements.lock" in scripts["start"]


def test_app_and_worker_keep_attachments_in_the_object_store_with_its_credentials() -> None:
    services = _compose()["services"]
    store = services["objects"]
    for name in ("app", "worker"):
        env = services[name]["environment"]
        assert env["TECHMARKET_STORAGE_S3_URL"] == f"http://objects:{store['expose'][0]}", name
        assert env["TECHMARKET_STORAGE_S3_ACCESS_KEY"] == store["environment"]["MINIO_ROOT_USER"], name
        assert env["TECHMARKET_STORAGE_S3_SECRET_KEY"] == store["environment"]["MINIO_ROOT_PASSWORD"], name
        assert _conditions(services[name])["objects"] == "service_healthy", name
    assert "ports" not in store  # files leave only through the app's signed links
