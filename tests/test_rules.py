import textwrap

import pytest
from click.testing import CliRunner

from audit.detect.acoustic import measures_from_segments
from audit.cli import cli
from audit.errors import RuleError
from audit.detect.flags import CallView, apply_rules, classify_topic
from audit.detect.rules import DEFAULT_RULES_DIR, load_pack
from audit.text.textmatch import compile_pattern
from audit.transcribe import AGENT, CUSTOMER, Segment

BASE = """
  - id: {id}
    category: {category}
    dimension: 应答规范
    severity: minor
    points: 5
    description: test rule
"""


def pack_from(tmp_path, body: str, name="t.yaml"):
    (tmp_path / name).write_text("rules:\n" + textwrap.indent(textwrap.dedent(body), "  "), encoding="utf-8")
    return load_pack(tmp_path)


def view(*turns, levels=None, layout="stereo"):
    segs = [Segment(AGENT if spk == "A" else CUSTOMER, s, e, text) for spk, s, e, text in turns]
    return CallView("c1", tuple(segs), measures_from_segments(segs, layout, levels or {}))


# ---------------------------------------------------------------- matching


def test_pinyin_mode_matches_homophones_that_literal_mode_misses():
    literal = compile_pattern({"any": ["工号"]}, "t")
    tolerant = compile_pattern({"any": ["工号"], "pinyin": True}, "t")
    for heard in ("公号1023", "功耗1023", "工号1023"):
        assert tolerant.search(heard) is not None, heard
    assert literal.search("功耗1023") is None
    assert tolerant.search("工作1023") is None


def test_fuzzy_initials_are_folded():
    pat = compile_pattern({"any": ["稍等"], "pinyin": True}, "t")
    assert pat.search("请您烧等") is not None  # shao deng
    assert pat.search("请您少等") is not None  # shao deng, other tone


def test_pinyin_mode_does_not_match_near_words_of_another_sound():
    # same initials or same finals are not the same sound: these must stay apart
    cases = {"工号": ["公告一下", "共享单车", "工厂", "功课"], "稍等": ["少的", "烧掉", "上等"], "投诉": ["土速", "透露"]}
    for phrase, near in cases.items():
        pat = compile_pattern({"any": [phrase], "pinyin": True}, "t")
        for text in near:
            assert pat.search(text) is None, (phrase, text)
    assert compile_pattern({"any": ["投诉"], "pinyin": True}, "t").search("偷书") is not None  # tou shu: a true homophone


def test_whole_word_does_not_match_inside_a_longer_word():
    ww = compile_pattern({"any": ["电话"], "whole_word": True}, "t")
    plain = compile_pattern({"any": ["电话"]}, "t")
    for text in ("电话费交了吗", "电话号码多少"):
        assert plain.search(text) is not None and ww.search(text) is None, text


def test_regex_and_whole_word():
    pat = compile_pattern({"regex": ["[1一幺][2二][3三][9九][8八]"]}, "t")
    assert pat.search("我就打一二三九八投诉") and pat.search("打12398")
    ww = compile_pattern({"any": ["电话"], "whole_word": True}, "t")
    assert ww.search("留个电话吧") is not None


# ---------------------------------------------------------------- rule types


def test_match_rule_by_speaker_and_min_count(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="h", category="answer.hedging") + """
    type: match
    speaker: agent
    min_count: 2
    pattern: [我估计, 不太清楚]
""")
    assert apply_rules(pack, view(("A", 0, 3, "我估计是吧"))) == []
    flags = apply_rules(pack, view(("A", 0, 3, "我估计是吧"), ("A", 4, 6, "具体我也不太清楚")))
    assert [f.category for f in flags] == ["answer.hedging", "answer.hedging"]
    assert apply_rules(pack, view(("C", 0, 3, "我估计不太清楚"))) == []


def test_require_rule_with_groups_and_window(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="g", category="script.greeting") + """
    type: require
    speaker: agent
    window: {first_seconds: 10}
    all:
      问候: [您好]
      工号: {any: [工号], pinyin: true}
""")
    assert apply_rules(pack, view(("A", 1, 4, "您好，公号1023"))) == []
    late = apply_rules(pack, view(("A", 1, 4, "您好"), ("A", 20, 24, "我的工号是1023")))
    assert len(late) == 1 and "工号" in late[0].evidence


def test_require_rule_only_when_condition_is_said(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="i", category="info.collection") + """
    type: require
    speaker: agent
    when_speaker: customer
    when: [停电]
    pattern: [地址, 户号]
""")
    assert apply_rules(pack, view(("C", 0, 3, "电费怎么算"), ("A", 4, 6, "按阶梯算"))) == []
    assert len(apply_rules(pack, view(("C", 0, 3, "我家停电了"), ("A", 4, 6, "给您登记工单")))) == 1
    assert apply_rules(pack, view(("C", 0, 3, "我家停电了"), ("A", 4, 6, "请问您的户号"))) == []


