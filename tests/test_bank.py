"""The sentence bank as data a QA lead edits: validated with the item named, trained
deterministically, versioned into every score, and taught by reviewers' decisions."""

import json
import shutil
import sqlite3
from pathlib import Path

import pytest

from audit.detect.bank import load_bank
from audit.detect.classifier import train_concept
from audit.detect.rules import DEFAULT_RULES_DIR, load_pack
from audit.errors import RuleError
from tests.test_one_score import ws  # noqa: F401 (fixture: a demo night with scripted brush-offs)
from tests.conftest import own_rules_copy
from tests.test_review_flow import run


def bank_of(ws):
    from audit.workspace.config import load_config

    return load_bank(load_config(ws / "audit.toml").rules / "bank")


@pytest.fixture
def own_rules(ws):  # noqa: F811
    """The demo workspace with its own copy of the shipped rules: reviewers write to that bank, never the repository's."""
    return own_rules_copy(ws)

TINY = """concept: {name}
speaker: agent
means: test
negative_kinds: {{referral: 正当转介}}
positive:
  - {{text: "这事不归我们管，你自己找物业去", by: t1}}
  - {{text: "我管不了，你爱找谁找谁", by: t1}}
  - {{text: "跟我说没用，你们自己商量去吧", by: t2}}
  - {{text: "那是你自己的事，别来烦我们", by: t2}}
  - {{text: "你自个儿上营业厅问去吧", by: t1}}
negative:
  - {{text: "燃气的事请拨燃气公司的电话，我也帮您记一下", kind: referral, by: t1}}
  - {{text: "请您稍等，我马上帮您查询一下", kind: referral, by: t1}}
  - {{text: "我给您派个工单，抢修班组会联系您", kind: referral, by: t2}}
  - {{text: "非常抱歉给您添麻烦了，我这就处理", kind: referral, by: t2}}
  - {{text: "根据规定交费后会自动复电，一般半小时内", kind: referral, by: t1}}
"""


def tiny_bank(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "brushoff.yaml").write_text(TINY.format(name="brushoff"), encoding="utf-8")
    return folder


def test_a_broken_bank_file_names_the_file_and_the_entry(tmp_path):
    bank = tiny_bank(tmp_path / "bank")
    text = (bank / "brushoff.yaml").read_text(encoding="utf-8")
    (bank / "brushoff.yaml").write_text(text.replace("kind: referral, by: t2}\n  - {text: \"非常", "kind: nonsense, by: t2}\n  - {text: \"非常"),
                                        encoding="utf-8")
    with pytest.raises(RuleError, match=r"bank/brushoff.yaml: negative\[2\]: kind 'nonsense'"):
        load_bank(bank)
    (bank / "brushoff.yaml").write_text(text + '  - {text: "我管不了，你爱找谁找谁", kind: referral, by: t3}\n', encoding="utf-8")
    with pytest.raises(RuleError, match="both a positive and a negative"):
        load_bank(bank)
    (bank / "brushoff.yaml").write_text("concept: brushoff\npositive: [\n", encoding="utf-8")
    with pytest.raises(RuleError, match="bank/brushoff.yaml: not valid YAML"):
        load_bank(bank)


def test_training_is_deterministic_and_the_digest_follows_the_bank(tmp_path):
    bank = load_bank(tiny_bank(tmp_path / "bank"))
    texts = ["这个你们自己去协商吧", "我帮您登记一下，稍后回电"]
    a = train_concept(bank, "brushoff").probability(texts)
    b = train_concept(bank, "brushoff").probability(texts)
    assert list(a) == list(b)
    path = tmp_path / "bank" / "brushoff.yaml"
    path.write_text(path.read_text(encoding="utf-8") + '  - {text: "您先别急，我查一下您家的情况", kind: referral, by: t3}\n', encoding="utf-8")
    assert load_bank(tmp_path / "bank").digest != bank.digest


def test_a_retrained_bank_is_a_new_pack_so_scores_are_redone(tmp_path):
    rules = tmp_path / "rules"
    shutil.copytree(DEFAULT_RULES_DIR, rules)
    before = load_pack(rules)
    assert before.bank  # the shipped pack's rules use the bank's classifiers
    path = rules / "bank" / "hedge.yaml"
    path.write_text(path.read_text(encoding="utf-8") + '  - {text: "大概三到五个工作日，最晚七个工作日", kind: range, by: t9}\n',
                    encoding="utf-8")
    after = load_pack(rules)
    assert after.bank != before.bank and after.digest != before.digest


def test_a_dismissal_sent_to_the_bank_is_a_hard_negative_once(own_rules):
    ws = own_rules
    assert bank_of(ws).folder != DEFAULT_RULES_DIR / "bank"
    db = sqlite3.connect(ws / "callaudit.db")
    key, = db.execute("SELECT flag_key FROM flags WHERE rule_id = 'etiquette.forbidden.brushoff' AND review_only = 0 "
                      "ORDER BY call_id, start LIMIT 1").fetchone()
    out = json.loads(run(ws, "review", "decide", key, "dismiss", "--by", "王组长", "--reason", "转介正当", "--to-bank", "--json"))
    assert out["state"] == "dismissed" and out["to_bank"]["concept"] == "brushoff" and not out["to_bank"]["positive"]
    text = out["to_bank"]["text"]
    bank = bank_of(ws)
    added = [s for s in bank.concepts["brushoff"].sentences if s.text == text]
    assert len(added) == 1 and not added[0].positive and added[0].by.startswith("review:王组长@")
    # the same decision sent again adds nothing; the opposite label is refused, naming the sentence
    run(ws, "review", "decide", key, "dismiss", "--by", "王组长", "--reason", "再看一遍", "--to-bank")
    assert sum(s.text == text for s in bank_of(ws).concepts["brushoff"].sentences) == 1
    refused = run(ws, "review", "decide", key, "confirm", "--by", "王组长", "--to-bank", ok=False)
    assert "already a negative" in refused


def test_a_missed_moment_goes_to_the_bank_as_a_positive(own_rules):
    ws = own_rules
    db = sqlite3.connect(ws / "callaudit.db")
    call_id, = db.execute("SELECT call_id FROM flags ORDER BY call_id LIMIT 1").fetchone()
    from audit.workspace.store import Store

    with Store(ws / "callaudit.db") as store:
        body = store.transcript_body(call_id)
    seg = next(s for s in body["segments"] if s["speaker"] == "customer")
    out = json.loads(run(ws, "review", "missed", call_id, "--at", str(seg["start"] + 0.1), "--concept", "escalation",
                         "--by", "李主管", "--json"))
    assert out["added"] and out["positive"] and out["concept"] == "escalation"
    assert any(s.text == out["text"] and s.positive for s in bank_of(ws).concepts["escalation"].sentences)
