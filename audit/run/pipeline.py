"""Before the per-call stages: the call index, the day's sample, and the transcription options.

The night runs index -> sample (here) -> transcribe -> score (audit/run/stages.py, one runner).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd

from audit.workspace.config import Config, TranscribeSettings
from audit.workspace.index import CallIndex, read_index, scan_folder
from audit.sampling import band_counts, sample
from audit.workspace.store import Store

if TYPE_CHECKING:
    from audit.transcribe import TranscribeOptions

log = logging.getLogger("audit")


def yesterday(timezone: str) -> date:
    return (datetime.now(ZoneInfo(timezone)) - timedelta(days=1)).date()


def load_index(config: Config) -> CallIndex:
    """The whole call index, from the export or from a folder scan."""
    if config.index is not None:
        return read_index(config.index, config.recording_root, config.columns, config.encoding)
    return scan_folder(config.recording_root, config.scan_pattern, config.scan_time_format)


def mark_new_agents(calls: pd.DataFrame, config: Config) -> pd.DataFrame:
    is_new = calls["agent_id"].isin(config.new_agents)
    if config.new_hired_after and "hire_date" in calls:
        cutoff = pd.Timestamp(config.new_hired_after)
        is_new |= calls["hire_date"].notna() & (calls["hire_date"] > cutoff)
    return calls.assign(is_new=is_new)


@dataclass
class SampleResult:
    day: str
    indexed: int  # calls in the index on that day
    agents: int
    sampled: pd.DataFrame
    calls: pd.DataFrame  # every call of the day (kept for team handling times and totals)
    problems: list = field(default_factory=list)  # index RowProblems (whole file, not just that day)

    @property
    def per_band(self) -> dict[str, int]:
        return band_counts(self.sampled)

    def summary(self) -> dict:
        return {
            "day": self.day,
            "agents": self.agents,
            "calls_indexed": self.indexed,
            "sampled": int(len(self.sampled)),
            "sampled_per_band": self.per_band,
            "skipped_rows": len(self.problems),
        }


def sample_day(config: Config, day: date, index: CallIndex | None = None) -> SampleResult:
    """Sample one day's calls from the index (pure: no store writes)."""
    index = index if index is not None else load_index(config)
    calls = index.calls[index.calls["day"] == day]
    calls = mark_new_agents(calls, config)
    picked = sample(calls, config.sampling)
    return SampleResult(
        day=day.isoformat(),
        indexed=len(calls),
        agents=int(calls["agent_id"].nunique()),
        sampled=picked,
        calls=calls,
        problems=index.problems,
    )


def store_sample(store: Store, result: SampleResult) -> None:
    """Record the day's indexed calls, sample and index problems in one transaction (rerun-safe)."""
    with store.tx():
        store.upsert_calls(result.calls)
        store.replace_sample(result.day, result.sampled)
        store.clear_problems(result.day, "index")
        for p in result.problems:
            store.record_problem(result.day, "index", f"row {p.row}: {p.item}" if p.row else p.item, p.message)


# ---------------------------------------------------------------- transcription options


def transcribe_options(t: TranscribeSettings, threads: int = 0) -> "TranscribeOptions":
    from audit.asr.model import resolve_model
    from audit.transcribe import TranscribeOptions

    model = resolve_model(t.model)
    return TranscribeOptions(
        engine=t.engine,
        model=model.path,
        model_name=model.name,
        device=t.device,
        compute_type=t.compute_type,
        language=t.language,
        beam_size=t.beam_size,
        batch_size=t.batch_size,
        homophones=t.homophones,
        lexicon=t.lexicon,
        refill=t.refill,
        site_terms=t.site_terms,
        vad=t.vad,
        agent_channel=t.agent_channel,
        threads=threads,
    )