def test_hold_rule_checks_phrases_around_dead_air(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="hold", category="script.hold") + """
    type: hold
    min_silence: 10
    before: [稍等]
    after: [耐心等待]
""")
    good = view(("A", 0, 4, "请您稍等"), ("A", 20, 24, "感谢您的耐心等待"))
    assert apply_rules(pack, good) == []
    no_thanks = apply_rules(pack, view(("A", 0, 4, "请您稍等"), ("A", 20, 24, "查到了")))
    assert len(no_thanks) == 1 and no_thanks[0].start == 4.0 and no_thanks[0].end == 20.0
    short_pause = view(("A", 0, 4, "好的"), ("A", 8, 10, "查到了"))
    assert apply_rules(pack, short_pause) == []


def test_acoustic_rules_on_levels_overlap_and_rate(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="loud", category="acoustic.raised_voice") + """
    type: acoustic
    measure: level
    speaker: agent
    db_above: 5
""" + BASE.format(id="over", category="acoustic.interruption") + """
    type: acoustic
    measure: overlap
    min_overlap: 0.7
""" + BASE.format(id="rate", category="acoustic.speech_rate") + """
    type: acoustic
    measure: speech_rate
    max_cps: 6
    min_duration: 5
""")
    v = view(("C", 0, 10, "客户说了很长一段话"), ("A", 8.5, 12, "我不是说了吗"), ("A", 20, 26, "快" * 48), levels={1: 8.0})
    cats = sorted(f.category for f in apply_rules(pack, v))
    assert cats == ["acoustic.interruption", "acoustic.raised_voice", "acoustic.speech_rate"]
    calm = view(("C", 0, 10, "客户说话"), ("A", 10.5, 12, "好的"), ("A", 20, 26, "慢" * 20), levels={1: 1.0})
    assert apply_rules(pack, calm) == []


def test_interruptions_not_measured_on_mono(tmp_path):
    pack = pack_from(tmp_path, BASE.format(id="over", category="acoustic.interruption") + """
    type: acoustic
    measure: overlap
""")
    assert apply_rules(pack, view(("C", 0, 10, "话"), ("A", 8, 12, "抢话"), layout="mono")) == []


# ---------------------------------------------------------------- rule-file errors


@pytest.mark.parametrize(
    "body, message",
    [
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: nope\n", r"t.yaml: rule x: 'type' must be one of"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    description: d\n    type: match\n    pattern: [a]\n", r"t.yaml: rule x: missing 'points'"),
        ("  - id: x\n    category: c\n    dimension: 美观\n    points: 1\n    description: d\n    type: match\n    pattern: [a]\n", r"rule x: 'dimension' must be one of"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: match\n    pattern: {regex: ['([']}\n", r"rule x.pattern.regex: '\(\[' is not a valid regular expression"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: match\n    patern: [a]\n", r"rule x: unknown fields \['patern'\]"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: -3\n    description: d\n    type: match\n    pattern: [a]\n", r"'points' must be >= 0"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: hold\n    after: [a]\n", r"flag_when missing_either needs 'before'"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: acoustic\n    measure: level\n    db_above: 6\n    calm_if: [嗓门大]\n",
         r"rule x: calm_if says when a raised pitch alone does not count, so it needs pitch_above"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: acoustic\n    measure: level\n    db_above: 6\n    echo_question: yes please\n",
         r"rule x: echo_question must be true or false"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: acoustic\n    measure: level\n    db_above: 6\n    echo_question: true\n",
         r"rule x: echo_question works with measure level and combine all only"),
        ("  - id: x\n    category: c\n    dimension: 应答规范\n    points: 1\n    description: d\n    type: match\n    pattern: [a]\n    scope: [landmarks]\n",
         r"'scope' must list some of negated, past, reported, landmark, settled"),
    ],
)
def test_invalid_rule_files_name_file_rule_and_field(tmp_path, body, message):
    (tmp_path / "t.yaml").write_text("rules:\n" + body, encoding="utf-8")
    with pytest.raises(RuleError, match=message):
        load_pack(tmp_path)


def test_broken_yaml_and_duplicate_ids(tmp_path):
    (tmp_path / "a.yaml").write_text("rules: [\n", encoding="utf-8")
    with pytest.raises(RuleError, match="a.yaml: not valid YAML"):
        load_pack(tmp_path)
    (tmp_path / "a.yaml").write_text("rules:\n" + BASE.format(id="same", category="c") + "    type: match\n    pattern: [x]\n", encoding="utf-8")
    (tmp_path / "b.yaml").write_text("rules:\n" + BASE.format(id="same", category="c") + "    type: match\n    pattern: [y]\n", encoding="utf-8")
    with pytest.raises(RuleError, match="b.yaml: rule same: id already used in a.yaml"):
        load_pack(tmp_path)


# ---------------------------------------------------------------- the shipped pack


