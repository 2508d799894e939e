"""Payment settings (environment, prefix ``TECHMARKET_PAYMENT_``); core settings stay untouched.

Outside development (``TECHMARKET_ENV``) the default or a short webhook secret is refused, as core
does for its secret key.
"""

from __future__ import annotations

from typing import Literal

from pydantic import AliasChoices, Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_WEBHOOK_SECRET = "dev-only-payment-webhook-secret-change-me-00"
DEV_PROVIDER_API_KEY = "sk_test_dev_only"
MIN_SECRET_LENGTH = 32


class ContractSettings(BaseSettings):
    """Contract settings (environment, prefix ``TECHMARKET_CONTRACT_``)."""

    model_config = SettingsConfigDict(env_prefix="TECHMARKET_CONTRACT_", env_file=None, extra="ignore")

    completion_confirm_days: int = Field(
        default=15,
        ge=1,
        le=365,
        description="days the buyer has to confirm or object after the seller claims completion",
    )


class PaymentSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="TECHMARKET_PAYMENT_", env_file=None, extra="ignore")

    env: Literal["development", "test", "production"] = Field(
        default="development", validation_alias=AliasChoices("TECHMARKET_ENV", "env")
    )
    provider_url: str = Field(default="http://127.0.0.1:8090", description="payment provider base URL")
    provider_api_key: str = Field(default=DEV_PROVIDER_API_KEY, description="bearer key sent to the provider")
    webhook_secret: str = Field(default=DEV_WEBHOOK_SECRET, description="HMAC-SHA256 key of provider webhooks")
    webhook_tolerance_seconds: int = Field(default=300, ge=1, description="accepted clock skew of a webhook")
    timeout_seconds: float = Field(default=5.0, gt=0, description="per attempt")
    max_attempts: int = Field(default=4, ge=1, le=10, description="attempts on a timeout or 5xx, same Idempotency-Key")
    backoff_seconds: float = Field(default=0.2, ge=0, description="first retry delay, doubled each time")

    @model_validator(mode="after")
    def _refuse_weak_secrets(self) -> PaymentSettings:
        if self.env != "development":
            if self.webhook_secret == DEV_WEBHOOK_SECRET or len(self.webhook_secret) < MIN_SECRET_LENGTH:
                raise ValueError(
                    "TECHMARKET_PAYMENT_WEBHOOK_SECRET must be set to a random value of at least "
                    f"{MIN_SECRET_LENGTH} characters outside development"
                )
            if self.provider_api_key == DEV_PROVIDER_API_KEY:
                raise ValueError("TECHMARKET_PAYMENT_PROVIDER_API_KEY must be set outside development")
        return self
