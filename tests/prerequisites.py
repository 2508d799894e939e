"""What a test needs from outside the project: a browser, a compose client, a reference folder.

Locally a missing prerequisite skips the test and says why. Under CI (``CI=true``) it fails the test:
the CI machine is meant to have every prerequisite, and a skip there would hide a test that never ran.
Every skip for a missing prerequisite goes through :func:`require` or the :func:`needs` mark.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parents[1]

# The labelled dev set lives beside the project (../shared), never inside it: read-only, and only by
# the tests that measure against it. Located from the project root, not from one machine's layout.
EVAL_SET = ROOT.parent / "shared" / "eval" / "matching-dev"


def under_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def missing(reason: str) -> NoReturn:
    if under_ci():
        pytest.fail(f"prerequisite missing under CI: {reason}", pytrace=False)
    pytest.skip(reason)


def require(condition: object, reason: str) -> None:
    """Goes on if ``condition`` holds; else skips locally, fails under CI."""
    if not condition:
        missing(reason)


def needs(condition: object, reason: str) -> pytest.MarkDecorator:
    """:func:`require` as a mark, for a test or a whole module (``pytestmark = needs(...)``)."""
    return pytest.mark.prerequisite(bool(condition), reason)


def check_marks(item: pytest.Item) -> None:
    """Called before each test (tests/conftest.py): applies its ``needs`` marks."""
    for mark in item.iter_markers("prerequisite"):
        require(*mark.args)
