"""How the sentence classifiers do on writers they were not trained on.

    python benchmarks/eval_bank.py [--bank rules/bank] [--threshold 0.5] [--json]

Trains every concept without the bank's held-out writers (writers.yaml: held_out), then
scores the held-out writers' sentences as written and, where bank/heard.yaml (or --heard FILE)
has them, as Whisper heard them after rendering to telephone audio. Prints precision and recall per
concept at the threshold, and the negatives that pass it by kind (what the near misses
cost). The split is by writer, so no sentence frame of the test writers was seen.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.detect.bank import load_bank  # noqa: E402
from audit.detect.classifier import train_bank  # noqa: E402


def prf(pred, gold) -> tuple[float, float, int]:
    tp = sum(p and g for p, g in zip(pred, gold))
    fp = sum(p and not g for p, g in zip(pred, gold))
    fn = sum(g and not p for p, g in zip(pred, gold))
    return tp / max(tp + fp, 1), tp / max(tp + fn, 1), len(gold)


def evaluate(bank_dir: Path, threshold: float, heard_file: Path | None = None) -> dict:
    bank = load_bank(bank_dir)
    if heard_file is not None:  # heard forms to test on only: the classifiers train on what the bank holds
        import yaml

        from dataclasses import replace

        heard = yaml.safe_load(heard_file.read_text(encoding="utf-8"))["heard"]
        test_bank = replace(bank, heard={k: v for k, v in heard.items() if v})
    else:
        test_bank = bank
    t0 = time.perf_counter()
    models = train_bank(bank, exclude=bank.held_out)
    out = {"bank": bank.digest, "held_out": sorted(bank.held_out), "train_seconds": round(time.perf_counter() - t0, 1), "concepts": {}}
    for name, concept in bank.concepts.items():
        test = [s for s in concept.sentences if s.by in bank.held_out]
        gold = [s.positive for s in test]
        p_clean = models[name].probability([s.text for s in test]) >= threshold
        heard = [(s, test_bank.heard[s.text]) for s in test if test_bank.heard.get(s.text)]
        p_heard = models[name].probability([h for _, h in heard]) >= threshold
        passing = Counter(s.kind for s, p in zip(test, p_clean) if p and not s.positive)
        out["concepts"][name] = {
            "clean": prf(list(p_clean), gold),
            "heard": prf(list(p_heard), [s.positive for s, _ in heard]) if heard else None,
            "false_alarms_by_kind": dict(passing),
            "missed": [s.text for s, p in zip(test, p_clean) if s.positive and not p],
        }
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--bank", type=Path, default=REPO / "rules" / "bank")
    ap.add_argument("--threshold", type=float, default=0.5)
    ap.add_argument("--misses", action="store_true", help="also print the positives missed (read only after the figure is written down)")
    ap.add_argument("--heard", type=Path, help="what Whisper heard of bank sentences (bank_heard.py output) to test on, not train on")
    ap.add_argument("--json", action="store_true")
    a = ap.parse_args()
    res = evaluate(a.bank, a.threshold, a.heard)
    if a.json:
        print(json.dumps(res, ensure_ascii=False, indent=1))
        return
    print(f"bank {res['bank']}, held-out writers {', '.join(res['held_out'])}, trained in {res['train_seconds']} s, threshold {a.threshold}")
    print(f"{'concept':18s} {'clean prec':>10s} {'rec':>5s} {'n':>4s}   {'heard prec':>10s} {'rec':>5s} {'n':>4s}   near misses passing")
    for name, r in res["concepts"].items():
        p, rc, n = r["clean"]
        hp, hr, hn = r["heard"] or (float("nan"), float("nan"), 0)
        kinds = ", ".join(f"{k} {v}" for k, v in sorted(r["false_alarms_by_kind"].items())) or "-"
        print(f"{name:18s} {p:10.3f} {rc:5.3f} {n:4d}   {hp:10.3f} {hr:5.3f} {hn:4d}   {kinds}")
        if a.misses:
            for t in r["missed"]:
                print(f"    missed: {t}")


if __name__ == "__main__":
    main()
