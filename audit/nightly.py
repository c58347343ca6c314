"""`callaudit nightly`: every stage for one day, under a workspace lock, rerun-safe."""

from __future__ import annotations

import logging
from datetime import date

from audit.config import Config
from audit.pipeline import sample_day, store_sample, transcribe_stage, yesterday
from audit.store import RunLock, Store

log = logging.getLogger("audit")

STAGES = ("sample", "transcribe", "score")


def run_nightly(
    config: Config, day: date | None = None, force: bool = False, progress=None, stages: tuple[str, ...] = STAGES
) -> dict:
    """Sample, transcribe and score one day's calls. Returns the closing summary.

    `progress(stage, total)` may return a callable tick(call_id, outcome) (the CLI's bar).
    """
    day = day or yesterday(config.timezone)
    days = day.isoformat()
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(config.database.with_suffix(".lock")), Store(config.database) as store:
        run_id = store.start_run(days, "nightly")
        status = "failed"
        summary: dict = {"day": days}
        try:
            if "sample" in stages:
                result = sample_day(config, day)
                store_sample(store, result)
                summary.update(result.summary())
            if "transcribe" in stages:
                summary["transcribe"] = transcribe_stage(config, store, days, force, progress).summary()
            if "score" in stages:
                from audit.scoring import score_stage

                summary["score"] = score_stage(config, store, days, progress, force).summary()
                from audit.reports.daily import daily_summary

                daily = daily_summary(config, store, days)
                summary.update({k: daily[k] for k in ("to_report", "surges", "file")})
            status = "done"
        finally:
            summary["problems"] = [dict(r) for r in store.problems(days)]
            store.finish_run(run_id, status, summary)
    return summary
