"""The import layers of .importlinter hold: no module imports from a layer above its own."""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent


def _lint(root: Path) -> subprocess.CompletedProcess:
    exe = shutil.which("lint-imports", path=str(Path(sys.executable).parent))
    if exe is None:
        pytest.skip("import-linter not installed (pip install -e '.[dev]')")
    # import-linter finds the package on sys.path: the copy's root goes first
    env = {"PYTHONPATH": str(root), "PATH": str(Path(sys.executable).parent)}
    return subprocess.run([exe, str(root / ".importlinter")], cwd=root, capture_output=True, text=True, env=env)


def test_no_module_imports_from_a_layer_above_it():
    res = _lint(REPO)
    assert res.returncode == 0 and "3 kept, 0 broken" in res.stdout, res.stdout[-3000:]


@pytest.mark.parametrize(
    "module, upward",
    [
        ("audit/detect/flags.py", "from audit.workspace.store import Store"),  # detection reaching into the store
        ("audit/asr/diarize.py", "from audit.detect.rules import RulePack"),  # hearing reaching into detection
        ("audit/detect/rules.py", "from audit.run.stages import run_stage"),  # a rule reaching into the runner
    ],
)
def test_an_import_back_up_breaks_the_contract(tmp_path, module, upward):
    shutil.copytree(REPO / "audit", tmp_path / "audit", ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(REPO / ".importlinter", tmp_path / ".importlinter")
    target = tmp_path / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{upward}  # noqa\n", encoding="utf-8")
    res = _lint(tmp_path)
    assert res.returncode != 0 and "BROKEN" in res.stdout, res.stdout[-3000:]
