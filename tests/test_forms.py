"""Score forms (issue #15): N/A items leave the denominator, veto items score 0 with their reason
in every output, forms are validated and chosen by team."""

import json
import sqlite3

import pytest
from click.testing import CliRunner

from audit.cli import cli
from audit.workspace.config import load_config
from audit.errors import RuleError
from audit.detect.forms import FormItem, ScoreForm, VetoItem, form_for, parse_forms, score_form
from audit.reports.daily import daily_summary
from audit.workspace.store import Store
from tests.test_one_score import DAY, WEEK, ws  # noqa: F401 (fixture: a demo night with scripted brush-offs)

FORM = ScoreForm("t", "", (), (FormItem("开场白", 10, ("g",)), FormItem("等待用语", 10, ("h",), "when_rule")),
                 (VetoItem("服务禁语", categories=("etiquette.forbidden",)),))


def test_an_item_whose_rules_did_not_apply_leaves_the_denominator():
    lost_five = [("g", "script.greeting", 5.0)]
    assert score_form(FORM, lost_five, applicable={"g"}).total == 50.0  # hold N/A: 5 of 10
    assert score_form(FORM, lost_five, applicable={"g"}).not_applicable == ("等待用语",)
    assert score_form(FORM, lost_five, applicable={"g", "h"}).total == 75.0  # hold applied and kept: 15 of 20
    assert score_form(FORM, [], applicable=set()).total == 100.0


def test_a_veto_item_scores_the_call_zero_with_its_reason():
    fs = score_form(FORM, [("etiquette.forbidden.brushoff", "etiquette.forbidden", 10.0)], applicable={"g"})
    assert (fs.total, fs.vetoed) == (0.0, True) and fs.veto_reason == "服务禁语 (etiquette.forbidden.brushoff)"


def test_forms_are_checked_and_chosen_by_team(tmp_path):
    from audit.detect.rules import load_pack

    rule = ("rules:\n  - {id: g, category: script.greeting, dimension: 应答规范, severity: minor, points: 5,\n"
            "     description: d, type: match, speaker: agent, pattern: [你好]}\n")
    (tmp_path / "a.yaml").write_text("pack: a\n" + rule, encoding="utf-8")
    (tmp_path / "f.yaml").write_text(
        "forms:\n  one: {teams: [一班], items: [{name: 开场白, points: 10, rules: [g]}]}\n"
        "  all: {items: [{name: 开场白, points: 10, rules: [g]}]}\n", encoding="utf-8")
    pack = load_pack(tmp_path)
    assert form_for(pack.forms, "一班").name == "one" and form_for(pack.forms, "二班").name == "all"
    (tmp_path / "f.yaml").write_text("forms:\n  one: {items: [{name: 开场白, points: 10, rules: [nope]}]}\n", encoding="utf-8")
    with pytest.raises(RuleError, match="f.yaml: forms.one item 开场白: no rule nope in the pack"):
        load_pack(tmp_path)
    with pytest.raises(RuleError, match="points must be a number > 0"):
        parse_forms("x.yaml", {"one": {"items": [{"name": "a", "points": 0, "rules": ["g"]}]}})


def _outputs(ws):  # noqa: F811
    run = lambda *a: CliRunner().invoke(cli, [*a, "--config", str(ws / "audit.toml")])  # noqa: E731
    calls = {c["call_id"]: c for c in json.loads(run("score", "--date", DAY, "--json").output)}
    weekly = json.loads(run("weekly", "--week", WEEK, "--no-clips", "--json").output)["path"]
    monthly = json.loads(run("monthly", "--month", "2026-11", "--json").output)
    config = load_config(ws / "audit.toml")
    with Store(config.database) as store:
        daily = daily_summary(config, store, DAY)
    return calls, weekly, monthly, daily


def test_a_vetoed_call_is_zero_with_its_reason_in_every_output_until_the_flag_is_dismissed(ws):  # noqa: F811
    from openpyxl import load_workbook

    calls, weekly, monthly, daily = _outputs(ws)
    vetoed = {cid for cid, c in calls.items() if c["vetoed"]}
    assert vetoed and all(calls[c]["form_total"] == 0.0 and "服务禁语" in calls[c]["veto_reason"] for c in vetoed)
    assert {v["call_id"] for v in daily["vetoed"]} == vetoed
    assert "## 一票否决" in open(daily["file"], encoding="utf-8").read()
    assert monthly["vetoed_calls"] == len(vetoed) and {v["call_id"] for v in monthly["vetoed"]} == vetoed
    assert all("服务禁语" in v["reason"] for v in monthly["vetoed"] + daily["vetoed"])
    veto_sheet = load_workbook(weekly)["一票否决"]
    head = [c.value for c in veto_sheet[1]]
    listed = {r[head.index("流水号")]: r[head.index("否决原因")] for r in veto_sheet.iter_rows(min_row=2, values_only=True)}
    assert set(listed) == vetoed and all("服务禁语" in reason for reason in listed.values())
    sheet = load_workbook(weekly)["座席评分"]
    head = [c.value for c in sheet[1]]
    assert sum(r[head.index("一票否决")] for r in sheet.iter_rows(min_row=2, values_only=True)) == len(vetoed)

    # a reviewer dismisses one call's brush-offs: that call is no longer vetoed, anywhere
    call_id = sorted(vetoed)[0]
    db = sqlite3.connect(ws / "callaudit.db")
    for (key,) in db.execute("SELECT flag_key FROM flags WHERE call_id = ? AND category = 'etiquette.forbidden'", (call_id,)):
        assert CliRunner().invoke(cli, ["review", "decide", key, "dismiss", "--by", "王组长", "--config", str(ws / "audit.toml")]).exit_code == 0
    calls, weekly, monthly, daily = _outputs(ws)
    assert not calls[call_id]["vetoed"] and calls[call_id]["form_total"] > 0
    assert call_id not in {v["call_id"] for v in daily["vetoed"]} and monthly["vetoed_calls"] == len(vetoed) - 1


def test_rules_test_checks_form_examples(tmp_path):
    rule = ("rules:\n  - {id: g, category: script.greeting, dimension: 应答规范, severity: minor, points: 5,\n"
            "     description: d, type: match, speaker: agent, pattern: [你好]}\n")
    (tmp_path / "a.yaml").write_text("pack: a\n" + rule, encoding="utf-8")
    form = ("forms:\n  t:\n    items: [{name: 开场白, points: 10, rules: [g]}, {name: 等待, points: 10, rules: [g], applies: when_rule}]\n"
            "    examples:\n      - {flags: [g], applies: [], score: SCORE}\n")
    (tmp_path / "f.yaml").write_text(form.replace("SCORE", "50"), encoding="utf-8")
    ok = CliRunner().invoke(cli, ["rules", "test", str(tmp_path)])
    assert ok.exit_code == 0 and "1 passed, 0 failed" in ok.output, ok.output
    (tmp_path / "f.yaml").write_text(form.replace("SCORE", "75"), encoding="utf-8")  # as if the hold item applied
    bad = CliRunner().invoke(cli, ["rules", "test", str(tmp_path)])
    assert bad.exit_code == 1 and "form t" in bad.output and "got 50.0" in bad.output, bad.output
