"""Scoring speed of a rule pack on stored transcripts and measures, as a ratio to a baseline pack in the same run.

    python benchmarks/score_bench.py WORKSPACE_DB [--rules rules/] --baseline OTHER_RULES [--limit 48]

WORKSPACE_DB is any workspace's callaudit.db (eval_detection.py leaves one per corpus under the
cache folder's eval-workspaces/). Both packs score the same calls after one warm-up call each (the
sentence encoder and the classifiers load once per worker); prints seconds per call and the ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.detect.acoustic import Measures  # noqa: E402
from audit.detect.rules import load_pack  # noqa: E402
from audit.scoring import score_call  # noqa: E402
from audit.transcribe import Transcript  # noqa: E402
from audit.workspace.store import Store  # noqa: E402


def per_call(pack, calls) -> float:
    score_call(calls[0][0], calls[0][1], calls[0][2], pack, {})  # warm-up: loads paid once per worker
    t0 = time.perf_counter()
    for call_id, tr, m in calls:
        score_call(call_id, tr, m, pack, {})
    return (time.perf_counter() - t0) / len(calls)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("db", type=Path)
    ap.add_argument("--rules", type=Path, default=REPO / "rules")
    ap.add_argument("--baseline", type=Path, required=True, help="the pack to compare with (e.g. an older checkout's rules/)")
    ap.add_argument("--limit", type=int, default=48)
    a = ap.parse_args()
    with Store(a.db) as st:
        ids = [r[0] for r in st.db.execute("SELECT call_id FROM call_measures ORDER BY call_id LIMIT ?", (a.limit,))]
        calls = [(c, Transcript.from_dict(st.transcript_body(c)), Measures.from_dict(st.measures_body(c))) for c in ids]
    base = per_call(load_pack(a.baseline), calls)
    mine = per_call(load_pack(a.rules), calls)
    print(f"{len(calls)} calls: {a.rules} {mine:.3f} s/call, baseline {a.baseline} {base:.3f} s/call, ratio {mine / base:.2f}")


if __name__ == "__main__":
    main()
