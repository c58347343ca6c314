"""Transcription benchmark on labelled calls (default ../shared/corpus/dev).

    python benchmarks/transcribe_bench.py [DIR] [--subset 4] [--skip-openai]

Each configuration runs in its own process (so peak memory is its own) on the same
calls with the same threads, one run each:
  faster-whisper   sequential (the default), and batched VAD chunks (opt-in: faster, lost speech on dev07)
  openai-whisper   on the converted checkpoint of the same weights (subset of calls)
  mono mix         stereo calls mixed down and transcribed once, vs per channel
  2 workers        the nightly pool on 2 cores: 2 processes x 1 thread, whole-batch wall time
Prints real-time factor (processing seconds / audio seconds), character error rate
per speaker role against truth.json (normalized: Simplified, digits, no punctuation),
and peak RSS. Targets (issue 4): faster >= 4x openai; RTF <= 0.06; agent CER <= 10%.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import resource
import sys
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
DEV = REPO.parent / "shared" / "corpus" / "dev"


def _options(threads: int, **over):
    from audit.workspace.config import TranscribeSettings
    from audit.run.pipeline import transcribe_options

    return replace(transcribe_options(TranscribeSettings(), threads), **over)


def _run(args) -> dict:
    """One configuration over some calls, in a fresh process."""
    folder, calls, threads, over, mix = args
    from audit.asr.audio import decode
    from audit.asr.metrics import RoleErrors
    from audit.transcribe import load_engine, transcribe_audio

    opts = _options(threads, **over)
    engine = load_engine(opts)  # loading is not timed: a worker loads once per night
    audio_s = proc_s = 0.0
    errs = RoleErrors()
    for c in calls:
        a = decode(Path(folder) / c["file"])
        if mix and a.n_channels == 2:
            a = replace(a, channels=a.channels.mean(axis=0, keepdims=True))
        t0 = time.perf_counter()
        tr = transcribe_audio(a, opts, engine)
        proc_s += time.perf_counter() - t0
        audio_s += a.duration
        errs.add(c["timeline"], tr)
    return {
        "rtf": proc_s / audio_s, "audio_s": audio_s,
        "cer_agent": errs.rate("agent"),
        "cer_customer": errs.rate("customer"),
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def _in_process(args) -> dict:
    with mp.get_context("spawn").Pool(1) as pool:
        return pool.apply(_run, (args,))


def _pool_throughput(folder: Path, calls: list[dict]) -> dict:
    """The nightly layout on 2 cores: 2 worker processes x 1 thread, calls in parallel."""
    from audit.asr.audio import probe_duration
    from audit.run.executor import run_jobs
    from audit.run.stages import _init_transcriber, _transcribe_job

    opts = _options(1)
    jobs = [("k" + c["id"], str(folder / c["file"])) for c in calls]
    audio_s = sum(probe_duration(folder / c["file"]) for c in calls)
    warm = [jobs[0]]  # workers load the model on their first call; start the clock after a warm-up round
    list(run_jobs(_transcribe_job, warm * 2, 2, initializer=_init_transcriber, initargs=(opts,)))
    t0 = time.perf_counter()
    done = list(run_jobs(_transcribe_job, jobs, 2, initializer=_init_transcriber, initargs=(opts,)))
    wall = time.perf_counter() - t0
    return {"rtf": wall / audio_s, "audio_s": audio_s, "failed": sum(e is not None for _, _, e in done)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", nargs="?", type=Path, default=DEV)
    ap.add_argument("--subset", type=int, default=4, help="calls for the openai-whisper and mono-mix comparisons")
    ap.add_argument("--skip-openai", action="store_true")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    calls = json.loads((a.folder / "truth.json").read_text(encoding="utf-8"))
    stereo = [c for c in calls if c["layout"] == "stereo"][: a.subset]
    rows: dict[str, dict] = {}
    f = str(a.folder)
    rows["faster-whisper (default), all calls, 1 process x 2 threads"] = _in_process((f, calls, 2, {}, False))
    rows["faster-whisper batched (batch_size 8), all calls"] = _in_process((f, calls, 2, {"batch_size": 8}, False))
    rows[f"faster-whisper, {len(stereo)} stereo calls per channel"] = sub = _in_process((f, stereo, 2, {}, False))
    rows[f"faster-whisper, {len(stereo)} stereo calls as mono mix"] = _in_process((f, stereo, 2, {}, True))
    if not a.skip_openai:
        from audit.asr.convert import checkpoint_path, convert

        if not checkpoint_path(_options(2).model).exists():
            convert(_options(2).model)
        rows[f"openai-whisper, same weights, {len(stereo)} stereo calls"] = _in_process((f, stereo, 2, {"engine": "openai-whisper"}, False))
    rows["nightly pool: 2 workers x 1 thread, all calls (throughput)"] = _pool_throughput(a.folder, calls)
    if a.json:
        print(json.dumps(rows, indent=1))
        return
    print(f"{'configuration':64s} {'RTF':>6s} {'CER A':>6s} {'CER C':>6s} {'RSS MB':>7s}")
    for name, r in rows.items():
        cer_a = f"{r['cer_agent']:.1%}" if "cer_agent" in r else ""
        cer_c = f"{r['cer_customer']:.1%}" if "cer_customer" in r else ""
        rss = f"{r['peak_rss_mb']:.0f}" if "peak_rss_mb" in r else ""
        print(f"{name:64s} {r['rtf']:6.3f} {cer_a:>6s} {cer_c:>6s} {rss:>7s}")
    seq = rows["faster-whisper (default), all calls, 1 process x 2 threads"]["rtf"]
    print(f"batched vs sequential: {seq / rows['faster-whisper batched (batch_size 8), all calls']['rtf']:.2f}x faster")
    ow = next((r for k, r in rows.items() if k.startswith("openai")), None)
    if ow:
        print(f"faster-whisper vs openai-whisper (same weights, threads, calls): {ow['rtf'] / sub['rtf']:.2f}x faster")


if __name__ == "__main__":
    main()
