"""Review and appeal states (issue #15): legal and illegal transitions, history, three scores."""

import json
import sqlite3

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.workspace.review_states import ReviewError, next_state
from tests.test_one_score import DAY, WEEK, ws  # noqa: F401 (fixture: a demo night with scripted brush-offs)


def run(folder, *args, ok=True):
    res = CliRunner().invoke(cli, [*args, "--config", str(folder / "audit.toml")])
    assert (res.exit_code == 0) == ok, res.output
    return res.output


def scores(folder, call_id):
    (call,) = json.loads(run(folder, "score", "--call", call_id, "--json"))
    return call


def a_flag(folder, rule=None):
    """A counted flag of a rule with at most two in its call (under the rule cap of twice its points, so its points move the score)."""
    db = sqlite3.connect(folder / "callaudit.db")
    rows = db.execute("""SELECT flag_key, call_id, rule_id FROM flags WHERE review_only = 0 AND points > 0
                         GROUP BY call_id, rule_id HAVING COUNT(*) <= 2 ORDER BY call_id, rule_id""").fetchall()
    return next((k, c) for k, c, r in rows if rule is None or r == rule)


def test_state_machine_allows_the_flow_and_refuses_the_rest():
    assert next_state("k", "pending", "confirm") == "confirmed"
    assert next_state("k", "confirmed", "appeal") == "appealed"
    assert next_state("k", "appealed", "overturned") == "overturned"
    assert next_state("k", "case", "appeal") == "appealed"
    assert next_state("k", "dismissed", "confirm") == "confirmed"  # a reviewer may change their mind
    with pytest.raises(ReviewError, match="no appeal to resolve"):
        next_state("k", "confirmed", "upheld")
    with pytest.raises(ReviewError, match="only a confirmed flag"):
        next_state("k", "dismissed", "appeal")
    with pytest.raises(ReviewError, match="until the appeal is resolved"):
        next_state("k", "appealed", "dismiss")
    with pytest.raises(ReviewError, match="appeal was settled"):
        next_state("k", "overturned", "confirm")


def test_dismiss_then_appeal_overturned_gives_three_scores_and_keeps_history(ws):  # noqa: F811
    key, call_id = a_flag(ws)
    machine = scores(ws, call_id)
    assert machine["total"] == machine["reviewed_total"] == machine["machine_total"]

    # three decisions on one flag: all kept, the last one stands
    for decision in ("dismiss", "confirm", "case"):
        run(ws, "review", "decide", key, decision, "--by", "王组长", "--reason", f"听了录音 {decision}")
    history = json.loads(run(ws, "review", "history", key, "--json"))
    assert [e["action"] for e in history["history"]] == ["dismiss", "confirm", "case"]
    assert history["state"] == "case" and all(e["by"] == "王组长" and e["at"] for e in history["history"])

    run(ws, "review", "appeal", key, "--by", "1002", "--reason", "客户先骂人，我是解释不是推诿")
    appealed = scores(ws, call_id)
    assert appealed["total"] == appealed["reviewed_total"] == machine["total"]  # counts until settled
    run(ws, "review", "resolve", key, "overturned", "--by", "李主管", "--reason", "申诉成立")
    final = scores(ws, call_id)
    assert final["machine_total"] == machine["machine_total"]
    assert final["reviewed_total"] == machine["total"]  # the reviewer's decision (case) still counts it
    flag = next(f for f in final["flags"] if f["state"] == "overturned")
    assert final["total"] > final["reviewed_total"] and flag["decision"] == "case"

    # illegal now: deciding a settled flag, resolving twice; named in one clear line
    out = run(ws, "review", "decide", key, "dismiss", "--by", "王组长", ok=False)
    assert f"flag {key} is overturned" in out and "Traceback" not in out
    assert "no appeal to resolve" in run(ws, "review", "resolve", key, "upheld", "--by", "李主管", ok=False)
    assert len(json.loads(run(ws, "review", "history", key, "--json"))["history"]) == 5


def test_dismiss_moves_reviewed_and_final_together_and_appeal_needs_a_confirmed_flag(ws):  # noqa: F811
    key, call_id = a_flag(ws)
    before = scores(ws, call_id)
    run(ws, "review", "decide", key, "dismiss", "--by", "王组长")
    after = scores(ws, call_id)
    assert after["reviewed_total"] == after["total"] > before["total"] == after["machine_total"]
    out = run(ws, "review", "appeal", key, "--by", "1002", "--reason", "x", ok=False)
    assert "only a confirmed flag" in out


