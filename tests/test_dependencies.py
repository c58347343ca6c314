"""Every third-party import of the package is declared in pyproject.toml, and every declared
dependency is imported (deptry; its settings, name mappings included, are in [tool.deptry])."""

import importlib.util
import subprocess
import sys

from tests.conftest import REPO


def test_imports_and_declared_dependencies_agree():
    assert importlib.util.find_spec("deptry"), "deptry is missing: pip install -e '.[dev]' (scripts/setup.sh does)"
    res = subprocess.run(
        [sys.executable, "-m", "deptry", "audit", "--no-ansi"], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
    )
    assert res.returncode == 0, f"deptry found dependency problems:\n{res.stdout}{res.stderr}"
