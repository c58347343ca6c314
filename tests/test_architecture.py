"""The import layers of .importlinter hold: no module imports from a layer above its own."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def test_no_module_imports_from_a_layer_above_it():
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter not installed (pip install -e '.[dev]')")
    res = subprocess.run([exe, "--config", str(REPO / ".importlinter")], cwd=REPO, capture_output=True, text=True)
    assert res.returncode == 0 and "1 kept, 0 broken" in res.stdout, res.stdout[-3000:]
