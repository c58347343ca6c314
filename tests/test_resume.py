"""Kill the nightly run and the report writer with SIGKILL at awkward moments; the rerun must
finish the night with the same rows and files as an uninterrupted run, and nothing repeated."""

import hashlib
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest
from openpyxl import load_workbook

from tests.conftest import REPO

pytestmark = pytest.mark.slow
TABLES = ("calls", "samples", "stage_status", "transcripts", "call_transcripts", "flags", "call_scores", "problems", "reviews")


def prepare(demo_ws: Path, name: str) -> Path:
    ws = demo_ws.parent / name
    shutil.copytree(demo_ws, ws)
    cfg = ws / "audit.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true").replace("workers = 0", "workers = 1"), encoding="utf-8")
    return ws


def callaudit(ws: Path, *args, sleep=0.0, log=None, wait=True):
    env = {**os.environ, "PYTHONPATH": str(REPO), "FAKE_ENGINE_SLEEP": str(sleep), "FAKE_ENGINE_LOG": str(log or "")}
    cmd = [sys.executable, "-c", "import tests.fake_engine as f; f.main()", *args, "--config", str(ws / "audit.toml")]
    proc = subprocess.Popen(cmd, cwd=ws, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    if wait:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err.decode()
        return out.decode()
    return proc


def snapshot(ws: Path) -> dict:
    db = sqlite3.connect(ws / "callaudit.db")
    out = {t: db.execute(f"select count(*) from {t}").fetchone()[0] for t in TABLES}
    out["flag_rows"] = sorted(db.execute("select flag_key, category, evidence from flags").fetchall())
    out["scores"] = sorted(db.execute("select call_id, total, dimensions from call_scores").fetchall())
    return out


def wait_for(pred, timeout=120):
    end = time.time() + timeout
    while time.time() < end:
        if pred():
            return True
        time.sleep(0.1)
    return False


def transcribed(ws: Path) -> int:
    try:
        db = sqlite3.connect(ws / "callaudit.db", timeout=1)
        return db.execute("select count(*) from stage_status where stage='transcribe' and status='done'").fetchone()[0]
    except sqlite3.Error:
        return 0


def workbook_content(path: Path) -> list:
    wb = load_workbook(path)
    return [(s.title, [tuple(r) for r in s.iter_rows(values_only=True)]) for s in wb]


def file_hashes(folder: Path) -> dict:
    return {p.relative_to(folder).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file() and p.suffix != ".xlsx"}


def test_sigkill_mid_transcription_and_mid_report_then_rerun(demo_ws, tmp_path):
    day = ["nightly", "--date", "2026-11-19"]
    ref = prepare(demo_ws, "reference")
    ref_log = tmp_path / "ref.log"
    callaudit(ref, *day, log=ref_log)
    callaudit(ref, "weekly", "--week", "2026-W47")
    ref_runs = len(ref_log.read_text().splitlines())

    ws = prepare(demo_ws, "killed")
    log = tmp_path / "killed.log"
    proc = callaudit(ws, *day, sleep=1.0, log=log, wait=False)
    assert wait_for(lambda: transcribed(ws) >= 1), "no call finished before the kill"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    lock = ws / "callaudit.lock"
    assert lock.exists()  # left behind by the killed run: the rerun must take it over
    partial = transcribed(ws)
    assert 1 <= partial < 4

    callaudit(ws, *day, log=log)  # finishes the night
    assert not lock.exists()
    assert snapshot(ws) == snapshot(ref)
    runs = len(log.read_text().splitlines())
    # finished calls are not transcribed again: at most the one call in flight is redone (2 channels)
    assert ref_runs <= runs <= ref_runs + 2

    # kill the report writer while it cuts clips, then regenerate
    proc = callaudit(ws, "weekly", "--week", "2026-W47", wait=False)
    assert wait_for(lambda: any((ws / "reports" / "2026-W47" / "clips").rglob("*.mp3")) if (ws / "reports" / "2026-W47" / "clips").exists() else False, 60)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    callaudit(ws, "weekly", "--week", "2026-W47")
    out, ref_out = ws / "reports" / "2026-W47", ref / "reports" / "2026-W47"
    assert workbook_content(out / "scorecard-2026-W47.xlsx") == workbook_content(ref_out / "scorecard-2026-W47.xlsx")
    assert file_hashes(out) == file_hashes(ref_out)
    assert not [p for p in out.rglob(".*") if p.is_file()], "temp files left behind"
    assert snapshot(ws) == snapshot(ref)


def test_second_nightly_on_the_same_workspace_is_refused(demo_ws, tmp_path):
    ws = prepare(demo_ws, "locked")
    proc = callaudit(ws, "nightly", "--date", "2026-11-19", sleep=2.0, wait=False)
    assert wait_for(lambda: (ws / "callaudit.lock").exists())
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    second = subprocess.run(
        [sys.executable, "-c", "import tests.fake_engine as f; f.main()", "nightly", "--date", "2026-11-19", "--config", str(ws / "audit.toml")],
        cwd=ws, env=env, capture_output=True, text=True, timeout=120,
    )
    proc.kill()
    proc.wait()
    assert second.returncode == 1 and "another callaudit run" in second.stderr
