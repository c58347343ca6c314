"""The agent's words thrown back as a question (audit/detect/echo.py), and the anger rule's use of it."""

import pytest

from audit.detect.echo import echoed
from audit.detect.flags import apply_rules
from audit.detect.rules import DEFAULT_RULES_DIR, RulePack, load_pack
from audit.detect.ruletest import example_view


@pytest.fixture(scope="module")
def pack():
    return load_pack(DEFAULT_RULES_DIR)


@pytest.mark.parametrize("turn, agent", [
    ("明天？我这一屋子车，客户下午五点就来提，你跟我说明天？", "抢修预计明天上午完成。"),
    ("你叫我去找房东？我一单一单在外面跑，饭都没吃上一口。", "这个电费的事您得去找房东。"),
    ("不一定？老人家八十七了，喘起来是要命的事情！", "这个不一定，要看现场抢修的进度。"),
    # the agent's words listed back, mocking, with no question mark of their own
    ("估计吧，差不多吧，再观察观察，两个礼拜了就给我这几句话，我厂里的机器还转不转了", "估计是线路老化吧，差不多下周能排上，您再观察观察。"),
])
def test_an_echo_of_the_agent_that_goes_on_is_found(turn, agent):
    assert echoed(turn, agent)


@pytest.mark.parametrize("turn, agent", [
    ("明天中午？好的好的。", "预计明天中午前恢复。"),  # a confirmation stops there
    ("什么时候能来电？我这一屋子车，客户下午五点就来提。", "抢修预计明天上午完成。"),  # a question of its own
    ("明天？我这一屋子车，客户下午五点就来提。", ""),  # nothing said before
    # an address read back is numbers; two words of the agent's is no list
    ("幸福路，十二号，三单元，对对对，你们快点来吧我家老人等着呢", "您家是幸福路十二号三单元对吧？"),
    ("下个月，好的，那我再等一等看吧，谢谢你啊姑娘", "大概下个月会一起打过来，您再等一等看。"),
])
def test_a_confirmation_or_a_question_of_ones_own_is_no_echo(turn, agent):
    assert echoed(turn, agent) is None


def test_a_loud_echo_is_anger_but_not_after_calm_if_or_said_quietly(pack):
    rule = pack.by_id["emotion.customer.angry"]
    alone = RulePack((rule,), pack.topics, pack.digest)
    ask, answer = "C 0-4 +0 我想问一下什么时候来电。", "A 5-9 +0 线路要更换，大概得三天。"
    echo = "三天？我那二十箱苗子三天就全蔫了，我一家老小靠这个吃饭。"  # the classifier alone: 0.49

    def anger(*turns):
        return [f for f in apply_rules(alone, example_view(rule, list(turns))) if not f.review_only]

    found = anger(ask, answer, f"C 10-16 +8 {echo}")
    assert found and "反问" in found[0].evidence
    assert anger("C 0-4 +0 我耳朵背，说话声音大，你别介意。", answer, f"C 10-16 +8 {echo}") == []
    assert anger(ask, answer, f"C 10-16 +0 {echo}") == []


def test_a_scammer_called_a_scammer_is_no_abuse_of_the_agent(pack):
    rule = pack.by_id["emotion.customer.abuse"]
    alone = RulePack((rule,), pack.topics, pack.digest)

    def abuse(said):
        return [f for f in apply_rules(alone, example_view(rule, said)) if not f.review_only]

    assert abuse("你们这帮骗子，电费收了又不来电！")
    assert abuse("那就是骗子啦？我就觉得那条短信怪怪的。") == []
    assert abuse("那这骗子咋知道俺是哪个村的？") == []
