"""Detection quality of what the nightly runs (index -> sample -> transcribe -> measure -> score)
against labelled calls.

    python benchmarks/eval_detection.py DIR [--rules rules/] [--ids dev34-dev48] [--oracle] [--json]

DIR holds audio plus truth.json as in ../shared/corpus/dev/. The harness writes a workspace
for DIR (an index of its calls, every call sampled) and runs the nightly's own stages on it
(audit/run/nightly.py), so the figure is what the product gives, rule edits rescore from the
stored transcripts, and nothing here can drift from the product. `--oracle` gives every call
its true transcript (truth.json's turns, true words and speakers) instead of Whisper's: the
same measures and rules, so the two tables side by side say what ASR costs and what the
rules cost. A category counts as detected on a call when the call gets at least one counted
flag of it. Prints per-category precision/recall/F1 at call level, macro F1, and every miss
and false alarm (not with --table-only).

The workspaces live in --cache's folder (one per DIR and mode); Whisper's transcripts there
are reused until the audio, the model, the options or the transcript version changes (then the harness
transcribes them again, though the nightly itself keeps a done night as it was). --cache names the
older transcript cache (eval.db) whose transcripts are copied in by key instead of decoding
again (the same key as the nightly's: audio hash + model + options).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import pickle
import re
import sys
from contextlib import nullcontext
from datetime import date, datetime, timedelta
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.asr.metrics import RoleErrors  # noqa: E402
from audit.asr.model import cache_dir  # noqa: E402
from audit.run.nightly import run_nightly  # noqa: E402
from audit.run.pipeline import transcribe_options  # noqa: E402
from audit.transcribe import AGENT, CUSTOMER, Segment, Transcript  # noqa: E402
from audit.workspace.config import load_config, write_template  # noqa: E402
from audit.workspace.store import Store  # noqa: E402

DAY = date(2026, 11, 2)  # the harness's one night; any date works


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


def oracle_transcript(call: dict) -> Transcript:
    """The call as a perfect ASR and speaker split would give it: truth.json's turns."""
    segs = tuple(Segment(AGENT if t["spk"] == "A" else CUSTOMER, t["start"], t["end"], t["text"])
                 for t in call["timeline"])
    return Transcript(segments=segs, duration=round(call["duration"], 2), layout=call.get("layout", "stereo"),
                      engine="oracle", model="truth.json", options={}, audio_sha256="",
                      attribution_confidence=1.0 if call.get("layout") == "mono" else None)


def workspace_for(folder: Path, rules: Path, cache: Path, truth: list[dict], oracle: bool, seed: bool = True) -> Path:
    """A workspace whose index lists every call of folder on one day, all of them sampled."""
    tag = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:8]
    mode = "-oracle" if oracle else ("" if seed else "-own")
    ws = cache.parent / "eval-workspaces" / f"{folder.name}-{tag}{mode}"
    if not (ws / "audit.toml").exists():
        write_template(ws, root=str(folder.resolve()), index="index.csv")
    text = (ws / "audit.toml").read_text(encoding="utf-8")
    text = re.sub(r'(?m)^full_coverage = \w+', "full_coverage = true", text)
    text = re.sub(r'(?m)^rules = "[^"]*"', f'rules = "{rules.resolve()}"', text)
    (ws / "audit.toml").write_text(text, encoding="utf-8")
    rows = ["流水号,坐席工号,坐席姓名,班组,开始时间,通话时长,录音文件"]
    t0 = datetime.combine(DAY, datetime.min.time()) + timedelta(hours=8)
    for i, c in enumerate(truth):
        rows.append(f"{c['id']},9001,测试,一班,{t0 + timedelta(minutes=15 * i):%Y-%m-%d %H:%M:%S},{round(c['duration'])},{c['file']}")
    (ws / "index.csv").write_text("\n".join(rows) + "\n", encoding="utf-8")
    return ws


