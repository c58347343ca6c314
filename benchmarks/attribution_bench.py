"""Who said what on one-channel recordings: speaker attribution against the truth timeline.

    python benchmarks/attribution_bench.py DIR [--ids dev01-dev33] [--downmix] [--cache PATH]

Mono calls of DIR are transcribed as they are; with --downmix, stereo calls are also
mixed to one channel (agent + customer) and attributed, which gives many more voices to
measure on than the mono calls alone. Prints, per call, the share of transcribed
characters given to the right speaker (word midpoints against the truth turns) and the
attribution confidence, then the totals, and the agent's CER through the mono path, with
the attributed speakers and with the true speaker of every piece (what ASR alone costs).
On --downmix this is the mono path on the stereo calls themselves: set it against their
per-channel agent CER (eval_detection.py) to see what mixing costs on the same calls.
Whisper's raw output is cached as in eval_detection.py, so a change to attribution is
re-measured in seconds.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.asr.audio import decode  # noqa: E402
from audit.workspace.config import TranscribeSettings  # noqa: E402
from audit.asr.diarize import attribute_speakers  # noqa: E402
from audit.asr.metrics import RoleErrors  # noqa: E402
from audit.asr.transcript import Transcript  # noqa: E402
from audit.asr.model import cache_dir  # noqa: E402
from audit.run.pipeline import transcribe_options  # noqa: E402
from audit.asr.refill import refill  # noqa: E402
from audit.transcribe import clean_segments, correct_segments, load_engine  # noqa: E402
from benchmarks.eval_detection import RawCache, parse_ids  # noqa: E402


def truth_speaker(timeline: list[dict], t: float) -> str | None:
    for turn in timeline:
        if turn["start"] - 0.2 <= t <= turn["end"] + 0.2:
            return "agent" if turn["spk"] == "A" else "customer"
    return None


def measure(folder: Path, ids: set[str] | None, downmix: bool, cache: Path, log=print) -> dict:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    opts = transcribe_options(TranscribeSettings(), 0)
    engine = None
    rows, right, total = [], 0, 0
    cer = {layout: (RoleErrors(), RoleErrors()) for layout in ("mono", "stereo")}  # (attributed, true speakers)
    for c in truth:
        if ids is not None and c["id"] not in ids:
            continue
        audio = decode(folder / c["file"])
        if audio.n_channels > 1 and not downmix:
            continue
        mix = audio.channels[0] if audio.n_channels == 1 else (audio.channels[0] + audio.channels[1]) / 2
        mix = np.ascontiguousarray(mix)
        engine = engine or RawCache(load_engine(opts), opts, cache)
        segs = clean_segments(engine.run(mix, batched=False), opts)
        segs = refill(engine, mix, segs, lambda raw: clean_segments(raw, opts))
        t0 = time.perf_counter()
        out, conf = attribute_speakers(mix, audio.sample_rate, segs)
        took = time.perf_counter() - t0
        ok = n = 0
        for s in out:
            for w in s.words:
                want = truth_speaker(c["timeline"], (w.start + w.end) / 2)
                if want is None:
                    continue
                k = max(1, len(w.text.strip()))
                n += k
                ok += k * (want == s.speaker)
        right, total = right + ok, total + n
        for errs, pieces in zip(cer[c["layout"]], (out, true_speakers(out, c["timeline"]))):
            errs.add(c["timeline"], Transcript(tuple(correct_segments(pieces, opts)), audio.duration, "mono", "", ""))
        rows.append({"id": c["id"], "layout": c["layout"], "accuracy": ok / max(n, 1), "confidence": conf, "seconds": took})
        log(f"{c['id']} {c['layout']:6s} accuracy {ok / max(n, 1):.3f} confidence {conf} ({took:.1f} s)")
    return {"calls": rows, "accuracy": right / max(total, 1),
            "below_0_9": sum(r["accuracy"] < 0.9 for r in rows),
            "agent_cer": {layout: {"attributed": round(a.rate("agent"), 4), "true_speakers": round(t.rate("agent"), 4)}
                          for layout, (a, t) in cer.items() if a.counts["agent"][1]}}


def true_speakers(pieces, timeline):
    """The pieces with the speaker the truth gives most of their characters (the best attribution could do)."""
    from dataclasses import replace

    out = []
    for p in pieces:
        votes = {"agent": 0, "customer": 0}
        for w in p.words or ():
            if (who := truth_speaker(timeline, (w.start + w.end) / 2)) is not None:
                votes[who] += max(1, len(w.text.strip()))
        if not p.words and (who := truth_speaker(timeline, (p.start + p.end) / 2)) is not None:
            votes[who] += 1
        out.append(replace(p, speaker=max(votes, key=votes.get)))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--ids", help="only these calls: dev01-dev33, dev01,dev05, or @FILE")
    ap.add_argument("--downmix", action="store_true", help="also attribute stereo calls mixed to one channel")
    ap.add_argument("--cache", type=Path, default=cache_dir() / "raw-asr")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = measure(a.folder, parse_ids(a.ids), a.downmix, a.cache, log=lambda m: print(m, file=sys.stderr))
    if a.json:
        print(json.dumps(res, indent=1))
        return
    print(f"calls {len(res['calls'])}   character-weighted accuracy {res['accuracy']:.3f}   "
          f"calls below 0.9: {res['below_0_9']}")
    for layout, r in res["agent_cer"].items():
        what = "mono calls" if layout == "mono" else "stereo calls mixed to mono"
        print(f"agent CER through the mono path, {what}: {r['attributed']:.1%} (true speakers {r['true_speakers']:.1%})")


if __name__ == "__main__":
    main()
