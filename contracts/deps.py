"""Dependencies of the contracts routes: payment settings and the provider client (built lazily)."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from contracts.payment.client import PaymentProvider
from contracts.settings import PaymentSettings


async def get_payment_settings(request: Request) -> PaymentSettings:
    """Read once per app from TECHMARKET_PAYMENT_*; tests may set ``app.state.payment_settings``."""
    settings = getattr(request.app.state, "payment_settings", None)
    if settings is None:
        settings = PaymentSettings(env=request.app.state.settings.env)
        request.app.state.payment_settings = settings
    return settings


PaymentSettingsDep = Annotated[PaymentSettings, Depends(get_payment_settings)]


async def get_provider(request: Request, settings: PaymentSettingsDep) -> PaymentProvider:
    return PaymentProvider(request.app.state.http, settings)


ProviderDep = Annotated[PaymentProvider, Depends(get_provider)]
