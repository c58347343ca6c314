"""Rule packs: YAML files a QA lead reads and edits."""

from __future__ import annotations

import shutil
from pathlib import Path

# The rule packs shipped with callaudit (the repository's top-level rules/ folder).
DEFAULT_RULES_DIR = Path(__file__).resolve().parent.parent / "rules"


def copy_default_rules(dest: Path) -> int:
    """Copy the shipped rule packs into a workspace (never overwriting edited files)."""
    if not DEFAULT_RULES_DIR.is_dir():
        return 0
    dest.mkdir(parents=True, exist_ok=True)
    n = 0
    for src in sorted(DEFAULT_RULES_DIR.glob("*.yaml")):
        target = dest / src.name
        if not target.exists():
            shutil.copyfile(src, target)
            n += 1
    return n
