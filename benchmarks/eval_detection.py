"""Detection quality of the real pipeline (decode -> transcribe -> measure -> rules) against labelled calls.

    python benchmarks/eval_detection.py DIR [--rules rules/] [--cache PATH] [--ids dev34-dev48] [--json]

DIR holds audio plus truth.json as in ../shared/corpus/dev/. A category counts as
detected on a call when the call gets at least one flag of it. Prints per-category
precision/recall/F1 at call level, macro F1, and every miss and false alarm.
Transcripts are cached (audio hash + model + options) in --cache, so a rerun only
rescores; delete the cache to re-transcribe.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.detect.acoustic import measure_call  # noqa: E402
from audit.asr.metrics import RoleErrors  # noqa: E402
from audit.asr.audio import decode  # noqa: E402
from audit.workspace.config import TranscribeSettings  # noqa: E402
from audit.asr.model import cache_dir  # noqa: E402
from audit.run.pipeline import transcribe_options  # noqa: E402
from audit.detect.rules import load_pack  # noqa: E402
from audit.scoring import score_call  # noqa: E402
from audit.workspace.store import Store  # noqa: E402
from audit.transcribe import Transcript, load_engine, transcribe_audio  # noqa: E402


class RawCache:
    """Whisper's raw output per channel, kept on disk by samples + decoding options, so that
    a change to post-processing (attribution, correction) is re-measured without re-decoding."""

    def __init__(self, engine, options, folder: Path):
        self.engine, self.name, self.folder = engine, engine.name, folder
        keep = ("engine", "model_name", "compute_type", "language", "beam_size", "vad", "word_timestamps", "batch_size")
        self.tag = json.dumps({k: getattr(options, k) for k in keep}, sort_keys=True)
        folder.mkdir(parents=True, exist_ok=True)

    def run(self, samples, batched: bool = True):
        h = hashlib.sha256(samples.tobytes() + self.tag.encode() + bytes([batched])).hexdigest()[:24]
        path = self.folder / f"{h}.pkl"
        if path.exists():
            return pickle.loads(path.read_bytes())
        segs = self.engine.run(samples, batched=batched)
        tmp = path.with_suffix(".tmp")
        tmp.write_bytes(pickle.dumps(segs))
        tmp.replace(path)
        return segs


def parse_ids(spec: str | None) -> set[str] | None:
    """`dev34-dev48`, `dev01,dev05`, a mix of both, or @FILE (one id or range a line)."""
    if not spec:
        return None
    if spec.startswith("@"):
        spec = ",".join(Path(spec[1:]).read_text(encoding="utf-8").split())
    out: set[str] = set()
    for part in filter(None, (p.strip() for p in spec.split(","))):
        m = re.fullmatch(r"([A-Za-z_]*)(\d+)-\1?(\d+)", part)
        if m:
            prefix, a, b = m.group(1), m.group(2), m.group(3)
            out |= {f"{prefix}{i:0{len(a)}d}" for i in range(int(a), int(b) + 1)}
        else:
            out.add(part)
    return out


def evaluate(folder: Path, rules: Path, cache: Path, log=print, ids: set[str] | None = None) -> dict:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    if ids is not None:
        unknown = ids - {c["id"] for c in truth}
        if unknown:
            raise SystemExit(f"--ids names calls not in {folder / 'truth.json'}: {', '.join(sorted(unknown))}")
        truth = [c for c in truth if c["id"] in ids]
    pack = load_pack(rules)
    opts = transcribe_options(TranscribeSettings(), 0)
    store = Store(cache)
    engine = None
    per_call = []
    errs = RoleErrors()
    errs_by_layout = {"stereo": RoleErrors(), "mono": RoleErrors()}
    for c in truth:
        audio = decode(folder / c["file"])
        key = opts.cache_key(audio.sha256)
        body = store.transcript_body_by_key(key)
        if body is None:
            t0 = time.perf_counter()
            engine = engine or RawCache(load_engine(opts), opts, cache.parent / "raw-asr")
            tr = transcribe_audio(audio, opts, engine)
            log(f"  transcribed {c['id']} in {time.perf_counter() - t0:.1f} s")
            with store.tx():
                store.put_transcript(key, tr.to_dict())
        else:
            tr = Transcript.from_dict(body)
        errs.add(c["timeline"], tr)
        errs_by_layout[tr.layout].add(c["timeline"], tr)
        measures = measure_call(audio, tr)
        score = score_call(c["id"], tr, measures, pack, {})
        per_call.append(
            {
                "id": c["id"],
                "want": sorted({lab["category"] for lab in c["labels"]}),
                "got": sorted({f.category for f in score.flags if not f.review_only}),
                "review": sorted({f.category for f in score.flags if f.review_only} - {f.category for f in score.flags if not f.review_only}),
                "flags": [f.to_dict() for f in score.flags],
                "topic": score.topic,
                "topic_truth": c.get("topic"),
            }
        )
    cats = sorted({x for r in per_call for x in r["want"]} | {r.category for r in pack.rules})
    table = {}
    for cat in cats:
        tp = sum(cat in r["want"] and cat in r["got"] for r in per_call)
        fp = sum(cat not in r["want"] and cat in r["got"] for r in per_call)
        fn = sum(cat in r["want"] and cat not in r["got"] for r in per_call)
        p = tp / (tp + fp) if tp + fp else (1.0 if not fn else 0.0)
        rc = tp / (tp + fn) if tp + fn else 1.0
        f1 = 2 * p * rc / (p + rc) if p + rc else 0.0
        # review-only: listed for a reviewer, no points; counted apart (right = the call has that label)
        rv_right = sum(cat in r["want"] and cat in r["review"] for r in per_call)
        rv_wrong = sum(cat not in r["want"] and cat in r["review"] for r in per_call)
        table[cat] = {"tp": tp, "fp": fp, "fn": fn, "precision": p, "recall": rc, "f1": f1,
                      "review_right": rv_right, "review_wrong": rv_wrong}
    labelled = [c for c in cats if table[c]["tp"] + table[c]["fn"] > 0]
    macro = sum(table[c]["f1"] for c in labelled) / max(len(labelled), 1)
    topic_acc = sum(r["topic"] == r["topic_truth"] for r in per_call) / max(len(per_call), 1)
    cer = {role: errs.rate(role) for role in ("agent", "customer")}
    cer_by_layout = {lay: {role: e.rate(role) for role in ("agent", "customer")}
                     for lay, e in errs_by_layout.items() if e.counts["agent"][1]}
    clean = [r for r in per_call if not r["want"]]
    clean_flagged = sum(bool(r["got"]) for r in clean)
    return {"categories": table, "macro_f1": macro, "topic_accuracy": topic_acc, "cer": cer, "cer_by_layout": cer_by_layout,
            "calls": per_call,
            "clean_calls": len(clean), "clean_calls_flagged": clean_flagged}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("folder", type=Path)
    ap.add_argument("--rules", type=Path, default=REPO / "rules")
    ap.add_argument("--cache", type=Path, default=cache_dir() / "eval.db")
    ap.add_argument("--ids", help="only these calls: dev34-dev48, dev01,dev05, or @FILE (tune on one split, report another)")
    ap.add_argument("--table-only", action="store_true", help="print the table, not the misses (for a held-back split)")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = evaluate(a.folder, a.rules, a.cache, log=lambda m: print(m, file=sys.stderr), ids=parse_ids(a.ids))
    if a.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return
    print(f"{'category':24s} {'TP':>3s} {'FP':>3s} {'FN':>3s} {'prec':>5s} {'rec':>5s} {'F1':>5s}  review-only (labelled/not)")
    for cat, m in res["categories"].items():
        print(f"{cat:24s} {m['tp']:3d} {m['fp']:3d} {m['fn']:3d} {m['precision']:5.2f} {m['recall']:5.2f} {m['f1']:5.2f}"
              f"  {m['review_right']}/{m['review_wrong']}")
    print(f"macro F1 (labelled categories): {res['macro_f1']:.3f}   topic accuracy: {res['topic_accuracy']:.2f}   "
          f"CER agent {res['cer']['agent']:.1%} customer {res['cer']['customer']:.1%}")
    print(f"clean calls with a counted flag: {res['clean_calls_flagged']} of {res['clean_calls']}")
    print("CER by layout: " + "   ".join(f"{lay}: agent {v['agent']:.1%} customer {v['customer']:.1%}"
                                          for lay, v in res["cer_by_layout"].items()))
    if a.table_only:
        return
    for r in res["calls"]:
        for cat in sorted(set(r["want"]) - set(r["got"])):
            print(f"MISS  {r['id']} {cat}")
        for cat in sorted(set(r["got"]) - set(r["want"])):
            ev = next(f["evidence"] for f in r["flags"] if f["category"] == cat and not f["review_only"])
            print(f"FALSE {r['id']} {cat}: {ev}")
        for cat in r["review"]:
            ev = next(f["evidence"] for f in r["flags"] if f["category"] == cat)
            print(f"REVIEW {r['id']} {cat} ({'labelled' if cat in r['want'] else 'not labelled'}): {ev}")


if __name__ == "__main__":
    main()
