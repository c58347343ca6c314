"""A corpus of bad input, generated here: every item is reported by name, gets a status,
shows in the daily summary, and the rest of the night completes."""

import json
import shutil
import sqlite3
import wave

import numpy as np
import pytest
from click.testing import CliRunner

from audit.cli import cli
from tests.conftest import DEMO
from tests.test_transcribe import fake_engine  # noqa: F401 (fixture)


def write_wav(path, samples, rate=8000):
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())


@pytest.fixture
def bad_ws(demo_ws, fake_engine, monkeypatch):  # noqa: F811
    rec = demo_ws / "recordings"
    good = (rec / "dev04.wav").read_bytes()
    (rec / "zero.wav").write_bytes(b"")
    (rec / "truncated.wav").write_bytes(good[:60])  # header cut inside
    shutil.copyfile(rec / "dev10.mp3", rec / "mp3_named.wav")  # wrong extension: decodes by content
    (rec / "codec.wav").write_bytes(b"RIFF" + (1000).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
                                    + (0x1234).to_bytes(2, "little") + b"\x01\x00" + (8000).to_bytes(4, "little") + b"\x00" * 200)
    write_wav(rec / "silent.wav", np.zeros(8000 * 20))
    (demo_ws.parent / "outside.wav").write_bytes(good)
    (rec / "escape_link.wav").symlink_to(demo_ws.parent / "outside.wav")
    rows = [
        "ok,1001,甲,一班,2026-11-19 08:00:00,121,dev01.mp3",
        "zero,1001,甲,一班,2026-11-19 08:10:00,10,zero.wav",
        "trunc,1002,乙,一班,2026-11-19 08:20:00,10,truncated.wav",
        "wrongext,1002,乙,一班,2026-11-19 08:30:00,88,mp3_named.wav",
        "codec,1003,丙,二班,2026-11-19 08:40:00,10,codec.wav",
        "silent,1003,丙,二班,2026-11-19 08:50:00,20,silent.wav",
        "missing,1003,丙,二班,2026-11-19 09:00:00,10,nowhere.wav",
        "link,1004,丁,二班,2026-11-19 09:10:00,10,escape_link.wav",
        "dotdot,1004,丁,二班,2026-11-19 09:20:00,10,../outside.wav",
        "ok,1004,丁,二班,2026-11-19 09:30:00,10,dev04.wav",  # duplicate call id
        "noagent,,丁,二班,2026-11-19 09:40:00,10,dev04.wav",
        "baddur,1004,丁,二班,2026-11-19 09:50:00,-3,dev04.wav",
        "badtime,1004,丁,二班,2026-13-45 99:00,10,dev04.wav",
    ]
    (demo_ws / "index.csv").write_text("流水号,坐席工号,坐席姓名,班组,开始时间,通话时长,录音文件\n" + "\n".join(rows) + "\n", encoding="utf-8")
    cfg = demo_ws / "audit.toml"
    rules = demo_ws / "myrules"
    shutil.copytree(DEMO.parent / "rules", rules)
    (rules / "zz_broken.yaml").write_text("rules:\n  - id: broken\n    type: match\n", encoding="utf-8")
    text = cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true").replace("workers = 0", "workers = 1")
    text = "\n".join(line if not line.startswith("rules = ") else f'rules = "{rules}"' for line in text.splitlines())
    cfg.write_text(text, encoding="utf-8")
    return demo_ws


def test_every_bad_item_is_reported_and_the_night_completes(bad_ws):
    res = CliRunner().invoke(cli, ["nightly", "--date", "2026-11-19", "--json", "--config", str(bad_ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    problems = {(p["stage"], p["item"].split(": ")[-1] if p["stage"] == "index" else p["item"]): p["message"] for p in out["problems"]}
    expected = {
        ("index", "ok"): "duplicate call id",
        ("index", "noagent"): "missing agent id",
        ("index", "baddur"): "negative duration",
        ("index", "badtime"): "cannot be parsed",
        ("index", "dotdot"): "outside the recording root",
        ("transcribe", "zero"): "empty file",
        ("transcribe", "trunc"): "truncated.wav",
        ("transcribe", "codec"): "codec.wav",
        ("transcribe", "missing"): "file not found",
        ("transcribe", "link"): "outside the recording root",
        ("measure", "silent"): "no speech found",
        ("rules", "zz_broken.yaml"): "zz_broken.yaml: rule broken",
    }
    for key, text in expected.items():
        assert key in problems, (key, sorted(problems))
        assert text in problems[key], (key, problems[key])
    assert out["transcribe"]["failed"] == 5
    db = sqlite3.connect(bad_ws / "callaudit.db")
    status = dict(db.execute("select call_id, status from stage_status where stage='score'"))
    assert status["ok"] == "done" and status["wrongext"] == "done" and status["silent"] == "failed"
    measured = dict(db.execute("select call_id, status from stage_status where stage='measure'"))
    assert measured["silent"] == "failed" and measured["ok"] == "done"
    assert db.execute("select count(*) from call_scores").fetchone()[0] == 2
    daily = (bad_ws / "reports" / "daily" / "daily-2026-11-19.md").read_text(encoding="utf-8")
    for call_id in ("zero", "trunc", "codec", "missing", "link", "silent"):
        assert f"] {call_id}: " in daily
    assert "zz_broken.yaml" in daily
