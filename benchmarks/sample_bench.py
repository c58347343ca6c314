"""Sampling benchmark: `callaudit sample --json` on a generated 1,000,000-row index.

Baseline in the same run: a bare pandas.read_csv of the same file (the floor any
index-driven command pays). Prints seconds and the ratio to the baseline.
Target (issue 3): under 60 s on a 2-core machine.

    python benchmarks/sample_bench.py [--rows 1000000]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent))
from gen_index import generate  # noqa: E402


def bench(rows: int) -> list[tuple[str, float, float | None]]:
    with tempfile.TemporaryDirectory() as tmp:
        ws = Path(tmp)
        generate(rows, max(rows // 500, 10), "2026-11-19").to_csv(ws / "index.csv", index=False)
        subprocess.run([sys.executable, "-m", "audit.cli", "init", str(ws)], check=True, capture_output=True)
        t0 = time.perf_counter()
        pd.read_csv(ws / "index.csv", dtype=str, keep_default_na=False)
        base = time.perf_counter() - t0
        t0 = time.perf_counter()
        out = subprocess.run(
            [sys.executable, "-m", "audit.cli", "sample", "--date", "2026-11-19", "--json", "--config", str(ws / "audit.toml")],
            check=True,
            capture_output=True,
        )
        took = time.perf_counter() - t0
        n = out.stdout.count(b'"call_id"')
    return [
        ("pandas.read_csv (baseline)", base, None),
        (f"callaudit sample --json, {rows:,} rows -> {n:,} sampled", took, took / base),
    ]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rows", type=int, default=1_000_000)
    rows = bench(ap.parse_args().rows)
    print(f"{'measure':60s} {'seconds':>8s} {'x baseline':>10s}")
    for name, secs, ratio in rows:
        print(f"{name:60s} {secs:8.2f} {'' if ratio is None else f'{ratio:10.1f}'}")


if __name__ == "__main__":
    main()
