"""Report entry points: weekly workbook (+ clips), review import, daily and monthly summaries."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from datetime import date, timedelta
from pathlib import Path

import pandas as pd
from openpyxl import load_workbook

from audit.clips import ClipOptions, cut_clips
from audit.config import Config
from audit.errors import AuditError
from audit.masking import mask_numbers
from audit.rules import load_pack
from audit.store import RunLock, Store, now
from audit.scores import counted_flags, reviewed_scores
from audit.weekly import FOLLOWUPS, REPORT_CATEGORIES, REVIEW_DECISIONS, build_scorecard, week_of

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
        from audit.scorecard_xlsx import write_scorecard

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
            row = store.db.execute("SELECT day FROM calls WHERE call_id = ?", (call_id,)).fetchone()
            if row is None:
                raise AuditError(f"call {call_id} is not in the workspace")
            week = week_of(date.fromisoformat(row[0]))
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


@dataclass
class ReviewImport:
    updated: int
    skipped: list[str]


def import_reviews(config: Config, workbook: Path) -> ReviewImport:
    """Read the 复核/跟进/备注 columns of an edited scorecard back into the store (empty cells change nothing)."""
    from audit.scorecard_xlsx import REVIEW_SHEET

    try:
        wb = load_workbook(workbook, read_only=True, data_only=True)
    except Exception as exc:
        raise AuditError(f"cannot open {workbook}: {exc}") from exc
    if REVIEW_SHEET not in wb.sheetnames:
        raise AuditError(f"{workbook.name}: no sheet {REVIEW_SHEET}; is this a callaudit scorecard?")
    rows = wb[REVIEW_SHEET].iter_rows(values_only=True)
    header = [str(h or "") for h in next(rows, [])]
    try:
        col = {k: header.index(k) for k in ("复核", "跟进", "备注", "flag_key")}
    except ValueError as exc:
        raise AuditError(f"{workbook.name}: sheet {REVIEW_SHEET} lacks a column ({exc})") from exc
    updated, skipped = 0, []
    with Store(config.database) as store, store.tx():
        known = {r[0] for r in store.db.execute("SELECT flag_key FROM flags")}
        for i, row in enumerate(rows, start=2):
            key = row[col["flag_key"]]
            decision_raw, followup, note = (str(row[col[k]] or "").strip() for k in ("复核", "跟进", "备注"))
            if not (decision_raw or followup or note):
                continue
            if key not in known:
                skipped.append(f"row {i}: flag {key} is not in the workspace")
                continue
            decision = REVIEW_DECISIONS.get(decision_raw) if decision_raw else None
            if decision_raw and decision is None:
                skipped.append(f"row {i}: 复核 '{decision_raw}' is not one of 确认/驳回/典型案例")
                continue
            if followup and followup not in FOLLOWUPS:
                skipped.append(f"row {i}: 跟进 '{followup}' is not one of {'/'.join(FOLLOWUPS)}")
                continue
            store.db.execute(
                """INSERT INTO reviews (flag_key, decision, followup, note, reviewed_at) VALUES (?,?,?,?,?)
                   ON CONFLICT(flag_key) DO UPDATE SET
                     decision=COALESCE(excluded.decision, reviews.decision),
                     followup=COALESCE(excluded.followup, reviews.followup),
                     note=COALESCE(excluded.note, reviews.note), reviewed_at=excluded.reviewed_at""",
                (key, decision, followup or None, note or None, now()),
            )
            updated += 1
    return ReviewImport(updated, skipped)


def daily_summary(config: Config, store: Store, day: str) -> dict:
    """What the night did: sample, scores, new must-report items, surges, problems. Also written as markdown."""
    the_day = date.fromisoformat(day)
    # history_weeks=1: the daily summary needs this week only, not the 8-week trend
    sc = build_scorecard(store, week_of(the_day), load_pack(config.rules, []), config.weights, history_weeks=1)
    today = sc.calls[sc.calls["day"] == day] if len(sc.calls) else sc.calls
    today_flags = sc.flags[sc.flags["call_id"].isin(today["call_id"])] if len(sc.flags) else sc.flags
    flags = counted_flags(today_flags)  # review-only flags wait for a reviewer; they are listed, not counted
    waiting = today_flags[~today_flags.index.isin(flags.index)] if len(today_flags) else today_flags
    report = today_flags[today_flags["category"].isin(REPORT_CATEGORIES)] if len(today_flags) else today_flags
    surges = sc.topics[(sc.topics["day"] == day) & sc.topics["surge"]] if len(sc.topics) else sc.topics
    problems = [dict(r) for r in store.problems(day)]
    m = mask_numbers if config.mask_pii else (lambda s: s)
    summary = {
        "day": day,
        "scored": int(len(today)),
        "mean_total": round(float(today["total"].mean()), 1) if len(today) else None,
        "flags": {k: int(v) for k, v in flags["category"].value_counts().items()} if len(flags) else {},
        "to_report": [{"call_id": f.call_id, "category": f.category, "evidence": m(f.evidence or ""),
                       "review_only": bool(f.review_only)} for f in report.itertuples() if f.decision != "dismiss"],
        "review_only": int((~waiting["decision"].isin(["dismiss"])).sum()) if len(waiting) else 0,
        "surges": [{"topic": t.topic, "calls": int(t.calls), "baseline": t.baseline} for t in surges.itertuples()],
        "problems": problems,
    }
    lines = [f"# 调听日报 {day}", "", f"- 已评分通话: {summary['scored']}，平均总分: {summary['mean_total']}"]
    lines += ["- 问题: " + ("，".join(f"{k} {v}" for k, v in summary["flags"].items()) or "无")]
    lines += [f"- 待复核(仅复核，不扣分): {summary['review_only']}"]
    lines += ["", "## 须上报 / 投诉升级"] + ([f"- {r['call_id']} {r['category']}{'（待复核）' if r['review_only'] else ''}: {r['evidence']}"
                                          for r in summary["to_report"]] or ["- 无"])
    lines += ["", "## 话题突增"] + ([f"- {s['topic']}: {s['calls']} 通 (前7天日均 {s['baseline']})" for s in summary["surges"]] or ["- 无"])
    lines += ["", "## 未能处理"] + ([f"- [{p['stage']}] {p['item']}: {p['message']}" for p in problems] or ["- 无"])
    out = config.output / "daily" / f"daily-{day}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    summary["file"] = str(out)
    return summary


def monthly_summary(config: Config, month: str) -> dict:
    """Month roll-up: calls, mean scores per agent, flags per category, must-report count (complaint management's monthly summary)."""
    try:
        first = date.fromisoformat(month + "-01")
    except ValueError as exc:
        raise AuditError(f"month {month!r} is not like 2026-11") from exc
    last = (first.replace(day=28) + timedelta(days=4)).replace(day=1) - timedelta(days=1)
    with Store(config.database) as store:
        calls = store.scored_calls(first.isoformat(), last.isoformat())
        flags = store.flags_with_reviews(calls["call_id"].tolist())
    pack = load_pack(config.rules, [])
    calls["total"] = reviewed_scores(calls, flags, pack, config.weights)["total"]
    counted = counted_flags(flags)
    cats = {str(k): int(v) for k, v in counted["category"].value_counts().items()} if len(counted) else {}
    agents = calls.groupby(["agent_id", "agent_name"])["total"].agg(["count", "mean"]).round(1).reset_index()
    return {
        "month": month, "scored_calls": int(len(calls)),
        "mean_total": round(float(calls["total"].mean()), 1) if len(calls) else None,
        "flags": dict(sorted(cats.items())),
        "to_report": sum(cats.get(c, 0) for c in REPORT_CATEGORIES),
        "agents": agents.rename(columns={"count": "calls", "mean": "mean_total"}).to_dict(orient="records"),
    }
