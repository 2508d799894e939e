import pytest
from pydantic import ValidationError

from core.settings import DEV_SECRET_KEY, Settings


def test_development_defaults_to_embedded_sqlite_under_data_dir(tmp_path) -> None:
    settings = Settings(data_dir=tmp_path)
    assert settings.profile == "embedded"
    assert settings.resolved_database_url == f"sqlite+aiosqlite:///{tmp_path.resolve() / 'techmarket.db'}"
    assert settings.secret_key == DEV_SECRET_KEY


def test_server_profile_from_postgres_url() -> None:
    settings = Settings(database_url="postgresql+asyncpg://u@h/db")
    assert settings.profile == "server"
    assert settings.json_logs


@pytest.mark.parametrize("secret", [DEV_SECRET_KEY, "too-short"])
def test_production_refuses_default_or_weak_secret(secret: str) -> None:
    with pytest.raises(ValidationError, match="TECHMARKET_SECRET_KEY"):
        Settings(env="production", secret_key=secret)


def test_settings_read_from_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TECHMARKET_ENV", "production")
    monkeypatch.setenv("TECHMARKET_SECRET_KEY", "x" * 40)
    monkeypatch.setenv("TECHMARKET_DATABASE_URL", "postgresql+asyncpg://postgres@127.0.0.1/x")
    monkeypatch.setenv("TECHMARKET_SEARCH_URL", "http://127.0.0.1:7700")
    with pytest.raises(ValidationError, match="TECHMARKET_SEARCH_KEY"):
        Settings()
    monkeypatch.setenv("TECHMARKET_SEARCH_KEY", "k")
    assert Settings().search_url == "http://127.0.0.1:7700"


def test_unsupported_database_driver_is_refused() -> None:
    with pytest.raises(ValidationError, match="sqlite\\+aiosqlite"):
        Settings(database_url="mysql://root@localhost/x")


def test_an_object_store_outside_development_needs_its_credentials() -> None:
    secret = "s" * 40
    with pytest.raises(ValueError, match="TECHMARKET_STORAGE_S3_ACCESS_KEY"):
        Settings(env="production", secret_key=secret, storage_s3_url="http://objects:9000")
    settings = Settings(
        env="production",
        secret_key=secret,
        storage_s3_url="http://objects:9000",
        storage_s3_access_key="techmarket",
        storage_s3_secret_key="t" * 40,
    )
    assert settings.storage_s3_bucket == "techmarket"
