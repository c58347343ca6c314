import json
import shutil
import sqlite3
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.reports.xlsx import safe_text
from audit.text.masking import mask_numbers
from tests.conftest import scripted_whisper

PHONE = "13812345678"
SAY = f"您好国家电网客服，我的电话是{PHONE}，我要投诉你们，应该是吧我估计"


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    """The demo workspace run over two weeks (scripted transcripts), with agent names and caller
    fields that try formula injection. Built once; each test gets its own copy."""
    from tests.conftest import DEMO, REPO

    demo_ws = tmp_path_factory.mktemp("reports") / "demo"
    shutil.copytree(DEMO, demo_ws, ignore=shutil.ignore_patterns("callaudit.db*", "*.lock"))
    cfg = demo_ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace('output = "../reports"', 'output = "reports"')
    cfg.write_text(text.replace('rules = "../rules"', f'rules = "{REPO / "rules"}"'), encoding="utf-8")
    with scripted_whisper([(0.5, 4.0, SAY, 1.0)]):
        _run_two_weeks(demo_ws)
    return demo_ws


@pytest.fixture
def ws(prepared, tmp_path):
    copy = tmp_path / "ws"
    shutil.copytree(prepared, copy)
    return copy


def _run_two_weeks(demo_ws):
    idx = demo_ws / "index.csv"
    text = idx.read_text(encoding="utf-8-sig").replace("张敏", "=SUM(A1:A9)").replace(",13800105688,", ",=cmd|' /C calc'!A0,")
    idx.write_text(text, encoding="utf-8-sig")
    cfg = demo_ws / "audit.toml"
    cfg.write_text(cfg.read_text(encoding="utf-8").replace("full_coverage = false", "full_coverage = true").replace("workers = 0", "workers = 1"), encoding="utf-8")
    for day in ("2026-11-12", "2026-11-13", "2026-11-19", "2026-11-20"):
        res = CliRunner().invoke(cli, ["nightly", "--date", day, "--json", "--config", str(cfg)])
        assert res.exit_code == 0, res.output


def weekly(ws, *extra):
    res = CliRunner().invoke(cli, ["weekly", "--week", "2026-W47", "--json", "--config", str(ws / "audit.toml"), *extra])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    return Path(out["path"]), out


def rows(sheet):
    it = sheet.iter_rows(values_only=True)
    head = next(it)
    return [dict(zip(head, r)) for r in it]


def test_agents_sheet_has_gaps_and_week_on_week_change(ws):
    path, out = weekly(ws)
    assert path == ws / "reports" / "2026-W47" / "scorecard-2026-W47.xlsx"
    wb = load_workbook(path)
    agents = rows(wb["座席评分"])
    assert sorted(a["工号"] for a in agents) == ["1001", "1002", "1003"]
    db = sqlite3.connect(ws / "callaudit.db")

    def mean_total(a, b, agent=None):
        q = "select avg(cs.total) from call_scores cs join calls c using(call_id) where c.day between ? and ?"
        args = [a, b]
        if agent:
            q += " and c.agent_id = ?"
            args.append(agent)
        return db.execute(q, args).fetchone()[0]

    team = mean_total("2026-11-16", "2026-11-22")
    for a in agents:
        this = mean_total("2026-11-16", "2026-11-22", a["工号"])
        last = mean_total("2026-11-09", "2026-11-15", a["工号"])
        assert a["总分"] == pytest.approx(this, abs=0.15)
        assert a["总分差距(对团队)"] == pytest.approx(this - team, abs=0.15)  # stored totals are rounded
        assert a["总分较上周"] == pytest.approx(this - last, abs=0.15)
    assert [a["排名"] for a in agents] == [1, 2, 3]
    ws_ag = wb["座席评分"]
    assert ws_ag.freeze_panes == "D2" and ws_ag.column_dimensions["B"].width >= 6
    assert ws_ag.conditional_formatting  # worst cells stand out


def test_numbers_masked_and_formulas_neutralized(ws):
    path, _ = weekly(ws)
    wb = load_workbook(path)
    for sheet in wb:
        for row in sheet.iter_rows():
            for cell in row:
                assert cell.data_type != "f", (sheet.title, cell.coordinate, cell.value)
                if isinstance(cell.value, str):
                    assert PHONE not in cell.value, (sheet.title, cell.coordinate)
    names = [a["姓名"] for a in rows(wb["座席评分"])]
    assert "'=SUM(A1:A9)" in names
    callers = [r["主叫号码"] for r in rows(wb["上报事项"])]
    assert "'=cmd|' /C calc'!A0" in callers
    assert any(c and "******" in c for c in callers)
    scored = CliRunner().invoke(cli, ["score", "--date", "2026-11-19", "--json", "--config", str(ws / "audit.toml")])
    evidence = [f["evidence"] for c in json.loads(scored.output) for f in c["flags"]]
    assert evidence and not any(PHONE in e for e in evidence)