def test_workbook_import_goes_through_the_same_flow_and_names_refused_rows(ws):  # noqa: F811
    key, _ = a_flag(ws)
    run(ws, "review", "decide", key, "confirm", "--by", "王组长")
    run(ws, "review", "appeal", key, "--by", "1002", "--reason", "不同意")
    path = json.loads(run(ws, "weekly", "--week", WEEK, "--no-clips", "--json"))["path"]
    wb = load_workbook(path)
    sheet = wb["问题明细"]
    head = [c.value for c in sheet[1]]
    rows = {sheet.cell(r, head.index("flag_key") + 1).value: r for r in range(2, sheet.max_row + 1)}
    sheet.cell(rows[key], head.index("复核") + 1).value = "驳回"  # an appealed flag: refused
    other = next(k for k in rows if k != key)
    sheet.cell(rows[other], head.index("复核") + 1).value = "驳回"
    wb.save(path)
    out = json.loads(run(ws, "review", "import", path, "--json"))
    assert out["updated"] == 1
    assert out["skipped"] == [f"row {rows[key]}: flag {key} is appealed: a decision can no longer change until the appeal is resolved"]
    assert json.loads(run(ws, "review", "history", other, "--json"))["history"][0]["by"].startswith("workbook ")
    # importing the same workbook again adds no history
    run(ws, "review", "import", path, "--json")
    assert len(json.loads(run(ws, "review", "history", other, "--json"))["history"]) == 1


def test_queue_lists_what_waits_most_important_first(ws):  # noqa: F811
    queue = json.loads(run(ws, "review", "queue", "--date", DAY, "--json", "--limit", "0"))
    flags = queue["flags"]
    assert flags and queue["waiting"] == len(flags) and all(f["state"] == "pending" for f in flags)
    risky = [i for i, f in enumerate(flags) if f["category"] in ("risk.report", "risk.escalation")]
    assert not risky or max(risky) < min(i for i, f in enumerate(flags) if f["category"] not in ("risk.report", "risk.escalation"))
    key = flags[-1]["flag_key"]
    run(ws, "review", "decide", key, "confirm", "--by", "王组长")
    run(ws, "review", "appeal", key, "--by", "1002", "--reason", "不同意")
    again = json.loads(run(ws, "review", "queue", "--date", DAY, "--json", "--limit", "0"))
    assert again["waiting"] == len(flags)  # decided (gone) and appealed (back, for a lead)
    first_non_risk = next(f for f in again["flags"] if f["category"] not in ("risk.report", "risk.escalation"))
    assert first_non_risk["flag_key"] == key and first_non_risk["state"] == "appealed"


def test_weekly_workbook_shows_final_scores_appeals_and_overturned_counts(ws):  # noqa: F811
    key, call_id = a_flag(ws)
    agent = sqlite3.connect(ws / "callaudit.db").execute("SELECT agent_id FROM calls WHERE call_id = ?", (call_id,)).fetchone()[0]
    run(ws, "review", "decide", key, "confirm", "--by", "王组长")
    run(ws, "review", "appeal", key, "--by", agent, "--reason", "客户没听清")
    run(ws, "review", "resolve", key, "overturned", "--by", "李主管", "--reason", "录音里说了")
    path = json.loads(run(ws, "weekly", "--week", WEEK, "--no-clips", "--json"))["path"]
    wb = load_workbook(path)
    (appeal,) = [dict(zip([c.value for c in wb["申诉"][1]], r)) for r in wb["申诉"].iter_rows(min_row=2, values_only=True)]
    assert (appeal["flag_key"], appeal["状态"], appeal["申诉人"], appeal["处理人"]) == (key, "撤销", agent, "李主管")
    head = [c.value for c in wb["座席评分"][1]]
    by_agent = {str(r[head.index("工号")]): r for r in wb["座席评分"].iter_rows(min_row=2, values_only=True)}
    assert by_agent[agent][head.index("申诉撤销")] == 1
    assert sum(r[head.index("申诉撤销")] for r in by_agent.values()) == 1
    # the agent's 总分 is the mean of their calls' final totals
    calls = json.loads(run(ws, "score", "--date", DAY, "--json"))
    agent_of = dict(sqlite3.connect(ws / "callaudit.db").execute("SELECT call_id, agent_id FROM calls").fetchall())
    mine = [c["total"] for c in calls if agent_of[c["call_id"]] == agent]
    assert by_agent[agent][head.index("总分")] == pytest.approx(sum(mine) / len(mine), abs=0.051)
