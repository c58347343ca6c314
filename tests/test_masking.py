"""Personal numbers are masked in every form ASR writes them; agent IDs, amounts and dates stay readable."""

import dataclasses
import json
import re
import shutil

import pytest
from click.testing import CliRunner
from openpyxl import load_workbook

from audit.cli import cli
from audit.text.masking import mask_numbers, mask_texts
from tests.conftest import scripted_whisper

_TO_ARABIC = str.maketrans("零〇一二两三四五六七八九幺", "0012234567891")


def readable(text: str) -> str:
    """The digits a reader can still make out: spoken digits as Arabic, separators gone."""
    return re.sub(r"[\s,，.\-]", "", text.translate(_TO_ARABIC))


# (text, hidden digits that must not be readable in any form afterwards)
PERSONAL = [
    ("电话13812345678", "123456"),
    ("电话138 1234 5678", "123456"),
    ("电话138-1234-5678", "123456"),
    ("电话138.1234.5678", "123456"),
    ("座机0571-8765 4321", "718765"),
    ("座机87654321", "6543"),
    ("电话一三八一二三四五六七八", "123456"),
    ("电话幺三八幺二三四五六七八", "123456"),
    ("电话两三八一二三四五六七八", "123456"),
    ("电话138一二三四5678", "123456"),
    ("电话一三八1234五六七八", "123456"),
    ("电话是1 3 8, 1 2 3 4, 5 6 7 8好的", "123456"),
    ("电话是一三八，一二三四，五六七八", "123456"),
    ("户号3301567892", "015678"),
    ("户号 330 156 789 212", "01567892"),
    ("户号三三零一五六七八九二", "015678"),
    ("身份证110101199001011234", "19900101"),
    ("身份证11010119900101123X", "19900101"),
    ("身份证11010119900101123x号", "19900101"),
    ("身份证 110101 19900101 123X", "19900101"),
    ("身份证幺幺零幺零幺幺九九零零幺零幺幺二三叉", "19900101"),
]


@pytest.mark.parametrize("text, hidden", PERSONAL)
def test_every_form_of_a_personal_number_is_masked(text, hidden):
    out = mask_numbers(text)
    assert "*" in out and hidden not in readable(out), out
    assert len(out) == len(text)  # stars replace characters one for one
    assert len(hidden) >= 4 and hidden[:4] not in readable(out), out


def test_mask_style_keeps_a_few_leading_and_trailing_digits():
    assert mask_numbers("电话13812345678，户号3301567892") == "电话138******78，户号33******92"
    assert mask_numbers("身份证110101199001011234") == "身份证110101********1234"
    assert mask_numbers("身份证11010119900101123X") == "身份证110101********123X"
    assert mask_numbers("户号三三零一五六七八九二") == "户号三三******九二"
    assert mask_numbers("138 1234 5678") == "138 **** **78"
    assert mask_numbers("138-1234-5678") == "138-****-**78"
    assert mask_numbers("一三八一二三四五六七八") == "一三八******七八"
    assert mask_numbers("138一二三四5678") == "138******78"
    assert mask_numbers("1 3 8, 1 2 3 4, 5 6 7 8") == "1 3 8, * * * *, * * 7 8"


@pytest.mark.parametrize("text", [
    "您好，工号2865为您服务", "您好，工号二八六五为您服务", "您好，我的工号是 1 3 5 9，请讲", "工号：幺三五九", "编号 123456",
    "本月用电286度，电费142块9毛8", "欠费1,286.50元", "读数12345.6度", "电费一百四十二元", "三个月", "二十万",
    "2026-11-12 10:30:45 来电", "2026/11/12", "11月12号下午3点", "二零二六年十一月十二日", "第3条第5款", "请稍等1分钟",
])
def test_short_numbers_agent_ids_amounts_and_dates_stay_readable(text):
    assert mask_numbers(text) == text


def test_agent_id_stays_readable_next_to_a_masked_number():
    assert mask_numbers("工号2865，您的电话138 1234 5678对吗") == "工号2865，您的电话138 **** **78对吗"
    assert mask_numbers("工号2865 138 1234 5678") == "工号2865 138 **** **78"
    assert mask_numbers("编号3301567892") == "编号33******92"  # 7+ digits after 编号: not an agent ID
    assert mask_numbers("13812345678一下") == "138******78一下"


