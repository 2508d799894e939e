"""The packages import one way (core → market → search | contracts → app), checked by import-linter.

The contract lives in pyproject.toml ([tool.importlinter]); an import from a lower package into a
higher one, or between search and contracts, breaks it and fails this test with the offending chain.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def test_packages_import_one_way() -> None:
    lint_imports = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run(
        [str(lint_imports), "--config", str(ROOT / "pyproject.toml"), "--no-cache"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout, result.stdout  # the contract was read and checked


def test_importing_the_packages_installs_no_listener() -> None:
    """Only the root installs the statistics rollup listener; importing every package changes nothing global."""
    probe = (
        "import contracts.models, contracts.statistics.models, contracts.statistics.routers\n"
        "import search.endpoints, market.demo\n"
        "from sqlalchemy import event\n"
        "from sqlalchemy.orm import Session\n"
        "from contracts.statistics.rollups import _on_after_flush\n"
        "print(event.contains(Session, 'after_flush', _on_after_flush))\n"
        "from app.factory import create_app\n"
        "create_app()\n"
        "print(event.contains(Session, 'after_flush', _on_after_flush))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": "/usr/bin:/bin", "TECHMARKET_ENV": "development"},
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["False", "True"]
