"""`callaudit nightly`: every stage for one day, under a workspace lock, rerun-safe."""

from __future__ import annotations

import logging
from datetime import date

from audit.config import Config
from audit.pipeline import sample_day, store_sample, yesterday
from audit.store import RunLock, Store

log = logging.getLogger("audit")


def run_nightly(config: Config, day: date | None = None, progress: bool = False) -> dict:
    """Sample, transcribe and score one day's calls. Returns the closing summary."""
    day = day or yesterday(config.timezone)
    config.database.parent.mkdir(parents=True, exist_ok=True)
    with RunLock(config.database.with_suffix(".lock")), Store(config.database) as store:
        run_id = store.start_run(day.isoformat(), "nightly")
        status = "failed"
        summary: dict = {"day": day.isoformat()}
        try:
            result = sample_day(config, day)
            store_sample(store, result)
            summary = result.summary()
            status = "done"
        finally:
            summary["problems"] = [dict(r) for r in store.problems(day.isoformat())]
            store.finish_run(run_id, status, summary)
    return summary
