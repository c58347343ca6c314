"""The night's summary for the QA lead: what was scored, what must be reported, surges, problems."""

from __future__ import annotations

from datetime import date

from audit.workspace.config import Config
from audit.text.masking import mask_numbers
from audit.reports.scorecard import REPORT_CATEGORIES, build_scorecard, week_of
from audit.detect.rules import load_pack
from audit.detect.scores import counted_flags
from audit.workspace.store import Store


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
    if len(report):  # one line per moment: two rules of one category on the same sentence are one item to report
        report = (report[report["decision"] != "dismiss"]
                  .assign(_at=report["start"].round(0), _ro=report["review_only"].fillna(0).astype(int))
                  .sort_values(["_ro", "confidence"], ascending=[True, False], kind="stable")
                  .drop_duplicates(["call_id", "category", "_at"]).sort_values(["call_id", "start"], kind="stable"))
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
        "vetoed": [{"call_id": c.call_id, "reason": c.veto_reason} for c in today.itertuples() if c.vetoed] if len(today) else [],
        "surges": [{"topic": t.topic, "calls": int(t.calls), "baseline": t.baseline} for t in surges.itertuples()],
        "problems": problems,
    }
    lines = [f"# 调听日报 {day}", "", f"- 已评分通话: {summary['scored']}，平均总分: {summary['mean_total']}"]
    lines += ["- 问题: " + ("，".join(f"{k} {v}" for k, v in summary["flags"].items()) or "无")]
    lines += [f"- 待复核(仅复核，不扣分): {summary['review_only']}"]
    lines += ["", "## 须上报 / 投诉升级"] + ([f"- {r['call_id']} {r['category']}{'（待复核）' if r['review_only'] else ''}: {r['evidence']}"
                                          for r in summary["to_report"]] or ["- 无"])
    lines += ["", "## 一票否决"] + ([f"- {v['call_id']}: {v['reason']}" for v in summary["vetoed"]] or ["- 无"])
    lines += ["", "## 话题突增"] + ([f"- {s['topic']}: {s['calls']} 通 (前7天日均 {s['baseline']})" for s in summary["surges"]] or ["- 无"])
    lines += ["", "## 未能处理"] + ([f"- [{p['stage']}] {p['item']}: {p['message']}" for p in problems] or ["- 无"])
    out = config.output / "daily" / f"daily-{day}.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_suffix(".md.tmp")
    tmp.write_text("\n".join(lines) + "\n", encoding="utf-8")
    tmp.replace(out)
    summary["file"] = str(out)
    return summary