FLAG_CONTRACT = {
    "script.greeting", "script.closing", "script.hold", "etiquette.forbidden", "answer.hedging", "info.collection",
    "risk.escalation", "risk.report", "emotion.customer", "acoustic.silence", "acoustic.speech_rate",
    "acoustic.interruption", "acoustic.raised_voice",
}


def test_default_pack_covers_the_flag_contract_and_its_examples_pass():
    pack = load_pack(DEFAULT_RULES_DIR)
    assert FLAG_CONTRACT <= {r.category for r in pack.rules}
    res = CliRunner().invoke(cli, ["rules", "test", str(DEFAULT_RULES_DIR)])
    assert res.exit_code == 0, res.output
    assert res.output.strip().endswith("0 failed")


def test_rules_test_fails_on_a_wrong_example(tmp_path):
    pack_from(tmp_path, BASE.format(id="x", category="c") + """
    type: match
    pattern: [禁语]
    examples:
      flag: ["这句话没有那个词"]
""")
    res = CliRunner().invoke(cli, ["rules", "test", str(tmp_path)])
    assert res.exit_code == 1 and "FAIL x [flag] 这句话没有那个词" in res.output


def test_topic_classification():
    pack = load_pack(DEFAULT_RULES_DIR)
    segs = (Segment(CUSTOMER, 0, 3, "我家突然停电了，整栋楼都没电"), Segment(AGENT, 4, 6, "抢修人员已经到达现场"))
    assert classify_topic(pack, segs) == "outage"


def test_category_display_names_come_from_the_rule_files(tmp_path):
    from audit.detect.rules import load_pack

    (tmp_path / "a.yaml").write_text(
        "pack: a\ncategories:\n  script.greeting: 开头语\nrules:\n"
        "  - {id: g, category: script.greeting, dimension: 应答规范, severity: minor, points: 1, description: d,\n"
        "     type: match, speaker: agent, pattern: [你好]}\n", encoding="utf-8")
    pack = load_pack(tmp_path)
    assert pack.category_name("script.greeting") == "开头语" and pack.category_name("risk.report") == "risk.report"
    (tmp_path / "b.yaml").write_text("pack: b\ncategories:\n  script.greeting: 开场白\n", encoding="utf-8")
    with pytest.raises(RuleError, match="categories.script.greeting: named '开场白' here and '开头语'"):
        load_pack(tmp_path)


ANCHORED = """pack: t
rules:
  - id: hold.result
    category: script.hold
    dimension: 应答规范
    severity: minor
    points: 3
    description: 等待回来后须告知查询结果
    type: require
    speaker: agent
    after: {cue: [感谢您的耐心等待, 让您久等了], speaker: agent, within_turns: 1}
    pattern: [查到, 显示, 结果是]
    examples:
      flag:
        - ["A 0-3 请您稍等。", "A 25-28 感谢您的耐心等待，嗯，您还有别的问题吗？"]
        - ["A 0-3 请您稍等。", "A 25-28 让您久等了。", "C 29-30 怎么样？", "A 31-34 这个要等通知。", "A 35-36 系统显示已经修好了。"]
      ok:
        - ["A 0-3 请您稍等。", "A 25-28 感谢您的耐心等待，系统显示您家的电费已经交上了。"]
        - ["A 0-3 请您稍等。", "A 25-28 让您久等了。", "A 28.5-30 查到了，是线路检修。"]
        - ["A 0-3 我给您登记一下，您还有别的问题吗？"]
"""


def test_anchor_relative_rule_examples_pass_and_no_anchor_means_not_applicable(tmp_path):
    from audit.detect.flags import CallView, applicable_rules, apply_rules
    from audit.detect.rules import load_pack

    (tmp_path / "t.yaml").write_text(ANCHORED, encoding="utf-8")
    res = CliRunner().invoke(cli, ["rules", "test", str(tmp_path)])
    assert res.exit_code == 0 and "5 passed, 0 failed" in res.output, res.output
    pack = load_pack(tmp_path)
    # the result given in a later turn than the first after the anchor: flagged, at the anchor
    segs = (Segment(AGENT, 0, 3, "请您稍等。"), Segment(AGENT, 25, 28, "让您久等了。"), Segment(CUSTOMER, 29, 30, "怎么样？"),
            Segment(AGENT, 31, 34, "系统显示已经修好了。"))
    view = CallView("c", segs, measures_from_segments(list(segs)))
    (flag,) = apply_rules(pack, view)
    assert flag.start == 25 and applicable_rules(pack, view) == ["hold.result"]
    no_hold = (Segment(AGENT, 0, 3, "我给您登记一下。"),)
    assert applicable_rules(pack, CallView("c", no_hold, measures_from_segments(list(no_hold)))) == []


def test_anchor_fields_are_checked(tmp_path):
    from audit.detect.rules import load_pack

    (tmp_path / "t.yaml").write_text(ANCHORED.replace("within_turns: 1", "within_turns: 0"), encoding="utf-8")
    with pytest.raises(RuleError, match="after.within_turns: must be a whole number >= 1"):
        load_pack(tmp_path)
