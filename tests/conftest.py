import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

REPO = Path(__file__).resolve().parent.parent
DEMO = REPO / "demo"
DEV_CORPUS = REPO.parent / "shared" / "corpus" / "dev"


@pytest.fixture(scope="session", autouse=True)
def trained_classifiers():
    """The shipped bank's classifiers trained once, in this process, before any test scores a call:
    on a fresh machine every pool worker of the first scored night would otherwise train them at once."""
    from audit.detect.bank import load_bank
    from audit.detect.classifier import trained

    return trained(load_bank(REPO / "rules" / "bank"))


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
    return copy_demo(tmp_path / "demo")


def own_rules_copy(ws: Path) -> Path:
    """Give workspace `ws` its own copy of the shipped rules (and their sentence bank), so a test that
    sends sentences to the bank writes to that copy, never to the repository's. Returns ws."""
    import re

    shutil.copytree(REPO / "rules", ws / "rules")
    cfg = ws / "audit.toml"
    cfg.write_text(re.sub(r'(?m)^rules = "[^"]*"', f'rules = "{ws / "rules"}"', cfg.read_text(encoding="utf-8")), encoding="utf-8")
    return ws


def copy_demo(ws: Path) -> Path:
    """The bundled demo workspace copied to `ws`, writing its reports inside, with the shipped rules."""
    shutil.copytree(DEMO, ws, ignore=shutil.ignore_patterns("callaudit.db*", "*.lock"))
    cfg = ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace('output = "../reports"', 'output = "reports"')
    cfg.write_text(text.replace('rules = "../rules"', f'rules = "{REPO / "rules"}"'), encoding="utf-8")
    return ws


class ScriptedWhisper:
    """Whisper replaced by fixed lines, (start, end, text, word probability), said on every channel."""

    name = "fake"

    def __init__(self, lines):
        self.lines = lines

    def run(self, samples, batched=True):
        from audit.transcribe import Segment, Word

        return [Segment("", a, b, t, -0.2, 0.01, (Word(a, b, t, p),)) for a, b, t, p in self.lines]


def spaced(texts, every: float, first: float = 2.0, length: float = 4.0, probability: float = 0.9):
    """Lines `every` seconds apart, each `length` long."""
    return [(first + every * i, first + every * i + length, t, probability) for i, t in enumerate(texts)]


@contextmanager
def scripted_whisper(lines, **options):
    """Transcription gives these lines (ScriptedWhisper) for every call while the block runs."""
    from audit import transcribe
    from audit.run import pipeline
    from audit.transcribe import TranscribeOptions

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(transcribe, "load_engine", lambda _options: ScriptedWhisper(lines))
        mp.setattr(pipeline, "transcribe_options",
                   lambda settings, threads=0: TranscribeOptions(model="fake", threads=1, **options))
        yield


def scripted_night(ws: Path, lines, day: str = "2026-11-19") -> Path:
    """One nightly run of the workspace `ws` (every call sampled) on scripted transcripts."""
    from click.testing import CliRunner

    from audit.cli import cli

    cfg = ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true")
    cfg.write_text(text.replace("workers = 0", "workers = 1"), encoding="utf-8")
    with scripted_whisper(lines, refill=False):
        res = CliRunner().invoke(cli, ["nightly", "--date", day, "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return ws
