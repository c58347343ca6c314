"""Weekly report benchmark: a synthetic workspace of 500 agents x 7 days of scored calls.

    python benchmarks/weekly_bench.py [--agents 500] [--calls-per-day 6]

Baseline in the same run: writing the same number of flag rows into a bare openpyxl
workbook (the floor for any xlsx writer). Target (issue 6): under 30 s.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from datetime import date, timedelta
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from audit.workspace.config import load_config, write_template  # noqa: E402
from audit.detect.rules import DIMENSIONS, load_pack  # noqa: E402
from audit.workspace.store import Store  # noqa: E402


def populate(store: Store, agents: int, per_day: int, monday: date, days: int = 14, seed: int = 0) -> int:
    """Scored calls and flags for `days` days ending on the Sunday after monday (two weeks: deltas need the last)."""
    rng = np.random.default_rng(seed)
    pack = load_pack(REPO / "rules")
    rules = [(r.id, r.category, r.severity, r.points) for r in pack.rules]
    topics = ["outage", "billing", "meter", "payment", "repair", "policy", "install", "complaint_attitude"]
    calls, samples, scores, flags = [], [], [], []
    start = monday - timedelta(days=days - 7)
    for d in range(days):
        day = (start + timedelta(days=d)).isoformat()
        for a in range(agents):
            for k in range(per_day):
                cid = f"{day}-{a:04d}-{k}"
                dur = float(rng.gamma(2.0, 90.0))
                calls.append((cid, day, f"{a:05d}", f"坐席{a}", f"{a % 25}班", f"{day} 09:00:00", dur, f"{cid}.wav",
                              f"1380000{a:04d}", "", "", 0))
                samples.append((day, cid, ">400s" if dur > 400 else "<=200s", "bench"))
                dims = {dm: float(100 - rng.integers(0, 4) * 5) for dm in DIMENSIONS}
                long_call = {"agent_talk_share": 0.6, "customer_talk_share": 0.4, "hold_silence_s": 30.0, "system_checks": 1,
                             "interruptions": 0, "customer_emotion": False, "topic": "billing", "service_risk": False} if dur > 400 else None
                scores.append((cid, topics[rng.integers(0, len(topics))], float(np.mean(list(dims.values()))),
                               json.dumps(dims, ensure_ascii=False), json.dumps({"long_call": long_call}), "bench"))
                for j in range(int(rng.poisson(1.5))):
                    rid, cat, sev, pts = rules[rng.integers(0, len(rules))]
                    flags.append((f"{cid}-{j}", cid, cat, rid, sev, pts, "agent", 10.0 * j, 10.0 * j + 3, "「示例证据 13812345678」", "bench"))
    with store.tx():
        store.db.executemany("INSERT INTO calls VALUES (?,?,?,?,?,?,?,?,?,?,?,?)", calls)
        store.db.executemany("INSERT INTO samples VALUES (?,?,?,?)", samples)
        store.db.executemany("INSERT INTO call_scores VALUES (?,?,?,?,?,?)", scores)
        store.db.executemany("INSERT INTO flags VALUES (?,?,?,?,?,?,?,?,?,?,?)", flags)
    return len(flags)


def baseline_xlsx(rows: int, cols: int, path: Path) -> float:
    from openpyxl import Workbook

    t0 = time.perf_counter()
    wb = Workbook()
    ws = wb.active
    for i in range(rows):
        ws.append([f"值{i}-{j}" for j in range(cols)])
    wb.save(path)
    return time.perf_counter() - t0


def bench(agents: int, per_day: int) -> list[tuple[str, float, float | None]]:
    from audit.reports.weekly import weekly_report

    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        write_template(ws)
        (ws / "rules").symlink_to(REPO / "rules")
        config = load_config(ws / "audit.toml")
        with Store(config.database) as store:
            populate(store, agents, per_day, date(2026, 11, 16))
        t0 = time.perf_counter()
        res = weekly_report(config, "2026-W47", with_clips=False)
        took = time.perf_counter() - t0
        base = baseline_xlsx(res.flags, 17, ws / "baseline.xlsx")
    return [
        (f"bare openpyxl, {res.flags:,} rows x 17 columns (baseline)", base, None),
        (f"callaudit weekly: {res.agents} agents, {res.calls:,} calls, {res.flags:,} flags", took, took / base),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--agents", type=int, default=500)
    ap.add_argument("--calls-per-day", type=int, default=6)
    a = ap.parse_args()
    print(f"{'measure':70s} {'seconds':>8s} {'x baseline':>10s}")
    for name, secs, ratio in bench(a.agents, a.calls_per_day):
        print(f"{name:70s} {secs:8.2f} {'' if ratio is None else f'{ratio:10.1f}'}")


if __name__ == "__main__":
    main()
