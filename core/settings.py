"""Settings read from the environment (prefix ``TECHMARKET_``).

The profile follows from the database URL: SQLite is the embedded default, anything else is
the server profile. Outside development the service refuses weak or default secrets.
"""

from __future__ import annotations

from functools import cached_property
from ipaddress import IPv4Network, IPv6Network, ip_network
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me-0000"
MIN_SECRET_LENGTH = 32


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TECHMARKET_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = "development"
    data_dir: Path = Path("var")
    database_url: str | None = None
    search_url: str | None = None
    search_key: str | None = None
    search_key_file: Path | None = Field(
        default=None, description="read the search key from this file (written by `techmarket search-key`)"
    )
    search_index_prefix: str = "techmarket"
    embedding_model: Path | None = Field(
        default=None,
        description="folder of a sentence-embedding model (BERT, safetensors): listings' vectors join matching",
    )
    secret_key: str = DEV_SECRET_KEY
    access_token_minutes: int = Field(default=30, ge=1, le=24 * 60)
    log_json: bool | None = None
    worker_in_process: bool | None = Field(
        default=None, description="run the background worker inside the API process (default: embedded profile only)"
    )
    log_level: str = "INFO"
    metrics_token: str | None = Field(
        default=None,
        description="/metrics asks for `Authorization: Bearer <token>`; unset: open outside production, 404 in it",
    )
    db_pool_size: int = Field(default=10, ge=1)
    db_timeout_seconds: float = Field(default=5.0, gt=0)
    search_timeout_seconds: float = Field(default=3.0, gt=0)
    http_timeout_seconds: float = Field(default=10.0, gt=0)
    # Attachments: files under the data directory, or an S3-compatible object store when its URL is set.
    storage_s3_url: str | None = Field(default=None, description="S3-compatible endpoint for attachments; unset: files")
    storage_s3_bucket: str = Field(default="techmarket", min_length=3, max_length=63)
    storage_s3_region: str = "us-east-1"
    storage_s3_access_key: str | None = None
    storage_s3_secret_key: str | None = None
    attachment_link_seconds: int = Field(default=300, ge=10, le=3600, description="lifetime of a signed download link")
    # Failed logins allowed per account and per client address (IPv6: per /64) in any window, as a
    # token bucket: the full number at once, then one more every window/number seconds.
    login_account_failures: int = Field(default=40, ge=1)
    login_address_failures: int = Field(default=100, ge=1)
    login_window_seconds: int = Field(default=900, ge=1)
    trusted_proxies: str = Field(
        default="", description="comma-separated proxy addresses/networks whose X-Forwarded-For names the client"
    )
    webhook_allow_insecure: bool = Field(
        default=False,
        description="development and tests only: webhooks may use http, any port, loopback and private addresses",
    )
    webhook_allowed_ports: list[int] = Field(default_factory=lambda: [443], description="https ports webhooks may use")
    webhook_timeout_seconds: float = Field(default=5.0, gt=0, le=60)
    smtp_host: str | None = Field(
        default=None, description="notification e-mail goes out through this server; unset: none"
    )
    smtp_port: int = Field(default=587, ge=1, le=65535)
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str = Field(default="noreply@techmarket.cn", max_length=254, description="sender of notification e-mail")
    smtp_starttls: bool = Field(default=True, description="upgrade the connection with STARTTLS before logging in")
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=120)
    pdf_font: Path = Field(
        default=Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
        description="CJK font (.ttc/.otf/.ttf) embedded in generated PDF certificates (Debian fonts-noto-cjk)",
    )
    pdf_font_index: int = Field(default=2, ge=0, description="face of a .ttc collection: 2 = Noto Sans CJK SC")
    public_url: str | None = Field(
        default=None,
        pattern=r"^https?://[^\s/]+(/[^\s]*)?$",
        description="the service's public address for links printed on certificates; unset: the request's own",
    )

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> Settings:
        if self.search_key_file is not None and not self.search_key:
            try:
                self.search_key = self.search_key_file.read_text(encoding="utf-8").strip() or None
            except OSError as exc:
                raise ValueError(f"TECHMARKET_SEARCH_KEY_FILE: {exc}") from exc
        if self.env != "development":
            if self.secret_key == DEV_SECRET_KEY or len(self.secret_key) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "TECHMARKET_SECRET_KEY must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters outside development "
                    "(e.g. `python -c 'import secrets; print(secrets.token_urlsafe(48))'`)"
                )
            if self.metrics_token is not None and len(self.metrics_token) < MIN_SECRET_LENGTH:
                raise ValueError(f"TECHMARKET_METRICS_TOKEN must be at least {MIN_SECRET_LENGTH} characters")
            if self.search_url and not self.search_key:
                raise ValueError("TECHMARKET_SEARCH_KEY is required when TECHMARKET_SEARCH_URL is set")
            if self.storage_s3_url and not (self.storage_s3_access_key and self.storage_s3_secret_key):
                raise ValueError(
                    "TECHMARKET_STORAGE_S3_ACCESS_KEY and _SECRET_KEY are required with TECHMARKET_STORAGE_S3_URL"
                )
        if self.env == "production" and self.webhook_allow_insecure:
            raise ValueError(
                "TECHMARKET_WEBHOOK_ALLOW_INSECURE is for development and tests; it cannot be set in production"
            )
        self.trusted_proxy_networks  # noqa: B018  (a bad network refuses to start, not the first request)
        if self.database_url and not self.database_url.startswith(("sqlite+aiosqlite://", "postgresql+asyncpg://")):
            raise ValueError("TECHMARKET_DATABASE_URL must use sqlite+aiosqlite:// or postgresql+asyncpg://")
        return self

    @cached_property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{(self.data_dir / 'techmarket.db').resolve()}"

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        try:
            return tuple(
                ip_network(part.strip(), strict=False) for part in self.trusted_proxies.split(",") if part.strip()
            )
        except ValueError as exc:
            raise ValueError(f"TECHMARKET_TRUSTED_PROXIES: {exc}") from exc

    @property
    def profile(self) -> Literal["embedded", "server"]:
        return "embedded" if self.resolved_database_url.startswith("sqlite") else "server"

    @property
    def runs_worker_in_process(self) -> bool:
        return self.worker_in_process if self.worker_in_process is not None else self.profile == "embedded"

    @property
    def json_logs(self) -> bool:
        return self.log_json if self.log_json is not None else self.profile == "server"


def get_settings() -> Settings:
    return Settings()
