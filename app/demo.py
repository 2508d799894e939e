"""The whole demo: market's accounts, then a contract between them (the root is where both meet)."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from contracts.demo import load_contract_demo
from contracts.statistics.demo import load_statistics_demo
from core.settings import Settings
from market.demo import load_market_demo


async def load_demo(session: AsyncSession, settings: Settings) -> list[str]:
    """Create whatever demo rows are missing; returns what was created, for the CLI to print."""
    created = await load_market_demo(session, settings)
    created += await load_contract_demo(session)  # a registered, paid contract with its reward ledger
    return created


async def load_full_demo(session: AsyncSession, settings: Settings) -> list[str]:
    """What ``techmarket demo`` loads: the demo above plus years of registered 【演示】 contracts for the
    statistics (kept out of ``load_demo``, which the tests' databases start from)."""
    created = await load_demo(session, settings)
    return created + await load_statistics_demo(session)