def test_number_split_across_segments_is_masked():
    texts = ["我的电话是138 1234", "5678，好的", "工号2865"]
    out = mask_texts(texts)
    assert [len(t) for t in out] == [len(t) for t in texts]
    assert "1234" not in readable(" ".join(out)) and out[2] == "工号2865"


def test_empty_and_plain_text_unchanged():
    assert mask_numbers("") == "" and mask_numbers(None) is None
    assert mask_numbers("您好国家电网客服") == "您好国家电网客服"


# ---- end to end: workbook, clip sidecars, daily summary ---------------------------------------

GROUPED, SPOKEN, ID_X = "139 8765 4321", "一五九二四六八一三五七", "11010519851203567X"
HIDDEN = ("876543", "8765", "246813", "2468", "19851203")
SAY1 = f"您好国家电网客服，我的电话是{GROUPED}，我要投诉你们"
SAY2 = f"备用号码{SPOKEN}，身份证{ID_X}，应该是吧我估计"
DAY = "2026-11-19"


LINES = [(0.5, 4.0, SAY1, 1.0), (4.2, 8.0, SAY2, 1.0)]


def assert_masked(text: str, where: str):
    seen = readable(text)
    for hidden in HIDDEN:
        assert hidden not in seen, (where, hidden)
    assert "98765" not in seen and "5120356" not in seen, where


@pytest.fixture(scope="module")
def night(tmp_path_factory):
    """One scripted night of the demo workspace: every call says the three numbers."""
    from tests.conftest import DEMO, REPO

    ws = tmp_path_factory.mktemp("masking") / "demo"
    shutil.copytree(DEMO, ws, ignore=shutil.ignore_patterns("callaudit.db*", "*.lock"))
    cfg = ws / "audit.toml"
    text = cfg.read_text(encoding="utf-8").replace('output = "../reports"', 'output = "reports"')
    text = text.replace('rules = "../rules"', f'rules = "{REPO / "rules"}"').replace("workers = 0", "workers = 1")
    cfg.write_text(text, encoding="utf-8")
    with scripted_whisper(LINES):
        res = CliRunner().invoke(cli, ["nightly", "--date", DAY, "--json", "--config", str(cfg)])
    assert res.exit_code == 0, res.output
    return ws, json.loads(res.output)


def test_numbers_masked_in_workbook_clips_and_daily_summary(night):
    ws, summary = night
    cfg = str(ws / "audit.toml")
    # daily summary: the dict and its markdown
    assert summary["to_report"], "the scripted complaint should be a must-report item"
    assert_masked(json.dumps(summary, ensure_ascii=False), "daily summary dict")
    md = (ws / "reports" / "daily" / f"daily-{DAY}.md").read_text(encoding="utf-8")
    assert "*" in md
    assert_masked(md, "daily summary markdown")

    res = CliRunner().invoke(cli, ["weekly", "--week", "2026-W47", "--json", "--config", cfg])
    assert res.exit_code == 0, res.output
    out = json.loads(res.output)
    wb = load_workbook(out["path"])
    evidence = []
    for sheet in wb:
        for row in sheet.iter_rows(values_only=True):
            for value in row:
                if isinstance(value, str):
                    assert_masked(value, sheet.title)
                    evidence.append(value)
    assert any("139 **** **21" in v for v in evidence)

    assert out["clips"] > 0
    sidecars = list((ws / "reports" / "2026-W47" / "clips").rglob("*.json"))
    assert sidecars
    texts = []
    for side in sidecars:
        body = json.loads(side.read_text(encoding="utf-8"))
        assert body["masking"]
        assert_masked(json.dumps(body, ensure_ascii=False), side.name)
        texts += [s["text"] for s in body["transcript"]]
    joined = "".join(texts)
    assert "139 **** **21" in joined and "一五九******五七" in joined and "110105********567X" in joined


def test_mask_pii_false_leaves_the_daily_summary_readable(night):
    from audit.workspace.config import load_config
    from audit.reports.daily import daily_summary
    from audit.workspace.store import Store

    ws, _ = night
    config = dataclasses.replace(load_config(ws / "audit.toml"), mask_pii=False, output=ws / "unmasked")
    with Store(config.database) as store:
        summary = daily_summary(config, store, DAY)
    assert any(GROUPED in r["evidence"] or SPOKEN in r["evidence"] for r in summary["to_report"])
