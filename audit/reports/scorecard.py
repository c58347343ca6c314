"""The weekly per-agent scorecard: data from the store (`build_scorecard`), then the workbook (`write_scorecard`).

Follows seeds/004 section 3.5/5: each agent sees their gap to the others, the weekly
tables show whether the team improves, special cases and unanswered questions are
collected, must-report calls are listed with their follow-up.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, timedelta

import pandas as pd

from audit.errors import AuditError
from audit.detect.rules import DIMENSIONS, RulePack
from audit.detect.scores import counted_flags, reviewed_scores
from audit.workspace.store import Store

REPORT_CATEGORIES = ("risk.report", "risk.escalation")
KB_CATEGORIES = ("answer.hedging", "script.hold", "acoustic.silence")
REVIEW_DECISIONS = {"确认": "confirm", "驳回": "dismiss", "典型案例": "case", "confirm": "confirm", "dismiss": "dismiss", "case": "case"}
FOLLOWUPS = ("已后补", "已回访", "无需跟进")
# Surge: a topic's daily count is at least SURGE_RATIO x its mean over the previous
# SURGE_DAYS days and at least SURGE_MIN_EXTRA calls above that mean.
SURGE_DAYS, SURGE_RATIO, SURGE_MIN_EXTRA = 7, 2.0, 3
SURGE_RULE = f"当日通话数 ≥ 前{SURGE_DAYS}天日均的{SURGE_RATIO:g}倍，且至少多{SURGE_MIN_EXTRA}通"


def parse_week(week: str) -> tuple[date, date]:
    """'2026-W47' -> (Monday, Sunday)."""
    try:
        monday = date.fromisocalendar(int(week[:4]), int(week.split("W")[1]), 1)
    except (ValueError, IndexError) as exc:
        raise AuditError(f"week {week!r} is not like 2026-W47") from exc
    return monday, monday + timedelta(days=6)


def week_of(day: date) -> str:
    y, w, _ = day.isocalendar()
    return f"{y}-W{w:02d}"


@dataclass
class Scorecard:
    week: str
    team: str | None
    calls: pd.DataFrame  # scored calls of the week (one row per call, dimension columns, effective total)
    agents: pd.DataFrame  # one row per agent
    flags: pd.DataFrame  # flags of the week's scored calls, with review columns
    indexed: int
    sampled: int
    trend: list[tuple[str, float | None]]  # (week, team mean total), oldest first
    topics: pd.DataFrame  # day x topic counts with surge marks
    rule_precision: pd.DataFrame
    team_mean: dict[str, float] = field(default_factory=dict)
    category_names: dict[str, str] = field(default_factory=dict)  # from the rule pack: code -> display name
    appeals: pd.DataFrame = field(default_factory=pd.DataFrame)  # every appeal on the week's flags, with its outcome
    agent_trend: pd.DataFrame = field(default_factory=pd.DataFrame)  # agent_id x week (oldest first): mean total


def _with_scores(calls: pd.DataFrame, flags: pd.DataFrame, pack: RulePack | None, weights: dict[str, float]) -> pd.DataFrame:
    """The calls with their dimension scores and total after review (audit.detect.scores: one place)."""
    return pd.concat([calls.drop(columns=["dimensions", "total"]), reviewed_scores(calls, flags, pack, weights)], axis=1)


def _agent_table(calls: pd.DataFrame, flags: pd.DataFrame, categories: list[str]) -> pd.DataFrame:
    if calls.empty:
        return pd.DataFrame(columns=["agent_id", "agent_name", "team", "calls", "total", *DIMENSIONS])
    g = calls.groupby("agent_id")
    agents = g.agg(agent_name=("agent_name", "first"), team=("team", "first"), calls=("call_id", "count"))
    agents = agents.join(g[list(DIMENSIONS) + ["total"]].mean())
    if "form_total" in calls:  # the team's score form: mean over calls (a vetoed call counts 0), vetoed calls
        agents = agents.join(pd.to_numeric(calls["form_total"], errors="coerce").groupby(calls["agent_id"]).mean().rename("form_total"))
        agents = agents.join(calls["vetoed"].astype(bool).groupby(calls["agent_id"]).sum().astype(int).rename("vetoed"))
    counted = counted_flags(flags).merge(calls[["call_id", "agent_id"]], on="call_id")
    per_cat = counted.groupby(["agent_id", "category"]).size().unstack(fill_value=0).reindex(columns=categories, fill_value=0)
    agents = agents.join(per_cat)
    agents[categories] = agents[categories].fillna(0).astype(int)
    # flags the agent appealed and won: how often the machine and the reviewer were wrong about them
    won = flags[flags["state"] == "overturned"].merge(calls[["call_id", "agent_id"]], on="call_id") if "state" in flags else flags
    agents["overturned"] = won.groupby("agent_id").size().reindex(agents.index, fill_value=0).astype(int) if len(won) else 0
    return agents.reset_index()


def _topic_table(store: Store, end: date, start: date, team: str | None) -> pd.DataFrame:
    first = start - timedelta(days=SURGE_DAYS)
    df = store.topics_by_day(first.isoformat(), end.isoformat(), team)
    days = [(first + timedelta(days=i)).isoformat() for i in range((end - first).days + 1)]
    counts = df.groupby(["day", "topic"]).size().unstack(fill_value=0).reindex(index=days, fill_value=0)
    rows = []
    for i, day in enumerate(days):
        if day < start.isoformat():
            continue
        prev = counts.iloc[max(0, i - SURGE_DAYS) : i]
        for topic in counts.columns:
            n = int(counts.at[day, topic])
            base = float(prev[topic].mean()) if len(prev) else 0.0
            surge = n >= SURGE_RATIO * base and n >= base + SURGE_MIN_EXTRA
            rows.append({"day": day, "topic": topic, "calls": n, "baseline": round(base, 1), "surge": surge})
    return pd.DataFrame(rows, columns=["day", "topic", "calls", "baseline", "surge"])


def _rule_precision(store: Store) -> pd.DataFrame:
    """Per rule, over all reviewed flags so far: how often reviewers confirmed it."""
    return store.rule_precision().assign(precision=lambda d: (d["confirmed"] / d["reviewed"].where(d["reviewed"] > 0)).round(2))


def _week(store: Store, start: date, end: date, team: str | None, pack: RulePack | None,
          weights: dict[str, float]) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One week's scored calls (with review-adjusted scores) and their flags."""
    raw = store.scored_calls(start.isoformat(), end.isoformat(), team)
    flags = store.flags_with_reviews(raw["call_id"].tolist())
    return _with_scores(raw, flags, pack, weights), flags


