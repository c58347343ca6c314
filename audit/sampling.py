"""Pick the day's calls to audit, per agent, by duration band.

The practice (seeds/004): review yesterday's calls, every agent, all calls over
400 s, a few from 300-400 s and 200-300 s, shorter ones at a low rate, and more
of new agents' calls. `sample()` is a pure function over a DataFrame so it can
be tested and benchmarked without audio or a database.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Band:
    """Calls with lo < duration <= hi seconds. Take all of them unless count or rate is set."""

    name: str
    lo: float
    hi: float = math.inf
    count: int | None = None  # this many per agent per day
    rate: float | None = None  # this fraction of the agent's calls in the band

    @property
    def takes_all(self) -> bool:
        return self.count is None and self.rate is None


DEFAULT_BANDS = (
    Band(">400s", 400),
    Band("300-400s", 300, 400, count=2),
    Band("200-300s", 200, 300, count=2),
    Band("<=200s", 0, 200, rate=0.05),
)


@dataclass(frozen=True)
class SamplingOptions:
    bands: tuple[Band, ...] = DEFAULT_BANDS
    seed: int = 0
    new_agent_multiplier: float = 2.0
    min_per_agent: int = 1  # every agent that worked gets at least this many
    full_coverage: bool = False  # take every call (sites with the compute)


# Columns sample() adds to the rows it returns.
SAMPLE_COLUMNS = ["band", "reason"]


def _uniform_keys(call_ids: pd.Series, seed: int) -> np.ndarray:
    """A reproducible pseudo-random number in [0, 1) per call id, stable across reruns and row order."""
    hash_key = hashlib.sha256(str(seed).encode()).hexdigest()[:16]
    h = pd.util.hash_pandas_object(call_ids.astype(str), index=False, hash_key=hash_key).to_numpy()
    return (h >> np.uint64(11)).astype(np.float64) / float(1 << 53)


def assign_band(durations: pd.Series, bands: tuple[Band, ...]) -> pd.Series:
    """Name of the first band each duration falls in (None outside all bands)."""
    out = pd.Series(None, index=durations.index, dtype=object)
    for band in reversed(bands):  # first listed band wins where they overlap
        hit = (durations > band.lo) & (durations <= band.hi)
        if band.lo == 0:
            hit |= durations == 0
        out[hit] = band.name
    return out


def sample(calls: pd.DataFrame, options: SamplingOptions = SamplingOptions()) -> pd.DataFrame:
    """Select calls to audit from one day's calls.

    `calls` needs columns call_id, agent_id, duration (seconds) and optionally
    is_new (bool). Returns the selected rows with `band` and `reason` added,
    ordered by agent then start/call id. Deterministic for a given seed.
    """
    if calls.empty:
        return calls.assign(band=pd.Series(dtype=object), reason=pd.Series(dtype=object))
    df = calls.copy()
    df["band"] = assign_band(df["duration"], options.bands)
    if options.full_coverage:
        df["reason"] = "full coverage"
        return _order(df)

    key = _uniform_keys(df["call_id"], options.seed)
    is_new = df["is_new"].fillna(False).astype(bool).to_numpy() if "is_new" in df else np.zeros(len(df), bool)
    mult = np.where(is_new, options.new_agent_multiplier, 1.0)
    picked = np.zeros(len(df), dtype=bool)
    reason = np.full(len(df), "", dtype=object)
    new_note = np.where(is_new, " (new agent x%g)" % options.new_agent_multiplier, "")

    for band in options.bands:
        in_band = (df["band"] == band.name).to_numpy()
        if not in_band.any():
            continue
        if band.takes_all:
            take = in_band
            text = f"all calls {band.name}"
        elif band.rate is not None:
            take = in_band & (key < np.minimum(1.0, band.rate * mult))
            text = f"random {band.rate:g} of {band.name}"
        else:
            quota = np.floor(band.count * mult)
            # rank calls within (agent, band) by their random key; keep the first `quota`
            rank = (
                pd.Series(key[in_band], index=df.index[in_band])
                .groupby(df["agent_id"][in_band])
                .rank(method="first")
                .to_numpy()
            )
            take = in_band.copy()
            take[in_band] = rank <= quota[in_band]
            text = f"random {band.count} of {band.name}"
        picked |= take
        reason[take] = text
    reason = np.where(picked, reason + new_note, None)

    # Coverage: an agent with fewer than min_per_agent picks gets their longest calls.
    if options.min_per_agent > 0:
        picks_per_agent = pd.Series(picked).groupby(df["agent_id"].to_numpy()).transform("sum").to_numpy()
        short = picks_per_agent < options.min_per_agent
        if short.any():
            pool = short & ~picked
            cand = df.loc[pool, ["agent_id", "duration"]].assign(_key=key[pool], _need=options.min_per_agent - picks_per_agent[pool])
            cand = cand.sort_values(["agent_id", "duration", "_key"], ascending=[True, False, True])
            cand = cand[cand.groupby("agent_id").cumcount().to_numpy() < cand["_need"].to_numpy()]
            pos = df.index.get_indexer(cand.index)
            picked[pos] = True
            reason[pos] = "coverage: agent's longest call"
    df["reason"] = reason
    return _order(df[picked])


def _order(df: pd.DataFrame) -> pd.DataFrame:
    cols = ["agent_id"] + [c for c in ("start", "call_id") if c in df]
    return df.sort_values(cols, kind="stable").reset_index(drop=True)


def band_counts(sampled: pd.DataFrame) -> dict[str, int]:
    """Sampled calls per band, for summaries."""
    if sampled.empty:
        return {}
    return {str(k): int(v) for k, v in sampled["band"].fillna("none").value_counts().sort_index().items()}