def test_clip_links_resolve_to_clip_files_with_sidecars(ws):
    path, out = weekly(ws)
    assert out["clips"] > 0
    wb = load_workbook(path)
    links = [c.hyperlink.target for c in wb["片段索引"]["E"] if c.hyperlink]
    assert len(links) == out["clips"]
    for target in links:
        clip = path.parent / target
        assert clip.exists() and clip.stat().st_size > 1000
        side = json.loads(clip.with_suffix(".json").read_text(encoding="utf-8"))
        assert side["flag_key"] and PHONE not in json.dumps(side, ensure_ascii=False)
    detail = wb["问题明细"]
    clip_col = [c.value for c in detail[1]].index("片段") + 1
    detail_links = [row[0].hyperlink.target for row in detail.iter_rows(min_col=clip_col, max_col=clip_col) if row[0].hyperlink]
    assert set(detail_links) == set(links)


def test_review_import_changes_the_next_report_and_survives_regeneration(ws):
    path, _ = weekly(ws, "--no-clips")
    wb = load_workbook(path)
    sheet = wb["问题明细"]
    head = [c.value for c in sheet[1]]
    col = {k: head.index(k) + 1 for k in ("规则", "复核", "跟进", "工号")}
    before = {a["工号"]: a for a in rows(wb["座席评分"])}
    dismissed = 0
    for r in range(2, sheet.max_row + 1):
        rule = sheet.cell(r, col["规则"]).value
        if rule == "answer.hedging.vague":
            sheet.cell(r, col["复核"]).value = "驳回"
            dismissed += 1
        elif rule == "risk.escalation.threat":
            sheet.cell(r, col["复核"]).value = "确认"
            sheet.cell(r, col["跟进"]).value = "已回访"
    assert dismissed
    edited = path.parent / "edited.xlsx"
    wb.save(edited)
    res = CliRunner().invoke(cli, ["review", "import", str(edited), "--config", str(ws / "audit.toml")])
    assert res.exit_code == 0, res.output
    assert "reviews imported" in res.output

    for _ in range(2):  # regenerating twice keeps the reviews
        path, _ = weekly(ws, "--no-clips")
        wb = load_workbook(path)
        after = {a["工号"]: a for a in rows(wb["座席评分"])}
        for agent, a in after.items():
            assert a["问题·答复含糊"] == 0 and before[agent]["问题·答复含糊"] > 0
            assert a["答复准确"] > before[agent]["答复准确"]
        prec = {r["规则"]: r for r in rows(wb["规则精度"])}
        assert prec["answer.hedging.vague"]["驳回"] == dismissed and prec["answer.hedging.vague"]["精度(确认/已复核)"] == 0
        assert prec["risk.escalation.threat"]["精度(确认/已复核)"] == 1
        report = rows(wb["上报事项"])
        assert report and all(r["跟进状态"] == "已回访" for r in report if "escalation" in r["类别"])
        decisions = {r["复核"] for r in rows(wb["问题明细"]) if r["规则"] == "answer.hedging.vague"}
        assert decisions == {"驳回"}


def test_bad_review_values_are_reported_not_imported(ws):
    path, _ = weekly(ws, "--no-clips")
    wb = load_workbook(path)
    sheet = wb["问题明细"]
    head = [c.value for c in sheet[1]]
    sheet.cell(2, head.index("复核") + 1).value = "maybe"
    wb.save(path)
    res = CliRunner().invoke(cli, ["review", "import", str(path), "--json", "--config", str(ws / "audit.toml")])
    out = json.loads(res.output)
    assert out["updated"] == 0 and "row 2: 复核 'maybe'" in out["skipped"][0]


def test_mask_and_guard_helpers():
    assert mask_numbers("电话13812345678，户号3301567892") == "电话138******78，户号33******92"
    assert mask_numbers("身份证110101199001011234") == "身份证110101********1234"
    assert mask_numbers("户号三三零一五六七八九二") == "户号三三******九二"
    assert safe_text("=1+1") == "'=1+1" and safe_text("@x") == "'@x" and safe_text("正常") == "正常"


@pytest.mark.skipif(shutil.which("soffice") is None, reason="LibreOffice (soffice) not installed; as root scripts/ci-system-deps.sh installs it (apt-get install libreoffice-calc-nogui)")
def test_workbook_opens_in_libreoffice(ws, tmp_path):
    path, _ = weekly(ws, "--no-clips")
    subprocess.run(["soffice", "--headless", "--convert-to", "pdf", "--outdir", str(tmp_path), str(path)], check=True, timeout=180)
    assert (tmp_path / (path.stem + ".pdf")).stat().st_size > 1000
