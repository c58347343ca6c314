"""Does a cue count where it was said? Negation, past time, reported speech, a landmark, a settled matter,
a destination, a workplace, a referral, a number read back, a question about how it works, a firm next
step after not knowing, the media as where the caller watched something.

A keyword or a similar sentence says only that a topic came up: "我不是要投诉",
"去年我投诉过一回" and "他说要打12345告我" all contain a complaint cue, and none
is a threat by this caller now. This module reads the clause around a cue and
says which scope it is in; rules list the scopes that cancel them (`scope:`).

Clauses are cut at punctuation (Whisper's, unreliable but present) and at the
conjunctions that start a new clause in speech (但是, 可是, 结果 ...).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

SCOPES = ("negated", "past", "reported", "landmark", "settled", "destination", "workplace", "referred", "repeated", "asked",
          "next_step", "seen")

_CLAUSE_END = re.compile(r"[，。！？；、,.!?;…\s]|但是|可是|不过|结果|然后|所以|现在|这回|这次|今天")

# Negators, and what may stand between a negator and the cue it negates
# (不是要投诉, 不想去告, 没打算找领导, 也不是来找茬的).
# 冇 / 冇得 / 没得 / 莫得: southern and south-western "not, have not" (冇冒烟也冇打火: gen9 r19)
_NEGATORS = ("不是", "不可能", "不会", "不想", "不要", "不用", "不打算", "没打算", "没想", "没有", "用不着", "犯不着", "不至于", "并不", "别",
             "没", "不", "冇得", "冇", "没得", "莫得")
_BRIDGE = set("是要想会去来再用必该能真就也都还跟和给找打为了说讲你您们他她我俺这那个谁记成当算")
_MAX_BRIDGE = 5

# Past: a time word before the cue in its clause, or an experiential 过 right after it.
_PAST_BEFORE = re.compile(
    r"上次|上回|上一回|那次|那回|那一次|那一回|前几年|几年前|多年前|那年|后来|上个月|上礼拜|上星期|上周|之前|以前|早先|先前|去年|前年|前些年|那会儿|那时候|当时|早就|曾经|当初|头一回|前阵子|前几天|前两天"
)
_PAST_AFTER = re.compile(r"^(了?过|过了|过一[回次]|过两[回次]|过好几[回次]|过几[回次])")
# A place named to say where something is: "区政府后面那个城中村", "街道办旁边那栋", "镇政府对面那排楼".
_LANDMARK_AFTER = re.compile(r"^(的)?(后面|后头|后身|后边|旁边|边上|对面|斜对面|门口|门前|附近|隔壁|那边|那头|楼下|楼上|院里|"
                             r"往[东西南北]|东边|西边|南边|北边|前面|前边|那排|那栋|那条|那片|大门|跟前|一带|左边|右边)")
_NEXT_TO = re.compile(r"(紧挨着|挨着|靠着|靠近|紧邻|临近|挨近)[^，。！？]{0,2}$")  # 紧挨着街道办事处: where, not who
_GOING_TO = re.compile(r"(去|到|找|上|跑|进|奔|送|拿)[了过]?[^，。！？]{0,2}$")  # 去区政府门口坐着: a destination
# Where the caller will take it or whom they will bring in (叫电视台的记者来拍, 打电视台那个节目的热线,
# 抄一份给县里的人大代表): media or an office as pressure is an escalation (LABELS.md), not who calls.
# Not 到/上 alone: 发到网上, 上抖音 is exposure online, which is a report. Only a cue that names the media or
# an office can be a destination (not 投诉 in 我要投诉, not 发到网上 in 我要发到网上).
_TOWARD = re.compile(r"(去(?!年|世)|找|叫|喊|要(?!是)|请(?!问)|打给|打到|打|给|寄到|寄给|抄给|抄送|告到|捅到|反映到|送到|闹到|拿到)[了过]?"
                     r"(?:(?![我俺](?!们))[^，。！？]){0,10}$")
# A workplace, not who calls: someone else's job (我女儿在报社做编辑, 俺儿子在县电视台上班: a relative,
# friend or neighbour is the subject of the cue's clause), or the caller's own named in passing
# (我自己就在一个街道办上班: where they work, not the office calling on duty, which says 我是街道办的).
_PLACE_OR_MEDIA = re.compile(r"(报|台|社|媒体|记者|政府|局|委|办|代表|委员|所|中心|公司|部门|厅|院|栏目|节目)$")
_RELATIVES = ("女儿|女子|闺女|姑娘|儿子|儿媳|媳妇|女婿|老公|老婆|爱人|老伴|孩子|娃|侄子|侄女|外甥|外甥女|孙子|孙女|"
              "表哥|表姐|表妹|表弟|堂哥|堂姐|哥哥|姐姐|弟弟|妹妹|小舅子|大舅子|姐夫|妹夫|亲戚|朋友|同学|邻居|同事|老乡|他|她")
_RELATIVE_SUBJECT = re.compile(rf"({_RELATIVES})[^，。！？我俺]{{0,3}}(在|是|当|做|干|搞)[^，。！？我俺]{{0,8}}$")
_WORKS_AT = re.compile(r"在[^，。！？]{0,10}$")  # ... 在 (the cue) 上班
_WORK_AFTER = re.compile(r"^[^，。！？]{0,4}(上班|上夜班|上早班|值班|工作|打工|做事|上着班)")
# A proper referral: in the same breath the agent says where to turn and how (您可以打一二三一五找市场监管,
# 可以找街道协调) or takes it on (我帮您登记, 但…我们会…). None of the 32 brush-offs labelled in dev and
# eight sets says so; a bare "你找物业去" does not.
# The verb is left open: ASR writes 打 as 达 (您可以以达1235找市场监管部门).
_REFERRAL = re.compile(r"(可以|建议您?|麻烦您|您就)[^。！？]{0,10}(热线|电话|号码|[零一二三四五六七八九幺0-9]{3,}|"
                       r"部门|公司|局|所|中心|委员会|街道|物业|厂家|卖家|售后)|我(这边)?(也)?(可以)?(帮|给|替)您(登记|记下|记录|转|派|联系|留)|"
                       r"但[^。！？]{0,12}我们(会|可以|也会)|"
                       r"我(们)?(这边)?(会|也会|先|可以|马上)?把[^。！？]{0,12}(记一笔|记下|记录|登记|转给|转到|反映给|上报)")


# Asking how it works, not threatening: "我打那个算投诉吗？", "一二三四五是那个市长热线吧？" (not "你信不信我去投诉？")
_ASKS = re.compile(r"算|是不是|是|能不能|能|可不可以|可以|会不会|怎么|哪")
_DARES = re.compile(r"信不信|敢不敢|等着")


def _asked(text: str, c0: int, c1: int) -> bool:
    clause = text[c0:c1]
    return (text[c1:c1 + 1] in ("？", "?") and clause[-1:] in ("吗", "吧", "么", "呢") and bool(_ASKS.search(clause))
            and not _DARES.search(clause))


# Not knowing, then a firm step with a time: "具体原因我这里看不到，我不想随便给您猜。我现在就给您派一个核查工单，
# 两个工作日内回复您" is no hedge (LABELS.md; issue #22, family 3). The step is an action that takes the matter on
# (a work order, someone sent, a callback) and a time it will happen by; "我给您登记一下" without a time is not firm.
_STEP = re.compile(r"(派|安排|登记|提交|提|建|下|转|报|约)[^。！？]{0,8}(工单|单子|师傅|抢修|人员|班组|核查|检测|检修|上门|现场)|"
                   r"(回电|回复您|回您|给您回|打给您|联系您|通知您|给您打|答复您|去现场|到现场|上门)")
_WHEN = re.compile(r"[零一二三四五六七八九十两半几0-9]+ *(分钟|个?钟头|个?小时|个?工作日|天|点)(之内|以内|内|前|之前|左右|到)?|"
                   r"今天|明天|今晚|上午|下午|马上|立刻|立即|尽快|现在就|这就")
STEP_REACH = 60  # characters after the unsure sentence within the agent's turn where the step may follow


def firm_step_in(text: str) -> bool:
    """Does text (what the agent says next in the turn) hold a firm next step with a time (scope `next_step`)?"""
    return any(_STEP.search(s) and _WHEN.search(s) for s in re.split(r"(?<=[。！？])", text[:STEP_REACH]))


def referral_in(text: str) -> bool:
    """Does text say where to turn and how, or take the matter on (scope `referred`)?"""
    return bool(_REFERRAL.search(text))
_PAST_CLOSED = re.compile(r"早(就)?(了了|了结了|结了|解决了|翻篇了|过去了)|已经(解决|处理|了结)了|翻篇了|都赔了|赔完了")
# "…一个学徒叫电弧燎了手，厂里都赔了，早了结了": settled later in the same sentence, unless it turns to now first
_NOW = re.compile(r"这次|这回|现在|今天|马上|眼下|刚才|刚刚")

# Reported speech: someone else's words ("他说要告我", "物业撂话，说要打12345", "我表哥说要去告").
# A verb of saying whose speaker is not the caller (no 我 just before it) puts what follows
# in someone else's mouth, unless the cue's own clause has the caller as subject again.
_HEARSAY = re.compile(r"听.{0,6}说|据说|听说|说是")
# not 不好说 / 说不准 / 说明 / 说法 ...: those say nothing about who is speaking
_SAY = re.compile(r"(?<![不好难没别再你您说])(说|讲|劝|撂话|放话|扬言|嚷嚷|吵吵|喊着)(?!法|明|理|清|道|好|话|实话|真的|完|了算|不|得|定|准|吧|呢|啊|事)")
_OTHER_PEOPLE = "他|她|他们|她们|人家|对方"
_THIRD_SUBJECT = re.compile(rf"({_OTHER_PEOPLE})(就|要|想|还|也|都|说|得|会|非)")
# Someone else's intent earlier in the sentence: "我们老板急着要去找报社", "我爱人非要去告".
_THIRD_PARTIES = "老板|经理|物业|邻居|师傅|房东|爱人|老公|老婆|儿子|闺女|女儿|亲戚|朋友|同事|家里人|老伴|室友|舍友|同学"
_THIRD_PARTY = re.compile(f"({_THIRD_PARTIES})")
_SOMEONE_ELSE_JUST_BEFORE = re.compile(f"({_OTHER_PEOPLE}|{_THIRD_PARTIES})$")
_INTENT = re.compile(r"要|想|非|打算|说|叫|让|劝|喊")
# "我说", "我跟你说", "我刚才也说": the caller is the one saying (not "我表哥说")
# the caller as a subject again ("他说修不了，我说那就…"): not 我 as an object (让我, 告我), nor the aside
# "…他就打一二三五八我告诉你" (a turn of speech inside someone else's threat)
_CALLER_AGAIN = re.compile(r"(?<![让叫喊跟给对和替帮把被劝说诉问告])[我俺](?!告诉你)")
_I_SAY = re.compile(r"(?<![跟和对给])[我俺]们?(就|也|都|还|刚才|刚|早就|一直)?((跟|和|对|给)[^，。！？]{1,3})?(也|都|就)?$")  # not 老孙头跟我说


def reported(text_before: str, clause_prefix: str, cue: str = "") -> bool:
    """Is a cue preceded by text_before (its sentence so far) someone else's words? `cue`: the cue's own
    text, which may hold the intent ("我们老板急着要去找报社": the regex hit starts at 要)."""
    # the cue's own clause has someone else as its subject ("说我要是敢装，他就打12345告我")
    m = _THIRD_SUBJECT.search(clause_prefix)
    if m is not None and _CALLER_AGAIN.search(clause_prefix, m.start()) is None:
        return True
    hearsay = list(_HEARSAY.finditer(text_before))
    says = [m for m in _SAY.finditer(text_before) if not _I_SAY.search(text_before[: m.start()])]
    last = max([m.end() for m in hearsay + says], default=None)
    if last is not None:
        # the caller speaking for themself again after the quote ("他说要修，我要投诉"); 我 as an
        # object inside the quote ("我儿子说，让我直接打12345") does not end it
        return _CALLER_AGAIN.search(text_before, last) is None
    third = list(_THIRD_PARTY.finditer(text_before))
    if third:
        rest = (text_before + cue)[third[-1].end() :]
        return _CALLER_AGAIN.search(rest) is None and bool(_INTENT.search(rest))
    return False


@dataclass(frozen=True)
class CueScope:
    negated: bool = False
    past: bool = False
    reported: bool = False
    landmark: bool = False
    settled: bool = False  # said to be over and dealt with (早了结了, 都赔了): past, and nothing to report now
    destination: bool = False  # where the caller will take it or whom they will bring in (找记者, 打电视台的热线)
    workplace: bool = False  # a job named, not who calls (我女儿在报社上班, 我在一个街道办上班)
    referred: bool = False  # the same breath says where to turn and how, or takes it on (您可以打一二三一五找…)
    # the other side said the cue just before (the caller noting the 一二三一五 the agent gave): set from the
    # call by audit/detect/flags.py, not from the text alone
    repeated: bool = False
    asked: bool = False  # a question about how it works (我打那个算投诉吗？)
    next_step: bool = False  # a firm step with a time follows in the same turn (set by audit/detect/flags.py)
    seen: bool = False  # the media named as where the caller saw or heard something (刷短视频看到新闻说, 在快手上刷着过)

    def any_of(self, scopes: tuple[str, ...]) -> str | None:
        """The first of `scopes` this cue is in (None: it counts)."""
        for s in scopes:
            if getattr(self, s):
                return s
        return None


def clause_bounds(text: str, start: int, end: int) -> tuple[int, int]:
    """Start and end of the clause holding text[start:end]."""
    left = 0
    for m in _CLAUSE_END.finditer(text, 0, start):
        left = m.end()
    m = _CLAUSE_END.search(text, end)
    return left, (m.start() if m else len(text))


def _sentence_prefix(text: str, start: int) -> str:
    cut = max(text.rfind(ch, 0, start) for ch in "。！？!?")
    return text[cut + 1 : start]


_NOT_THE_KIND = re.compile(r"动不动就?|那种|那号|那样的?|这种")
# the negation after the thing (火星子没见着，也没冒烟; 冒烟倒是没有)
_NEGATED_AFTER = re.compile(r"^(子|儿)?(倒是|是|倒|也)?(没|冇|没有|冇得|没得)(见着|见著|看到|看见|见到|瞧见|发现|有|冒|出|起|着|著|闻到)")


# Watching, not posting: 刷短视频看到新闻说…, 在快手上刷着过…, 电视上看见了 (gen9 r09, r16); 发快手上 is not
_SEEN_BEFORE = re.compile(r"(看到|看见|刷到|刷着|刷|看|瞅见|瞧见|听到|听)(了|过)?[^，。！？发传放挂]{0,2}$|"
                          r"(有人|别人|人家)(转|发|分享)(了|过)?(个|一个|条|一条)?$")  # 群里有人转了个抖音: someone else's clip
_SEEN_AFTER = re.compile(r"^(上|里)(面)?(也)?(刷|看|瞧|瞅|听)(到|见|着)?")


def negated(prefix: str) -> bool:
    """A negator close before the cue, with only bridge words between (不是要投诉, 没打算去告)."""
    # "我这个人不是动不动就投诉的", "俺不是那号要告状的人": a kind of person the caller is not
    prefix = _NOT_THE_KIND.sub("", prefix)
    best = None
    for neg in _NEGATORS:
        i = prefix.rfind(neg)
        if i >= 0 and (best is None or i + len(neg) > best):
            best = i + len(neg)
    if best is None:
        return False
    bridge = prefix[best:]
    if "就" in bridge:  # 再不来就打一二三四五: a condition (if not ..., then ...), not a negation
        return False
    return len(bridge) <= _MAX_BRIDGE and all(ch in _BRIDGE for ch in bridge)


def _settled_later(sentence_before: str, after: str) -> bool:
    """An accident told as long ago and then as dealt with, later in the same sentence ("前些年…燎了手，厂里
    都赔了，早了结了"); not when the telling turns to now first, and not "你们说已经处理了" (a complaint) or
    "已经处理了吗" (a question)."""
    rest = re.split(r"[。！？!?]", after, maxsplit=1)[0]
    closed = _PAST_CLOSED.search(rest)
    if closed is None or not _PAST_BEFORE.search(sentence_before) or _NOW.search(rest[: closed.start()]):
        return False
    c0, c1 = clause_bounds(rest, closed.start(), closed.end())
    return not (_SAY.search(rest[c0 : closed.start()]) or re.match(r"^[^，。！？]*?(吗|么|没有)", rest[closed.end() :]))


def cue_scope(text: str, start: int, end: int, cue: str | None = None) -> CueScope:
    """Scope of the cue at text[start:end] (offsets into `text`, punctuation kept); `cue`: what it stands
    for when heard only by its sound (报设 for 报社)."""
    c0, c1 = clause_bounds(text, start, end)
    prefix = text[c0:start]
    after = text[end:c1]
    sentence = _sentence_prefix(text, start)
    past = bool(_PAST_BEFORE.search(prefix) or _PAST_AFTER.match(after) or _PAST_CLOSED.search(text[c0:c1]))
    settled = bool(_PAST_CLOSED.search(text[c0:c1])) or _settled_later(sentence, text[end:])
    landmark = (bool(_LANDMARK_AFTER.match(text[end:])) and not _GOING_TO.search(prefix)) or bool(_NEXT_TO.search(prefix))
    seen = bool(_SEEN_BEFORE.search(prefix) or _SEEN_AFTER.match(text[end:]))
    return CueScope(negated=negated(prefix) or bool(_NEGATED_AFTER.match(after)), past=past, seen=seen,
                    reported=reported(sentence, prefix, text[start:end]), landmark=landmark, settled=settled,
                    destination=bool(_PLACE_OR_MEDIA.search(cue or text[start:end]) and _TOWARD.search(prefix)), referred=referral_in(text),
                    asked=_asked(text, c0, c1),
                    workplace=bool(_RELATIVE_SUBJECT.search(prefix) or (_WORKS_AT.search(prefix) and _WORK_AFTER.match(after))))


def sentence_scope(text: str) -> CueScope:
    """Scope of a whole sentence (for similarity hits, which have no cue position):
    past or reported anywhere in it; negated when a negator opens its main clause."""
    past = bool(_PAST_BEFORE.search(text) or re.search(r"过一[回次]|过两[回次]|[了]过", text) or _PAST_CLOSED.search(text))
    say = next((m for m in _SAY.finditer(text) if not _I_SAY.search(text[: m.start()])), None)
    reported_ = bool(_HEARSAY.search(text)) or (say is not None and "我" not in text[say.end() : say.end() + 3])
    neg = bool(re.search(r"(不是|并不是|也不是|没打算|不打算|不想|不会)(要|想|来|去)?", text[:12]))
    return CueScope(negated=neg, past=past, reported=reported_)


def said_by_someone_else(sentence: str) -> bool:
    """Is a sentence's last clause in someone else's mouth (for a classifier's hit, which has no cue)?

    The last clause stands where a cue would: "物业经理撂话，说我要是敢装，他就打一二三五八告我" is the
    manager's threat, "今天再不来，我就去县里找管你们的头头当面说" is the caller's own (its 说 is the
    clause's verb, not a quote's opening)."""
    text = sentence.rstrip("，。！？；、,.!?;… ")
    start = 0
    for m in _CLAUSE_END.finditer(text):
        start = m.end()
    clause = text[start:]
    # inside the last clause a verb of saying opens a quote only right after someone else ("我儿子说要去告"),
    # not as the clause's own verb ("找管你们的头头当面说说")
    inner = [m for m in _SAY.finditer(clause) if _SOMEONE_ELSE_JUST_BEFORE.search(clause[: m.start()])]
    if not inner and _CALLER_AGAIN.search(clause):
        return False  # the caller speaks for themself in the last clause ("他说要修，我要投诉")
    end = start + inner[-1].end() if inner else start
    return reported(text[:end], clause)
