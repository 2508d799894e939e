"""docker-compose.yml cannot be run here (no Docker engine); check what would break it."""

from pathlib import Path

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
