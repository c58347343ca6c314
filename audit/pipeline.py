"""The nightly run as explicit stages: index -> sample -> transcribe -> score.

Each stage is a function over (config, store, day) that returns a small result
dataclass for the summary. The CLI only calls these.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING
from zoneinfo import ZoneInfo

import pandas as pd

from audit.config import Config, TranscribeSettings
from audit.errors import AuditError
from audit.index import CallIndex, read_index, scan_folder
from audit.sampling import band_counts, sample
from audit.store import Store

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


# ---------------------------------------------------------------- transcription stage


@dataclass
class StageResult:
    stage: str
    total: int = 0
    done: int = 0  # worked on in this run
    cached: int = 0  # already done (earlier run, or same audio already transcribed)
    failed: int = 0

    def summary(self) -> dict:
        return {"total": self.total, "done": self.done, "cached": self.cached, "failed": self.failed}


def transcribe_options(t: TranscribeSettings, threads: int = 0) -> "TranscribeOptions":
    from audit.model import resolve_model
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


_worker_options = None


def _init_transcriber(options) -> None:
    global _worker_options
    _worker_options = options


def _transcribe_job(job: tuple[str, str]) -> dict:
    """(cache key, audio path) -> transcript dict; runs in a worker process."""
    from audit.transcribe import transcribe_file

    _key, path = job
    return transcribe_file(Path(path), _worker_options).to_dict()


def _ticker(progress, stage: str, total: int):
    """The CLI passes progress(stage, total) -> tick(call_id, outcome); the library never draws bars."""
    tick = progress(stage, total) if progress else None
    return tick or (lambda call_id, outcome: None)


def transcribe_stage(config: Config, store: Store, day: str, force: bool = False, progress=None) -> StageResult:
    """Transcribe the day's sampled calls that have no transcript yet (or all, with force).

    Transcripts are cached by audio content + model + options: the same recording is
    never transcribed twice. Each result commits with its status as it arrives, so a
    killed run loses at most the calls in flight.
    """
    from audit.audio import file_sha256, resolve_inside_root
    from audit.errors import AudioError
    from audit.executor import plan_workers, run_jobs

    plan = plan_workers(config.transcribe.workers)
    options = transcribe_options(config.transcribe, plan.threads)
    calls = store.sampled_calls(day)
    res = StageResult("transcribe", total=len(calls))
    on_progress = _ticker(progress, "transcribe", len(calls))
    jobs: list[tuple[str, str]] = []
    waiting: dict[str, list[str]] = {}  # cache key -> call ids that wait for it

    def fail(call_id: str, message: str) -> None:
        res.failed += 1
        with store.tx():
            store.set_status(call_id, "transcribe", "failed", message)
            store.record_problem(day, "transcribe", call_id, message)
        log.warning("%s: %s", call_id, message)
        on_progress(call_id, "failed")

    with store.tx():
        store.clear_problems(day, "transcribe")
    for row in calls.itertuples(index=False):
        if not force and store.status(row.call_id, "transcribe") == "done":
            res.cached += 1
            on_progress(row.call_id, "cached")
            continue
        try:
            path = resolve_inside_root(config.recording_root, row.audio_path)
            if not path.exists():
                raise AudioError(f"{row.audio_path}: file not found under {config.recording_root}")
            key = options.cache_key(file_sha256(path))
        except (AudioError, OSError) as exc:
            fail(row.call_id, str(exc))
            continue
        if not force and store.has_transcript(key):
            with store.tx():
                store.link_transcript(row.call_id, key)
                store.set_status(row.call_id, "transcribe", "done")
            res.cached += 1
            on_progress(row.call_id, "cached")
            continue
        with store.tx():
            store.set_status(row.call_id, "transcribe", "started")
        if key in waiting:  # same recording under another call id: transcribe once
            waiting[key].append(row.call_id)
            continue
        waiting[key] = [row.call_id]
        jobs.append((key, str(path)))

    for (key, _path), body, exc in run_jobs(
        _transcribe_job, jobs, plan.workers, initializer=_init_transcriber, initargs=(options,),
        executor=config.executor, address=config.executor_address,
    ):
        call_ids = waiting[key]
        if exc is not None:
            for call_id in call_ids:
                fail(call_id, str(exc) if isinstance(exc, AuditError) else f"{type(exc).__name__}: {exc}")
            continue
        with store.tx():
            store.put_transcript(key, body)
            for call_id in call_ids:
                store.link_transcript(call_id, key)
                store.set_status(call_id, "transcribe", "done")
        res.done += 1
        res.cached += len(call_ids) - 1
        for i, call_id in enumerate(call_ids):
            on_progress(call_id, "done" if i == 0 else "cached")
    return res
