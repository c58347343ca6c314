import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
DEV_CORPUS = REPO.parent / "shared" / "corpus" / "dev"


def make_calls(n_agents=5, per_agent=20, day="2026-11-19", seed=0, new_agents=()):
    """A synthetic index as the recording system would export it (our field names)."""
    rng = np.random.default_rng(seed)
    rows = []
    for a in range(n_agents):
        for k in range(per_agent):
            rows.append(
                {
                    "call_id": f"{day}-{a:03d}-{k:04d}",
                    "agent_id": f"A{a:03d}",
                    "agent_name": f"坐席{a}",
                    "team": "一班" if a % 2 else "二班",
                    "start": f"{day} {8 + k % 10:02d}:{k % 60:02d}:00",
                    "duration": float(rng.gamma(2.0, 90.0)),
                    "audio_path": f"{day}/{a:03d}_{k:04d}.wav",
                }
            )
    return pd.DataFrame(rows)


@pytest.fixture
def demo_ws(tmp_path):
    """A private copy of the bundled demo workspace (index, recordings, config, rules)."""
    ws = tmp_path / "demo"
    shutil.copytree(DEMO, ws, ignore=shutil.ignore_patterns("callaudit.db*", "*.lock"))
    cfg = ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace('output = "../reports"', 'output = "reports"')
    cfg.write_text(text.replace('rules = "../rules"', f'rules = "{REPO / "rules"}"'), encoding="utf-8")
    return ws
