"""Password hashes the app makes use the production argon2 parameters.

Test databases give their demo accounts cheap hashes (tests/fixtures/databases.py) so that logins
are fast; this is where the real cost is pinned: argon2id, 64 MiB, three passes, four lanes.
"""

from __future__ import annotations

from argon2 import PasswordHasher, Type, extract_parameters

from core import security
from tests.fixtures.databases import CHEAP_HASHER

PRODUCTION = PasswordHasher(time_cost=3, memory_cost=65536, parallelism=4, hash_len=32, salt_len=16, type=Type.ID)


async def test_new_hashes_use_the_production_parameters_and_verify() -> None:
    stored = await security.hash_password("Correct-horse-2026")
    assert stored.startswith("$argon2id$v=19$m=65536,t=3,p=4$")
    parameters = extract_parameters(stored)
    assert (parameters.memory_cost, parameters.time_cost, parameters.parallelism) == (65536, 3, 4)
    assert parameters == extract_parameters(PRODUCTION.hash("x"))
    assert await security.verify_password(stored, "Correct-horse-2026")
    assert not await security.verify_password(stored, "correct-horse-2026")


async def test_an_unknown_account_costs_a_production_verification_and_never_passes() -> None:
    """Unknown e-mails are verified against a dummy hash of the same cost as a real account's."""
    assert extract_parameters(security._DUMMY_HASH) == extract_parameters(PRODUCTION.hash("x"))
    assert not await security.verify_password(None, "guess")
    assert not await security.verify_password(None, "")


async def test_cheap_test_hashes_still_verify_through_the_app() -> None:
    """The app verifies a hash by its own parameters, which is what lets the test demo accounts be cheap."""
    cheap = CHEAP_HASHER.hash("Demo-password-1")
    assert await security.verify_password(cheap, "Demo-password-1")
    assert not await security.verify_password(cheap, "Demo-password-2")
