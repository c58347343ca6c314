"""The numbers a progress bar shows for one stage: how many calls, how fast, how long still.

Calls taken from earlier work (cached) finish in no time; counting them in the rate made the
first minutes of a rerun promise an ETA of seconds, and reading tqdm's own rate before its first
update showed 0.0 calls/min. The rate here is worked calls over the time spent working.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Callable


def _now() -> float:
    return time.monotonic()


@dataclass
class StageProgress:
    stage: str
    total: int
    clock: Callable[[], float] | None = None  # default: the monotonic clock
    counts: dict[str, int] = field(default_factory=lambda: {"done": 0, "cached": 0, "failed": 0})
    started: float | None = None  # when the first call that needed work was started on

    def __post_init__(self) -> None:
        if self.clock is None:
            self.clock = lambda: _now()
        self.started = self.clock()

    def tick(self, outcome: str) -> None:
        if outcome == "cached" and not self.worked:
            self.started = self.clock()  # time spent skipping cached calls is not work
        self.counts[outcome] = self.counts.get(outcome, 0) + 1

    @property
    def worked(self) -> int:
        return self.counts["done"] + self.counts["failed"]

    @property
    def finished(self) -> int:
        return sum(self.counts.values())

    @property
    def per_minute(self) -> float | None:
        """Calls worked per minute so far (None until one is)."""
        spent = self.clock() - self.started
        return 60.0 * self.worked / spent if self.worked and spent > 0 else None

    @property
    def eta_s(self) -> float | None:
        rate = self.per_minute
        return None if not rate else (self.total - self.finished) * 60.0 / rate

    def describe(self) -> str:
        rate, eta = self.per_minute, self.eta_s
        parts = [f"{rate:.1f} calls/min" if rate else "starting", f"ETA {_clock(eta)}" if eta is not None else ""]
        if self.counts["cached"]:
            parts.append(f"{self.counts['cached']} already done")
        if self.counts["failed"]:
            parts.append(f"{self.counts['failed']} failed")
        return ", ".join(p for p in parts if p)


def _clock(seconds: float) -> str:
    s = int(round(seconds))
    return f"{s // 3600}:{s % 3600 // 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"
