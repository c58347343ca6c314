"""`callaudit weekly` and `callaudit clips`: a week's scorecard, its clips and the workbook."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from audit.workspace.config import Config
from audit.errors import AuditError
from audit.reports.clips import ClipOptions, cut_clips
from audit.reports.scorecard import build_scorecard, week_of
from audit.reports.workbook import write_scorecard
from audit.detect.rules import load_pack
from audit.workspace.store import RunLock, Store

log = logging.getLogger("audit")


@dataclass
class WeeklyResult:
    path: Path
    agents: int
    calls: int
    flags: int
    clips: int
    problems: list[str] = field(default_factory=list)


def _transcripts(store: Store, call_ids: list[str]) -> dict[str, dict]:
    return {cid: body for cid in call_ids if (body := store.transcript_body(cid)) is not None}


def weekly_report(config: Config, week: str, team: str | None = None, with_clips: bool = True,
                  category: str | None = None) -> WeeklyResult:
    pack = load_pack(config.rules, [])
    with report_lock(config), Store(config.database) as store:
        sc = build_scorecard(store, week, pack, config.weights, team)
        folder = config.output / week
        clips: dict[str, str] = {}
        problems: list[str] = []
        if with_clips and len(sc.flags):
            flags = sc.flags if category is None else sc.flags[sc.flags["category"] == category]
            made, problems = cut_clips(
                flags, sc.calls.set_index("call_id"), config.recording_root, folder / "clips",
                _transcripts(store, flags["call_id"].unique().tolist()),
                ClipOptions(config.clip_padding, config.clip_format, config.clip_channels, config.mask_pii),
            )
            clips = {k: p.relative_to(folder).as_posix() for k, p in made.items()}
        name = f"scorecard-{week}" + (f"-{team}" if team else "") + ".xlsx"
        path = write_scorecard(sc, folder / name, mask=config.mask_pii, clips=clips)
    return WeeklyResult(path, len(sc.agents), len(sc.calls), len(sc.flags), len(clips), problems)


def report_lock(config: Config) -> RunLock:
    """Report writers take this lock: one writer per workspace, so leftovers of a killed one can be cleaned."""
    config.database.parent.mkdir(parents=True, exist_ok=True)
    return RunLock(config.database.with_suffix(".report.lock"))


def clips_report(config: Config, week: str | None, call_id: str | None, category: str | None) -> tuple[dict, list[str]]:
    """Clips for a week's flags or one call's, into reports/<week>/clips/<agent>/."""
    with report_lock(config), Store(config.database) as store:
        if call_id:
            day = store.call_day(call_id)
            if day is None:
                raise AuditError(f"call {call_id} is not in the workspace")
            week = week_of(date.fromisoformat(day))
        sc = build_scorecard(store, week, load_pack(config.rules, []), config.weights)
        flags = sc.flags
        if call_id:
            flags = flags[flags["call_id"] == call_id]
        if category:
            flags = flags[flags["category"] == category]
        made, problems = cut_clips(
            flags, sc.calls.set_index("call_id"), config.recording_root, config.output / week / "clips",
            _transcripts(store, flags["call_id"].unique().tolist()),
            ClipOptions(config.clip_padding, config.clip_format, config.clip_channels, config.mask_pii),
        )
    return made, problems


