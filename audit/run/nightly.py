"""`callaudit nightly`: every stage for one day, under a workspace lock, rerun-safe."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date

from audit.workspace.config import Config
from audit.run.pipeline import SampleResult, sample_day, store_sample, yesterday
from audit.run.stages import StageResult, measure_stage, score_stage, transcribe_stage
from audit.workspace.store import RunLock, Store

log = logging.getLogger("audit")

STAGES = ("sample", "transcribe", "measure", "score")


@dataclass
class NightlySummary:
    """What one night did, stage by stage (a stage not run is None)."""

    day: str
    sample: SampleResult | None = None
    transcribe: StageResult | None = None
    measure: StageResult | None = None
    score: StageResult | None = None
    to_report: list[dict] = field(default_factory=list)  # must-report flags of the day (daily summary)
    surges: list[dict] = field(default_factory=list)
    daily_file: str | None = None
    problems: list[dict] = field(default_factory=list)  # everything skipped or failed, per item

    def to_dict(self) -> dict:
        """The JSON of `nightly --json` and of the runs table."""
        out: dict = {"day": self.day, **(self.sample.summary() if self.sample else {})}
        for name in ("transcribe", "measure", "score"):
            stage = getattr(self, name)
            if stage is not None:
                out[name] = stage.summary()
        if self.score is not None:
            out.update(to_report=self.to_report, surges=self.surges, file=self.daily_file)
        out["problems"] = self.problems
        return out


def run_nightly(
    config: Config, day: date | None = None, force: bool = False, progress=None, stages: tuple[str, ...] = STAGES
) -> NightlySummary:
    """Sample, transcribe, measure and score one day's calls, then write the daily summary.

    `progress(stage, total)` may return a callable tick(call_id, outcome) (the CLI's bar).
    """
    day = day or yesterday(config.timezone)
    days = day.isoformat()
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(config.database.with_suffix(".lock")), Store(config.database) as store:
        run_id = store.start_run(days, "nightly")
        status = "failed"
        summary = NightlySummary(days)
        try:
            if "sample" in stages:
                summary.sample = sample_day(config, day)
                store_sample(store, summary.sample)
            if "transcribe" in stages:
                summary.transcribe = transcribe_stage(config, store, days, force, progress)
            if "measure" in stages:
                summary.measure = measure_stage(config, store, days, force, progress)
            if "score" in stages:
                from audit.reports.daily import daily_summary

                summary.score = score_stage(config, store, days, progress, force)
                daily = daily_summary(config, store, days)
                summary.to_report, summary.surges, summary.daily_file = daily["to_report"], daily["surges"], daily["file"]
            status = "done"
        finally:
            summary.problems = [dict(r) for r in store.problems(days)]
            store.finish_run(run_id, status, summary.to_dict())
    return summary