def _seed(store: Store, config, truth: list[dict], cache: Path, oracle: bool) -> None:
    """Oracle: every call's true transcript, as the transcribe stage would have stored it.
    Otherwise: transcripts the older cache holds under the nightly's key, so nothing is decoded twice."""
    from audit.asr.audio import file_sha256

    opts = transcribe_options(config.transcribe, 0)
    old = Store(cache) if cache.exists() and not oracle else None
    with old or nullcontext(), store.tx():  # the older cache is closed again when done
        for c in truth:
            sha = file_sha256(config.recording_root / c["file"])
            if oracle:
                key = f"oracle-{sha}"
                store.put_transcript(key, oracle_transcript(c).to_dict() | {"audio_sha256": sha})
            else:
                key = opts.cache_key(sha)
                body = old.transcript_body_by_key(key) if old is not None and not store.has_transcript(key) else None
                if body is None:
                    continue
                store.put_transcript(key, body)
            store.link_transcript(c["id"], key)
            store.set_status(c["id"], "transcribe", "done")


def _forget_stale(store: Store, config, truth: list[dict]) -> int:
    """Calls whose stored transcript was made under another key (the code's TRANSCRIPT_VERSION or the
    options changed) are transcribed again: the nightly itself keeps a done night as it was (a rerun
    never decodes twice), but the harness measures what the code gives now."""
    from audit.asr.audio import file_sha256

    opts = transcribe_options(config.transcribe, 0)
    stale = 0
    with store.tx():
        for c in truth:
            key = store.transcript_key(c["id"])
            try:
                now = opts.cache_key(file_sha256(config.recording_root / c["file"]))
            except OSError:
                continue  # the nightly names the missing or unreadable file itself
            if key is not None and key != now:
                store.set_status(c["id"], "transcribe", "stale")
                stale += 1
    return stale


def evaluate(folder: Path, rules: Path, cache: Path, log=print, ids: set[str] | None = None, oracle: bool = False,
             seed: bool = True) -> dict:
    truth = json.loads((folder / "truth.json").read_text(encoding="utf-8"))
    if ids is not None:
        unknown = ids - {c["id"] for c in truth}
        if unknown:
            raise SystemExit(f"--ids names calls not in {folder / 'truth.json'}: {', '.join(sorted(unknown))}")
        truth = [c for c in truth if c["id"] in ids]
    ws = workspace_for(folder, rules, cache, truth, oracle, seed)
    config = load_config(ws / "audit.toml")
    run_nightly(config, DAY, stages=("sample",))
    with Store(config.database) as store:
        if oracle or (seed and store.transcript_key(truth[0]["id"]) is None):
            _seed(store, config, truth, cache, oracle)
        elif stale := _forget_stale(store, config, truth):
            log(f"  {stale} transcripts made by other code or options: transcribing them again")
    heard = run_nightly(config, DAY, stages=("measure",) if oracle else ("transcribe", "measure"))
    # scoring always runs again: scoring is cheap, and code may have changed since the stored scores
    scored = run_nightly(config, DAY, stages=("score",), force=True)
    log(f"  nightly in {ws}: {json.dumps(heard.to_dict() | scored.to_dict(), ensure_ascii=False)[:300]}")
    per_call = []
    errs = RoleErrors()
    errs_by_layout = {"stereo": RoleErrors(), "mono": RoleErrors()}
    with Store(config.database) as store:
        for c in truth:
            body = store.transcript_body(c["id"])
            flags = store.flags_for([c["id"]])
            score = store.call_scores([c["id"]])
            if body is not None:
                tr = Transcript.from_dict(body)
                errs.add(c["timeline"], tr)
                errs_by_layout[tr.layout].add(c["timeline"], tr)
            counted = {f["category"] for f in flags if not f["review_only"]}
            per_call.append(
                {
                    "id": c["id"],
                    "want": sorted({lab["category"] for lab in c["labels"]}),
                    "got": sorted(counted),
                    "review": sorted({f["category"] for f in flags if f["review_only"]} - counted),
                    "flags": flags,
                    "topic": score["topic"].iloc[0] if len(score) else None,
                    "topic_truth": c.get("topic"),
                }
            )
    pack_categories = {f["category"] for r in per_call for f in r["flags"]}
    cats = sorted({x for r in per_call for x in r["want"]} | pack_categories)
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
    ap.add_argument("--oracle", action="store_true", help="true transcripts (truth.json) instead of Whisper's: what the rules cost alone")
    ap.add_argument("--no-seed", action="store_true", help="transcribe in the workspace's own nightly, copying nothing from --cache")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = evaluate(a.folder, a.rules, a.cache, log=lambda m: print(m, file=sys.stderr), ids=parse_ids(a.ids), oracle=a.oracle,
                   seed=not a.no_seed)
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
