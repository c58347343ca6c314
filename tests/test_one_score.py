"""One score wherever it is read: score --json, the daily summary, the weekly workbook and the
monthly roll-up give the same number for a call after review, under the per-rule cap."""

import json
import sqlite3
from collections import Counter

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.workspace.config import load_config
from audit.reports.daily import daily_summary
from audit.workspace.store import Store
from tests.conftest import scripted_night, spaced

DAY, WEEK, MONTH = "2026-11-19", "2026-W47", "2026-11"
# Three brush-offs (one rule, three flags: capped at twice its points) and two guesses.
LINES = ["这不归我们管，你找物业去。", "应该是吧，我估计明天就好了。", "这事跟我们没关系，你自己看着办。",
         "兴许是线路问题吧，我也说不准。", "我管不了，你爱找谁找谁。"]


@pytest.fixture
def ws(demo_ws):
    """The demo workspace after one night of scripted transcripts (every call sampled)."""
    # 15 s apart: each brush-off its own episode (see test_episodes for close ones)
    return scripted_night(demo_ws, spaced(LINES, every=15.0))


def _cli(ws, *args):
    res = CliRunner().invoke(cli, [*args, "--config", str(ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    return res.output


def _every_reading(ws) -> dict:
    """The scores as each output has them: per call (score --json), per agent (weekly workbook,
    monthly roll-up, and the mean of score --json over the agent's calls) and per day."""
    calls = {c["call_id"]: c for c in json.loads(_cli(ws, "score", "--date", DAY, "--json"))}
    agent_of = dict(sqlite3.connect(ws / "callaudit.db").execute("SELECT call_id, agent_id FROM calls").fetchall())
    by_agent: dict[str, list[float]] = {}
    for cid, c in calls.items():
        by_agent.setdefault(agent_of[cid], []).append(c["total"])
    path = json.loads(_cli(ws, "weekly", "--week", WEEK, "--no-clips", "--json"))["path"]
    sheet = load_workbook(path)["座席评分"]
    head = [c.value for c in sheet[1]]
    workbook = {str(r[head.index("工号")]): r[head.index("总分")] for r in sheet.iter_rows(min_row=2, values_only=True)}
    monthly = {str(a["agent_id"]): a["mean_total"] for a in json.loads(_cli(ws, "monthly", "--month", MONTH, "--json"))["agents"]}
    config = load_config(ws / "audit.toml")
    with Store(config.database) as store:
        daily = daily_summary(config, store, DAY)["mean_total"]
    return {"calls": calls, "agent_mean": {a: sum(v) / len(v) for a, v in by_agent.items()},
            "workbook": workbook, "monthly": monthly, "daily": daily}


def _dismiss(ws, flag_keys: set[str]) -> None:
    path = json.loads(_cli(ws, "weekly", "--week", WEEK, "--no-clips", "--json"))["path"]
    wb = load_workbook(path)
    sheet = wb["问题明细"]
    head = [c.value for c in sheet[1]]
    hit = 0
    for r in range(2, sheet.max_row + 1):
        if sheet.cell(r, head.index("flag_key") + 1).value in flag_keys:
            sheet.cell(r, head.index("复核") + 1).value = "驳回"
            hit += 1
    assert hit == len(flag_keys)
    wb.save(path)
    assert "reviews imported" in _cli(ws, "review", "import", path)


def _agree(seen: dict) -> None:
    for agent, mean in seen["agent_mean"].items():
        assert seen["workbook"][agent] == pytest.approx(mean, abs=0.051)
        assert seen["monthly"][agent] == pytest.approx(mean, abs=0.051)
    day_calls = [c["total"] for c in seen["calls"].values()]
    assert seen["daily"] == pytest.approx(sum(day_calls) / len(day_calls), abs=0.051)


def test_a_dismissed_flag_gives_back_the_same_points_everywhere_under_the_rule_cap(ws):
    before = _every_reading(ws)
    _agree(before)
    # a call whose brush-off rule hit its cap: three counted flags, twice the points deducted
    call_id, call = next((cid, c) for cid, c in before["calls"].items()
                         if Counter(f["rule_id"] for f in c["flags"] if not f["review_only"])["etiquette.forbidden.brushoff"] == 3)
    brushoffs = [f for f in call["flags"] if f["rule_id"] == "etiquette.forbidden.brushoff"]
    keys = [k for (k,) in sqlite3.connect(ws / "callaudit.db").execute(
        "SELECT flag_key FROM flags WHERE call_id = ? AND rule_id = 'etiquette.forbidden.brushoff' ORDER BY start", (call_id,))]
    assert len(keys) == 3 and call["total"] == call["machine_total"]

    _dismiss(ws, {keys[0]})  # two flags left: still the capped deduction
    one = _every_reading(ws)
    _agree(one)
    assert one["calls"][call_id]["total"] == call["total"]
    assert one["calls"][call_id]["dimensions"] == call["dimensions"]
    assert [f["decision"] for f in one["calls"][call_id]["flags"] if f["rule_id"] == brushoffs[0]["rule_id"]].count("dismiss") == 1

    _dismiss(ws, {keys[1]})  # one left: one rule's points come back, once
    two = _every_reading(ws)
    _agree(two)
    after = two["calls"][call_id]
    changed = {d for d in after["dimensions"] if after["dimensions"][d] != call["dimensions"][d]}
    assert len(changed) == 1, changed
    (dim,) = changed
    assert after["dimensions"][dim] - call["dimensions"][dim] == pytest.approx(brushoffs[0]["points"])
    assert after["total"] > after["machine_total"] == call["machine_total"]
    others = {cid for cid in before["calls"] if cid != call_id}
    assert all(two["calls"][cid]["total"] == before["calls"][cid]["total"] for cid in others)


def test_daily_summary_lists_one_must_report_item_per_moment(ws):
    """Two rules of one category on the same sentence (by phrase and by sound) are one item to report."""
    db = sqlite3.connect(ws / "callaudit.db")
    call_id = db.execute("SELECT call_id FROM call_scores ORDER BY call_id").fetchone()[0]
    for i, rule in enumerate(("risk.report.sensitive", "risk.report.sensitive_heard")):
        db.execute("""INSERT INTO flags (flag_key, call_id, category, rule_id, severity, points, speaker, start, end, evidence,
                      rulepack, confidence, review_only) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)""",
                   (f"dup{i}", call_id, "risk.report", rule, "critical", 0, "customer", 5.2 + 0.1 * i, 8.0,
                    "「我要把这事发到网上去」", "x", 0.9 - 0.1 * i, 0))
    db.commit()
    config = load_config(ws / "audit.toml")
    with Store(config.database) as store:
        items = [r for r in daily_summary(config, store, DAY)["to_report"] if r["call_id"] == call_id]
    assert len(items) == 1 and items[0]["category"] == "risk.report"
