"""Who said what on one-channel recordings, measured so that it cannot fool itself.

    python benchmarks/attribution_bench.py DIR [DIR ...] [--ids dev01-dev33] [--cache PATH] [--out FILE.md]
    python benchmarks/attribution_bench.py DIR --speed [--ids ...]

Every call of each DIR goes through the mono path: the real mono calls as they are, and
every stereo call mixed to one channel ((agent + customer) / 2), which gives many more
voices to measure on than the mono calls alone (and their truth is exact). Per call:

- accuracy: the share of transcribed characters given to the right speaker (each word's
  midpoint against the truth turns; words in no turn, and punctuation, are not counted);
- confidence: what attribution says of itself (audit/asr/diarize.py), with its parts;
- agent and customer CER as attributed, and the CER over both speakers together (all
  the call's text in time order against all the truth's): the words heard, whoever said
  them. An agent CER well above it means words given to the wrong speaker;
- the attribution's own time.

Then per set: mean accuracy, calls below 0.9, calls below 0.9 that report confidence >= 0.7
(must be none), the share of calls whose agent CER is within 0.03 of their both-speaker
CER, and the calibration table (accuracy by confidence band).

Whisper's raw output is cached (as in eval_detection.py: samples + decoding options), so
a change to attribution is re-measured in seconds; --cached-only skips calls not in it.

--speed: on the mono calls, one core: Whisper's decoding and the attribution of the same
calls, timed in the same run, printed as seconds per minute of audio and as a ratio (the
ratio holds on a loaded machine, where both slow down alike). The encoder's load and a
worker's first attribution (lazy imports) are timed apart: they are paid once per worker.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.asr.audio import decode  # noqa: E402
from audit.asr.diarize import attribute  # noqa: E402
from audit.asr.metrics import char_errors, normalize_for_cer  # noqa: E402
from audit.asr.model import cache_dir  # noqa: E402
from audit.asr.refill import refill  # noqa: E402
from audit.run.pipeline import transcribe_options  # noqa: E402
from audit.transcribe import clean_segments, correct_segments, load_engine  # noqa: E402
from audit.workspace.config import TranscribeSettings  # noqa: E402
from benchmarks.eval_detection import RawCache, parse_ids  # noqa: E402

BANDS = (0.0, 0.3, 0.5, 0.7, 0.9, 1.0001)
HIGH = 0.7  # a call below 0.9 accuracy must not report this much confidence
CER_GAP = 0.03


class NotCached(Exception):
    pass


class CachedOnly(RawCache):
    def run(self, samples, batched: bool = True):
        import hashlib

        h = hashlib.sha256(samples.tobytes() + self.tag.encode() + bytes([batched])).hexdigest()[:24]
        if not (self.folder / f"{h}.pkl").exists():
            raise NotCached
        return super().run(samples, batched)


def truth_speaker(timeline: list[dict], t: float) -> str | None:
    for turn in timeline:
        if turn["start"] - 0.2 <= t <= turn["end"] + 0.2:
            return "agent" if turn["spk"] == "A" else "customer"
    return None


def mono_mix(audio) -> np.ndarray:
    mix = audio.channels[0] if audio.n_channels == 1 else (audio.channels[0] + audio.channels[1]) / 2
    return np.ascontiguousarray(mix, dtype=np.float32)


def accuracy(pieces, timeline) -> tuple[int, int]:
    ok = n = 0
    for s in pieces:
        for w in s.words:
            want = truth_speaker(timeline, (w.start + w.end) / 2)
            if want is None:
                continue
            k = len(normalize_for_cer(w.text))  # characters, as CER counts them (no punctuation: "》 》" is none)
            if not k:
                continue
            n += k
            ok += k * (want == s.speaker)
    return ok, n


def rates(timeline, pieces) -> dict:
    """Agent, customer and both-speaker CER of one call."""
    out = {}
    for role, spk in (("agent", "A"), ("customer", "C"), ("both", None)):
        ref = "".join(t["text"] for t in sorted(timeline, key=lambda t: t["start"]) if spk is None or t["spk"] == spk)
        hyp = "".join(s.text for s in sorted(pieces, key=lambda s: s.start) if spk is None or s.speaker == role)
        e, n = char_errors(ref, hyp)
        out[role] = (e, n)
    return out


def true_speakers(pieces, timeline):
    """The pieces with the speaker the truth gives most of their characters (the best attribution could do)."""
    out = []
    for p in pieces:
        votes = {"agent": 0, "customer": 0}
        for w in p.words or ():
            if (who := truth_speaker(timeline, (w.start + w.end) / 2)) is not None:
                votes[who] += len(normalize_for_cer(w.text))
        out.append(replace(p, speaker=max(votes, key=votes.get)))
    return out


def measure(folder: Path, ids: set[str] | None, cache: Path, cached_only: bool = False, log=print) -> dict:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    opts = transcribe_options(TranscribeSettings(), 0)
    engine = None
    rows = []
    for c in truth:
        if ids is not None and c["id"] not in ids:
            continue
        audio = decode(folder / c["file"])
        mix = mono_mix(audio)
        if engine is None:
            engine = (CachedOnly if cached_only else RawCache)(load_engine(opts), opts, cache)
        try:
            segs = clean_segments(engine.run(mix, batched=False), opts)
            segs = refill(engine, mix, segs, lambda raw: clean_segments(raw, opts))
        except NotCached:
            continue
        t0 = time.perf_counter()
        att = attribute(mix, audio.sample_rate, segs)
        took = time.perf_counter() - t0
        pieces = correct_segments(att.segments, opts)
        ok, n = accuracy(att.segments, c["timeline"])
        r = rates(c["timeline"], pieces)
        cer = {k: e / max(m, 1) for k, (e, m) in r.items()}
        row = {"set": folder.name, "id": c["id"], "layout": c["layout"], "accuracy": round(ok / max(n, 1), 4),
               "confidence": att.confidence, "separation": att.separation, "agreement": att.agreement,
               "coverage": att.coverage, "note": att.note, "cer": {k: round(v, 4) for k, v in cer.items()},
               "errors": r, "seconds": round(took, 3), "minutes": round(audio.duration / 60, 3),
               "oracle": round(accuracy(true_speakers(att.segments, c["timeline"]), c["timeline"])[0] / max(n, 1), 4)}
        rows.append(row)
        log(f"{c['id']} {c['layout']:6s} acc {row['accuracy']:.3f} (oracle {row['oracle']:.3f}) conf {att.confidence} "
            f"sep {att.separation:.2f} agr {att.agreement:.2f} cov {att.coverage:.2f}  CER agent {cer['agent']:.3f} "
            f"customer {cer['customer']:.3f} both {cer['both']:.3f}  ({took:.2f} s) {att.note}")
    return {"set": folder.name, "calls": rows}


def summary(rows: list[dict]) -> dict:
    if not rows:
        return {"calls": 0}
    acc = np.array([r["accuracy"] for r in rows])
    conf = np.array([r["confidence"] if r["confidence"] is not None else 0.0 for r in rows])
    gap = np.array([r["cer"]["agent"] - r["cer"]["both"] for r in rows])
    tot = {k: [sum(r["errors"][k][0] for r in rows), sum(r["errors"][k][1] for r in rows)] for k in ("agent", "customer", "both")}
    return {"calls": len(rows), "accuracy_mean": round(float(acc.mean()), 4), "below_0_9": int((acc < 0.9).sum()),
            "below_0_9_confident": int(((acc < 0.9) & (conf >= HIGH)).sum()),
            "within_0_03": round(float((gap <= CER_GAP).mean()), 4), "within_0_03_n": int((gap <= CER_GAP).sum()),
            "cer": {k: round(e / max(n, 1), 4) for k, (e, n) in tot.items()},
            "seconds_per_minute": round(sum(r["seconds"] for r in rows) / max(sum(r["minutes"] for r in rows), 1e-9), 3)}


def calibration(rows: list[dict]) -> list[dict]:
    out = []
    for lo, hi in zip(BANDS, BANDS[1:]):
        band = [r for r in rows if lo <= (r["confidence"] or 0.0) < hi]
        acc = [r["accuracy"] for r in band]
        out.append({"band": f"{lo:.1f}-{min(hi, 1.0):.1f}", "calls": len(band),
                    "accuracy_mean": round(float(np.mean(acc)), 4) if acc else None,
                    "accuracy_min": round(float(np.min(acc)), 4) if acc else None,
                    "below_0_9": sum(a < 0.9 for a in acc)})
    return out


def report(results: list[dict]) -> str:
    everything = [r for res in results for r in res["calls"]]
    lines = ["| set | calls | accuracy (mean) | calls < 0.9 | of them confidence >= 0.7 | agent CER within 0.03 of both | "
             "CER agent / customer / both | attribution s per audio min |", "|---|---|---|---|---|---|---|---|"]
    groups = [(res["set"], res["calls"]) for res in results] + [("all", everything)]
    groups += [(f"{name}, mono calls only", [r for r in rows if r["layout"] == "mono"]) for name, rows in groups]
    for name, rows in groups:
        s = summary(rows)
        if not s["calls"]:
            continue
        lines.append(f"| {name} | {s['calls']} | {s['accuracy_mean']:.3f} | {s['below_0_9']} | {s['below_0_9_confident']} | "
                     f"{s['within_0_03_n']} of {s['calls']} ({s['within_0_03']:.0%}) | "
                     f"{s['cer']['agent']:.1%} / {s['cer']['customer']:.1%} / {s['cer']['both']:.1%} | {s['seconds_per_minute']:.2f} |")
    lines += ["", "Calibration (all calls): accuracy by confidence band", "",
              "| confidence | calls | accuracy mean | accuracy min | calls < 0.9 |", "|---|---|---|---|---|"]
    for b in calibration(everything):
        if b["calls"]:
            lines.append(f"| {b['band']} | {b['calls']} | {b['accuracy_mean']:.3f} | {b['accuracy_min']:.3f} | {b['below_0_9']} |")
        else:
            lines.append(f"| {b['band']} | 0 | | | |")
    lines += ["", "Per call", "", "| set | call | layout | accuracy | confidence | separation | agreement | coverage | "
              "CER agent | customer | both | note |", "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in everything:
        lines.append(f"| {r['set']} | {r['id']} | {r['layout']} | {r['accuracy']:.3f} | {r['confidence']} | {r['separation']:.2f} | "
                     f"{r['agreement']:.2f} | {r['coverage']:.2f} | {r['cer']['agent']:.3f} | {r['cer']['customer']:.3f} | "
                     f"{r['cer']['both']:.3f} | {r['note']} |")
    return "\n".join(lines) + "\n"


def speed(folder: Path, ids: set[str] | None, log=print) -> dict:
    """Whisper and attribution on the same mono calls, one core each, timed in this run."""
    from audit.asr.threads import pinned
    from audit.asr.voices import encoder

    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    opts = replace(transcribe_options(TranscribeSettings(), 0), threads=1)
    engine = load_engine(opts)
    t0 = time.perf_counter()
    encoder()
    load = time.perf_counter() - t0
    whisper = attrib = minutes = 0.0
    first = None  # a worker's first attribution also pays for lazy imports (scikit-learn, torch kernels)
    with pinned(1):
        for c in truth:
            if c["layout"] != "mono" or (ids is not None and c["id"] not in ids):
                continue
            audio = decode(folder / c["file"])
            mix = mono_mix(audio)
            t0 = time.perf_counter()
            segs = clean_segments(engine.run(mix, batched=False), opts)
            t1 = time.perf_counter()
            if first is None:
                attribute(mix, audio.sample_rate, segs)
                first = time.perf_counter() - t1
                t1 = time.perf_counter()
            attribute(mix, audio.sample_rate, segs)
            t2 = time.perf_counter()
            whisper, attrib, minutes = whisper + t1 - t0, attrib + t2 - t1, minutes + audio.duration / 60
            log(f"{c['id']} {audio.duration:.0f} s: whisper {t1 - t0:.1f} s, attribution {t2 - t1:.2f} s")
    return {"calls_minutes": round(minutes, 2), "encoder_load_s": round(load, 2), "first_attribution_s": round(first or 0, 2),
            "whisper_s_per_min": round(whisper / minutes, 2), "attribution_s_per_min": round(attrib / minutes, 3),
            "attribution_over_whisper": round(attrib / whisper, 4)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folders", type=Path, nargs="+")
    ap.add_argument("--ids", help="only these calls: dev01-dev33, dev01,dev05, or @FILE")
    ap.add_argument("--cache", type=Path, default=cache_dir() / "raw-asr")
    ap.add_argument("--cached-only", action="store_true", help="skip calls whose Whisper output is not cached")
    ap.add_argument("--speed", action="store_true", help="time Whisper and attribution on the mono calls, one core")
    ap.add_argument("--out", type=Path, help="also write the tables as Markdown here")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    say = lambda m: print(m, file=sys.stderr)  # noqa: E731
    if a.speed:
        res = [speed(f, parse_ids(a.ids), log=say) for f in a.folders]
        print(json.dumps(res, indent=1))
        return
    results = [measure(f, parse_ids(a.ids), a.cache, a.cached_only, log=say) for f in a.folders]
    if a.json:
        print(json.dumps(results, indent=1))
        return
    text = report(results)
    print(text)
    if a.out:
        a.out.write_text(text, encoding="utf-8")


if __name__ == "__main__":
    main()