def build_scorecard(
    store: Store, week: str, pack: RulePack | None = None, weights: dict[str, float] | None = None,
    team: str | None = None, history_weeks: int = 8,
) -> Scorecard:
    start, end = parse_week(week)
    weights = weights or {}
    # Week k = k weeks before this one: 0 is this week, 1 gives the deltas, all feed the trend.
    weeks = [_week(store, start - timedelta(days=7 * k), end - timedelta(days=7 * k), team, pack, weights)[0]
             for k in range(1, max(history_weeks, 2))]
    calls, flags = _week(store, start, end, team, pack, weights)
    prev = weeks[0]
    categories = sorted({r.category for r in pack.rules} if pack else set(flags["category"]))
    agents = _agent_table(calls, flags, categories)

    team_mean = {d: float(calls[d].mean()) for d in [*DIMENSIONS, "total"]} if len(calls) else {}
    if len(agents):
        for d in [*DIMENSIONS, "total"]:
            agents[f"gap:{d}"] = agents[d] - team_mean.get(d, float("nan"))
        prev_means = prev.groupby("agent_id")[[*DIMENSIONS, "total"]].mean() if len(prev) else pd.DataFrame()
        for d in [*DIMENSIONS, "total"]:
            before = agents["agent_id"].map(prev_means[d]) if d in prev_means else float("nan")
            agents[f"delta:{d}"] = agents[d] - before
        agents = agents.sort_values("total", ascending=False).reset_index(drop=True)
        agents.insert(0, "rank", range(1, len(agents) + 1))

    history = [calls, *weeks][:history_weeks]
    trend = [
        (week_of(start - timedelta(days=7 * k)), round(float(h["total"].mean()), 1) if len(h) else None)
        for k, h in reversed(list(enumerate(history)))
    ]

    labels = [week_of(start - timedelta(days=7 * k)) for k in range(len(history))]
    agent_trend = pd.DataFrame(
        {w: h.groupby("agent_id")["total"].mean().round(1) if len(h) else pd.Series(dtype=float)
         for w, h in reversed(list(zip(labels, history)))})

    indexed, sampled = store.coverage(start.isoformat(), end.isoformat(), team)
    return Scorecard(
        week=week, team=team, calls=calls, agents=agents, flags=flags, indexed=indexed, sampled=sampled,
        trend=trend, topics=_topic_table(store, end, start, team), rule_precision=_rule_precision(store), team_mean=team_mean,
        category_names=dict(pack.category_names) if pack else {},
        appeals=store.appeals(calls["call_id"].tolist()), agent_trend=agent_trend,
    )
