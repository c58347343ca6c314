"""Generate a synthetic call index (CSV, Chinese headers) of N rows for benchmarks.

    python benchmarks/gen_index.py OUT.csv --rows 1000000 --agents 2000 --day 2026-11-19
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def generate(rows: int, agents: int, day: str, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    agent = rng.integers(0, agents, rows)
    secs = rng.integers(8 * 3600, 22 * 3600, rows)
    start = pd.Timestamp(day) + pd.to_timedelta(secs, unit="s")
    return pd.DataFrame(
        {
            "流水号": [f"C{i:09d}" for i in range(rows)],
            "坐席工号": [f"{a:05d}" for a in agent],
            "坐席姓名": [f"坐席{a}" for a in agent],
            "班组": [f"{a % 40}班" for a in agent],
            "开始时间": start.strftime("%Y-%m-%d %H:%M:%S"),
            "通话时长": rng.gamma(2.0, 80.0, rows).round(1),
            "录音文件": [f"{day}/{a:05d}/C{i:09d}.wav" for i, a in enumerate(agent)],
        }
    )


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("out")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--agents", type=int, default=2000)
    ap.add_argument("--day", default="2026-11-19")
    a = ap.parse_args()
    generate(a.rows, a.agents, a.day).to_csv(a.out, index=False)


if __name__ == "__main__":
    main()
