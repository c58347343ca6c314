"""All benchmarks in one table, each figure next to a baseline measured in the same run.

    python benchmarks/run_all.py [--quick]

  sampling        `callaudit sample --json` on 1,000,000 index rows   vs bare pandas.read_csv
  transcription   faster-whisper RTF on dev calls                      vs openai-whisper, same weights and threads
  scoring         calls/s given transcripts (measures + rules)        vs decoding the audio alone
  weekly report   500 agents x 7 days                                 vs bare openpyxl rows
  nightly memory  peak RSS of `callaudit nightly` on the demo         vs a process that only loads Whisper

--quick shrinks each (100k rows, 3 calls, 100 agents) for a smoke run.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(HERE))
DEV = REPO.parent / "shared" / "corpus" / "dev"


def sampling(rows: int):
    import sample_bench

    (bname, base, _), (name, took, ratio) = sample_bench.bench(rows)
    return [("sampling", name, f"{took:.1f} s", f"{base:.1f} s", ratio, "< 60 s")]


def transcription(n_calls: int):
    import transcribe_bench

    folder = DEV if DEV.exists() else REPO / "demo"
    calls = json.loads((folder / "truth.json").read_text(encoding="utf-8"))[:n_calls]
    from audit.asr.convert import checkpoint_path, convert

    model = transcribe_bench._options(2).model
    if not checkpoint_path(model).exists():
        convert(model)
    fast = transcribe_bench._in_process((str(folder), calls, 2, {}, False))
    base = transcribe_bench._in_process((str(folder), calls, 2, {"engine": "openai-whisper"}, False))
    pool = transcribe_bench._pool_throughput(folder, calls)
    return [
        ("transcription", f"RTF, {len(calls)} calls, 1 process x 2 threads, agent CER {fast['cer_agent']:.1%}",
         f"{fast['rtf']:.3f}", f"{base['rtf']:.3f}", fast["rtf"] / base["rtf"], "faster >= 4x openai"),
        ("transcription", "RTF, nightly pool 2 workers x 1 thread", f"{pool['rtf']:.3f}", f"{base['rtf']:.3f}",
         pool["rtf"] / base["rtf"], "RTF <= 0.06"),
    ]


def scoring(n_calls: int):
    from audit.detect.acoustic import measure_call
    from audit.asr.audio import decode
    from audit.detect.rules import load_pack
    from audit.scoring import score_call
    from audit.transcribe import AGENT, CUSTOMER, Segment, Transcript

    folder = DEV if DEV.exists() else REPO / "demo"
    calls = json.loads((folder / "truth.json").read_text(encoding="utf-8"))[:n_calls]
    pack = load_pack(REPO / "rules")
    t0 = time.perf_counter()
    audios = [decode(folder / c["file"]) for c in calls]
    decode_s = time.perf_counter() - t0
    from audit.detect.similarity import encode

    encode(["加载句向量模型"])  # once per process, as in a worker: not a per-call cost
    measure_s = rules_s = 0.0
    for c, a in zip(calls, audios):
        # the scripted timeline stands in for a transcript: scoring cost does not depend on ASR
        segs = tuple(Segment(AGENT if t["spk"] == "A" else CUSTOMER, t["start"], t["end"], t["text"]) for t in c["timeline"])
        tr = Transcript(segs, a.duration, c["layout"], "truth", "truth", {"agent_channel": "left"})
        t0 = time.perf_counter()
        m = measure_call(a, tr)
        t1 = time.perf_counter()
        score_call(c["id"], tr, m, pack, {})
        measure_s, rules_s = measure_s + t1 - t0, rules_s + time.perf_counter() - t1
    n = len(calls)
    return [("scoring", f"{n} calls, measures (VAD, levels, pitch, rates)", f"{measure_s / n:.2f} s/call",
             f"{decode_s / n:.2f} s/call", measure_s / decode_s, ""),
            ("scoring", f"{n} calls, rules (scope, sound-alike, sentence similarity)", f"{rules_s / n:.2f} s/call",
             f"{decode_s / n:.2f} s/call", rules_s / decode_s, "rules <= 0.5 s/call")]


def weekly(agents: int):
    import weekly_bench

    (_, base, _), (name, took, ratio) = weekly_bench.bench(agents, 6)
    return [("weekly report", name.replace("callaudit weekly: ", ""), f"{took:.1f} s", f"{base:.1f} s", ratio, "< 30 s")]


_WRAP = ("import resource, subprocess, sys; subprocess.run(sys.argv[1:], check=True, capture_output=True);"
         "print(resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)")


def _peak_rss_mb(cmd: list[str], cwd: Path) -> float:
    """Peak RSS of the largest process the command ran (its workers included), measured in a fresh
    wrapper process: this process's own children so far would otherwise count too."""
    out = subprocess.run([sys.executable, "-c", _WRAP, *cmd], cwd=cwd, check=True, capture_output=True, text=True)
    return int(out.stdout.strip().splitlines()[-1]) / 1024


def nightly_memory():
    with tempfile.TemporaryDirectory() as tmp:
        base = _peak_rss_mb([sys.executable, "-c", "from audit.workspace.config import TranscribeSettings;"
                             "from audit.run.pipeline import transcribe_options;from audit.transcribe import load_engine;"
                             "load_engine(transcribe_options(TranscribeSettings(), 2))"], REPO)
        ws = Path(tmp) / "demo"
        shutil.copytree(REPO / "demo", ws, ignore=shutil.ignore_patterns("callaudit.db*", "*.lock"))
        cfg = ws / "audit.toml"
        cfg.write_text(cfg.read_text(encoding="utf-8").replace('output = "../reports"', 'output = "reports"')
                       .replace('rules = "../rules"', f'rules = "{REPO / "rules"}"'), encoding="utf-8")
        peak = _peak_rss_mb([sys.executable, "-m", "audit.cli", "nightly", "--date", "2026-11-19", "--json",
                             "--config", str(cfg)], REPO)
    return [("nightly memory", "peak RSS, demo day 2026-11-19 (3 calls)", f"{peak:.0f} MB", f"{base:.0f} MB", peak / base, "")]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    rows = []
    rows += sampling(100_000 if a.quick else 1_000_000)
    rows += transcription(2 if a.quick else 4)
    rows += scoring(3 if a.quick else 18)
    rows += weekly(100 if a.quick else 500)
    rows += nightly_memory()
    print(f"{'benchmark':15s} {'what':58s} {'value':>14s} {'baseline':>12s} {'ratio':>6s}  target")
    for bench, what, value, base, ratio, target in rows:
        print(f"{bench:15s} {what:58s} {value:>14s} {base:>12s} {ratio:6.2f}  {target}")


if __name__ == "__main__":
    main()
