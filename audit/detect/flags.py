"""Apply a rule pack to one call (transcript + measures) and return its flags."""

from __future__ import annotations

import hashlib
import re
from dataclasses import asdict, dataclass, replace

from audit.detect.acoustic import Measures
from audit.detect.anchors import anchored, find_anchor, stretch_bounds
from audit.detect.confidence import ConfidenceOptions, asr_confidence, margin_confidence
from audit.detect.echo import echoed
from audit.detect.heard import doubts, heard_as, unheard_speech, window_bounds
from audit.detect.learned import Learned, prime
from audit.detect.rules import Rule, RulePack
from audit.detect.scope import cue_scope, firm_step_in, referral_in, said_by_someone_else, sentence_scope
from audit.asr.transcript import AGENT, CUSTOMER, Segment
from audit.text.chinese import digits_as_said
from audit.text.textmatch import Hit, Pattern, normalize, normalized_offsets


@dataclass(frozen=True)
class Flag:
    call_id: str
    category: str
    rule_id: str
    severity: str
    points: float
    speaker: str
    start: float | None
    end: float | None
    evidence: str
    confidence: float = 1.0  # how sure: ASR quality, match quality, margin over a threshold (0-1)
    review_only: bool = False  # listed for a reviewer, no points deducted (see audit/detect/confidence.py)
    hits: int = 1  # an episode: this many close hits of the rule (audit/detect/episodes.py)

    @property
    def key(self) -> str:
        """Stable across reruns (reviews hang on it): call, rule, and where in the call, to the second."""
        where = "" if self.start is None else f"{round(self.start)}"
        return hashlib.sha1(f"{self.call_id}|{self.rule_id}|{where}".encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {**asdict(self), "flag_key": self.key}


@dataclass(frozen=True)
class CallView:
    """What rules look at."""

    call_id: str
    segments: tuple[Segment, ...]
    measures: Measures
    topic: str = ""
    layout: str = "stereo"
    attribution_confidence: float | None = None  # mono: how sure the agent/customer split is
    confidence: ConfidenceOptions = ConfidenceOptions()
    attribution_note: str = ""  # mono: why the split is unsure (audit/asr/diarize.py)


def _speaker_segments(view: CallView, speaker: str) -> list[Segment]:
    return [s for s in view.segments if speaker == "any" or s.speaker == speaker]


def in_window(rule: Rule, segs: list[Segment]) -> list[Segment]:
    w = rule.window
    if not segs:
        return segs
    if w.first_seconds is not None:
        t0 = segs[0].start
        segs = [s for s in segs if s.start < t0 + w.first_seconds]
    if w.last_seconds is not None:
        t1 = segs[-1].end
        segs = [s for s in segs if s.end > t1 - w.last_seconds]
    if w.first_turns is not None:
        segs = segs[: w.first_turns]
    if w.last_turns is not None:
        segs = segs[-w.last_turns :]
    return segs


def _flag(view: CallView, rule: Rule, speaker: str, start, end, evidence: str, confidence: float = 1.0,
          review_only: bool = False) -> Flag:
    return Flag(
        view.call_id, rule.category, rule.id, rule.severity, rule.points, speaker,
        None if start is None else round(start, 2), None if end is None else round(end, 2), evidence[:300],
        round(float(confidence), 3), review_only,
    )


def _said(pattern: Pattern, segs: list[Segment]) -> tuple[Segment, str] | None:
    for s in segs:
        hit = pattern.search(s.text)
        if hit:
            return s, hit.found
    # a phrase split across two ASR segments of one speaker still counts (not across a whole
    # call joined: that makes words out of the ends of unrelated sentences)
    for a, b in zip(segs, segs[1:]):
        ended = a.text.rstrip()[-1:] in "，。！？、；,.!?;"  # Whisper closed the phrase there
        if a.speaker == b.speaker and b.start - a.end < 1.0 and not ended:
            hit = pattern.search(a.text + b.text)
            if hit:
                return a, hit.found
    return None


def _meant(learned: Learned, segs: list[Segment]) -> Segment | None:
    """The first segment whose words the classifier says mean its concept (at its flag threshold)."""
    return next((s for s in segs if learned.meant(s.text) is not None), None)


def _said_or_meant(pattern: Pattern | None, learned: Learned | None, segs: list[Segment], alone: bool = True) -> Segment | None:
    """Said in the pattern's words, or meant in other words (unless not `alone`). With a classifier, the
    pattern's words count only where the classifier does not rule the sentence out (below its `vet`
    threshold): "您说的那个小区我查一下" has 小区 in it and asks nothing."""
    if learned is None:
        found = _said(pattern, segs) if pattern is not None else None
        return found[0] if found else None
    meant = _meant(learned, segs) if alone or pattern is None else None
    if meant is not None or pattern is None:
        return meant
    for s in segs:
        if pattern.search(s.text) and learned.probability(s.text) >= learned.vet:
            return s
    return None


def applies(rule: Rule, view: CallView) -> bool:
    if rule.topics and view.topic not in rule.topics:
        return False
    # the classifier vets the `when` words; alone, one sentence it likes does not decide what a call is about
    # (gen5 g08 as heard: 热水机都是晚上开 at 0.956 made a tariff call a fault call; no labelled call of dev
    # or the blind sets needed it)
    if (rule.when is not None or rule.when_learned is not None) and _said_or_meant(
            rule.when, rule.when_learned, _speaker_segments(view, rule.when_speaker), alone=rule.when is None) is None and not (
            rule.when_agent_says is not None and _said(rule.when_agent_says, _speaker_segments(view, AGENT)) is not None):
        return False
    if rule.anchor is not None and find_anchor(rule.anchor, view.segments) is None:
        return False  # the moment the rule is about never came
    return True


def applicable_rules(pack: RulePack, view: CallView) -> list[str]:
    """The rules that applied to this call (topic and `when`; a hold rule only where the call has a
    silence that long): a score form leaves items whose rules did not apply out of the denominator."""
    longest = max((b - a for a, b in view.measures.dead_air), default=0.0)
    return [r.id for r in pack.rules if applies(r, view) and (r.type != "hold" or longest >= r.params["min_silence"])]


def scoped_hits(rule: Rule, pattern: Pattern, text: str, said_before: str = "", turn: str = "",
                found: list[Hit] | None = None, turn_after: str = "") -> list[Hit]:
    """The pattern's hits in text that count: those in a scope the rule excludes are dropped.
    `said_before`: what the other side said before (scope `repeated`); `turn`: the speaker's whole turn
    around text (scope `referred`: ASR cuts "这块不归我们管，" from "但…我们会…"); `found`: the pattern's
    hits in text, when the caller has them already; `turn_after`: what the speaker says next in the turn
    (scope `next_step`)."""
    found = pattern.hits(text) if found is None else found
    if not rule.scope or not found:
        return found
    offsets = normalized_offsets(text)
    heard_before = _as_said(said_before) if "repeated" in rule.scope else ""
    referred_turn = "referred" in rule.scope and referral_in(turn)
    keep = []
    for h in found:
        if h.end <= h.start:
            continue
        a, b = offsets[h.start], offsets[h.end - 1] + 1
        scope = cue_scope(text, a, b, h.phrase if h.how == "pinyin" else None)
        if heard_before and _NUMBER.search(_as_said(h.found)) and _as_said(h.found) in heard_before:
            scope = replace(scope, repeated=True)
        if referred_turn:
            scope = replace(scope, referred=True)
        if "next_step" in rule.scope and firm_step_in(text[b:] + turn_after):
            scope = replace(scope, next_step=True)
        if scope.any_of(rule.scope) is None:
            keep.append(h)
    return keep


_NUMBER = re.compile("[零一二三四五六七八九]{3,}")  # a number (12315), not a word the agent also used (投诉)


def _as_said(text: str) -> str:
    """As matched (no punctuation), digits as said: 12315 and 一二三一五 (and 幺二三幺五) are one number."""
    return digits_as_said(normalize(text)).replace("幺", "一")


def _turn_text(view: CallView, seg: Segment, join: float = 1.5) -> str:
    """seg with the same speaker's segments next to it (gaps under `join` s): the turn ASR cut up."""
    segs = list(view.segments)
    i = segs.index(seg)
    lo = hi = i
    while lo > 0 and segs[lo - 1].speaker == seg.speaker and segs[lo].start - segs[lo - 1].end < join:
        lo -= 1
    while hi + 1 < len(segs) and segs[hi + 1].speaker == seg.speaker and segs[hi + 1].start - segs[hi].end < join:
        hi += 1
    return "".join(s.text for s in segs[lo:hi + 1])


def _turn_after(view: CallView, seg: Segment, join: float = 1.5) -> str:
    """What the same speaker says next in seg's turn (gaps under `join` s), in time order (never the order the
    segments were handed in)."""
    segs = sorted(view.segments, key=lambda x: (x.start, x.end, x.speaker, x.text))
    i = segs.index(seg)
    out = []
    for prev, nxt in zip(segs[i:], segs[i + 1:]):
        if nxt.speaker != seg.speaker or nxt.start - prev.end >= join:
            break
        out.append(nxt.text)
    return "".join(out)


_END = "。！？!?；;"  # where a sentence ends (as audit/detect/learned.py cuts its units)
_ENDS_SENTENCE = re.compile(rf"[{_END}]\s*$")
_FIRST_SENTENCE = re.compile(rf"^[^{_END}]*[{_END}]?")
_LAST_SENTENCE = re.compile(rf"[^{_END}]*$")
_NOT_CONTENT = re.compile(r"[^\u4e00-\u9fff0-9]")
# Only a short fragment, and only the agent's: with no length limit, or for callers' sentences too, a caller's
# self-introduction diluted by what followed was lost (gen5-gen8 as heard, 2026-12-02: 6 labelled moments
# lost, 3 false alarms gone); agent fragments of <= 14 characters: gen8 0.767 -> 0.781, gen5-gen7 unchanged.
FRAGMENT_MAX = 14
CONTINUATION_CHARS = 40


def sentence_rest(text: str, after: str) -> str:
    """The rest of text's last sentence when ASR cut it at a segment's end: the next segment's text of the
    same turn up to its first sentence end (at most CONTINUATION_CHARS), or nothing when text ends one."""
    if not after or _ENDS_SENTENCE.search(text):
        return ""
    if len(_NOT_CONTENT.sub("", _LAST_SENTENCE.search(text).group(0))) > FRAGMENT_MAX:
        return ""
    return _FIRST_SENTENCE.match(after).group(0)[:CONTINUATION_CHARS]


def _read_whole(view: CallView, seg: Segment, after: str | None = None) -> str:
    """seg's text as the classifiers read an agent's: a sentence cut at the segment's end with its rest.
    `after`: what the agent says next in the turn, when the caller has it already."""
    return seg.text + sentence_rest(seg.text, _turn_after(view, seg) if after is None else after)


def _said_just_before(view: CallView, seg: Segment) -> str:
    """What the other side said before seg (a number given early is read back at the end: 我复述一遍…)."""
    return "".join(s.text for s in view.segments if s.speaker != seg.speaker and s.end <= seg.start + 0.5)


def _match_quality(hits: list[Hit]) -> float:
    """1 for a phrase written as listed (or a regex), 0.8 when it matched only by sound (pinyin)."""
    return 1.0 if any(h.how != "pinyin" for h in hits) else 0.8


def eval_match(rule: Rule, view: CallView) -> list[Flag]:
    segs = in_window(rule, _speaker_segments(view, rule.speaker))
    unless = rule.params.get("unless")
    if unless is not None and _said(unless, _speaker_segments(view, rule.params["unless_speaker"])):
        return []
    opts = view.confidence
    hits = []  # (segment, what was found, confidence, review-only)
    for s in segs:
        raw = rule.pattern.hits(s.text) if rule.pattern is not None else []
        found = []
        if raw:  # the call's context only where a cue is
            before = _said_just_before(view, s) if "repeated" in rule.scope else ""
            turn = _turn_text(view, s) if "referred" in rule.scope else ""
            after = _turn_after(view, s) if "next_step" in rule.scope else ""
            found = scoped_hits(rule, rule.pattern, s.text, before, turn, raw, after)
        if found:
            words = sorted({h.found for h in found})
            conf = _match_quality(found) * min(1.0, 0.5 + asr_confidence([s]))
            doubt = rule.learned is not None and rule.learned.probability(s.text) < rule.learned.vet
            if doubt:  # the words are there, the meaning is not ("我邻居说要打12345"): a reviewer's call
                conf = min(conf, rule.learned.review)
            hits.append((s, words, conf, doubt, ", ".join(words) + ("; 句意不像" if doubt else "")))
            continue
        # the rule's own words are here, and their scope says not now (我不是要投诉, 他说要打12345): the sentences
        # that hold them are left alone, the others still read ("一二三一五我记下了。不行我就去告房东")
        scoped_out = bool(rule.scope and raw)
        if rule.similar is not None and not scoped_out:
            sims = [h for h in rule.similar.hits(s.text) if sentence_scope(h.unit.text).any_of(rule.scope) is None]
            if sims:
                best = max(sims, key=lambda h: h.score)
                near = best.score < rule.similar.threshold + opts.similar_margin
                hits.append((s, [h.unit.text for h in sims], best.score, near, f"近似「{best.example}」{best.score:.2f}"))
                continue
        if rule.learned is not None:
            # no negation or past cues here: the classifier learned those from the bank's near misses. A
            # quote it did not learn: a third party's threat at the caller, heard without its keyword
            # (物业经理说…他就打一二三五八告我: dev23 as heard, 0.97), read from each sentence's last clause
            quotes = "reported" in rule.scope and rule.speaker == CUSTOMER
            after = _turn_after(view, s) if "next_step" in rule.scope or rule.speaker == AGENT else ""
            # an agent's short sentence that ASR cut at a segment's end is read with its rest ("那就不是您一家的问题" +
            # "是线路上的事，我马上派人"): alone, a fragment reads like a brush-off
            text = _read_whole(view, s, after) if rule.speaker == AGENT else s.text
            got = next((h for h in rule.learned.hits(text) if h.unit.start < len(s.text) and not (quotes and said_by_someone_else(h.unit.text))
                        and not (scoped_out and rule.pattern.hits(h.unit.text))
                        and not ("next_step" in rule.scope and firm_step_in(s.text[h.unit.end:] + after))), None)
            if got is not None:
                # words ASR was unsure of cannot be trusted to mean anything: a reviewer's call
                unsure = asr_confidence([s]) < opts.min_asr
                hits.append((s, [got.unit.text], got.probability, got.probability < rule.learned.flag or unsure,
                             f"判为{rule.learned.concept} {got.probability:.2f}" + ("; 转写不确定" if unsure else "")))
    distinct = {w for _, words, _, _, _ in hits for w in words}
    if len(distinct) < rule.params["min_count"]:
        return []
    return [
        _flag(view, rule, s.speaker, s.start, s.end, f"「{s.text}」 ({why})", conf, review)
        for s, _, conf, review, why in hits
    ]


def _unheard(view: CallView, speaker: str, start: float, end: float) -> tuple[float, float]:
    return unheard_speech(view.measures.activity, view.segments, speaker, start, end)


def _window_bounds(rule: Rule, view: CallView, speaker: str) -> tuple[float, float]:
    return window_bounds(rule.window, view.segments, speaker, view.measures.duration)


def eval_require(rule: Rule, view: CallView) -> list[Flag]:
    """Flag what was not said. What ASR heard poorly or only approximately is left to a reviewer."""
    speaker = rule.speaker if rule.speaker != "any" else AGENT
    at = find_anchor(rule.anchor, view.segments) if rule.anchor is not None else None
    if at is not None:  # only the stretch the anchor opens (after) or closes (before)
        segs = anchored(rule.anchor, at, list(view.segments), rule.speaker)
    else:
        segs = in_window(rule, _speaker_segments(view, rule.speaker))
    opts = view.confidence
    missing, approx = [], []
    wanted = ([(rule.description, rule.pattern)] if rule.pattern is not None or rule.learned is not None else []) + list(rule.groups)
    for name, pat in wanted:
        if pat is rule.pattern and rule.learned is not None:
            if _said_or_meant(pat, rule.learned, segs) is not None:
                continue
        elif _said(pat, segs) is not None:
            continue
        heard = heard_as(pat, segs, opts) if pat is not None else None
        missing.append(name)
        if heard is not None:
            approx.append(f"{name}≈「{heard.found}」")
    if not missing:
        return []
    said = "".join(s.text for s in segs)[:80]
    start, end = (segs[0].start, segs[-1].end) if segs else ((at.start, at.end) if at is not None else (None, None))
    w0, w1 = (stretch_bounds(rule.anchor, at, view.measures.duration) if at is not None
              else _window_bounds(rule, view, speaker))
    why_unsure = doubts(segs, _unheard(view, speaker, w0, w1), opts)
    evidence = f"缺少: {'、'.join(missing)}" + (f"; 原话「{said}」" if said else "")
    review = len(approx) == len(missing) or bool(why_unsure)
    if approx:
        evidence += f"; 读音相近: {'、'.join(approx)}"
    evidence += "".join(f"; {w}" for w in why_unsure)
    confidence = (asr_confidence(segs) if segs else 1.0) * (0.5 if review else 1.0)
    return [_flag(view, rule, speaker, start, end, evidence, confidence, review)]


def eval_hold(rule: Rule, view: CallView) -> list[Flag]:
    p = rule.params
    agent = [s for s in view.segments if s.speaker == AGENT]
    out = []
    for g0, g1 in view.measures.dead_air:
        if g1 - g0 < p["min_silence"]:
            continue
        # ASR word times and voice activity disagree by a second at times: take what overlaps the windows
        before = [s for s in agent if s.start < g0 + 0.5 and s.end >= g0 - p["before_window"]]
        after = [s for s in agent if s.end > g1 - 0.5 and s.start <= g1 + p["after_window"]]
        announced = p["before"] is not None and _said(p["before"], before) is not None
        thanked = p["after"] is not None and _said(p["after"], after) is not None
        missing = {
            "missing_before": not announced,
            "missing_after": not thanked,
            "missing_either": not (announced and thanked),
        }[p["flag_when"]]
        if missing:
            what, unsure = [], []
            opts = view.confidence
            for side, need, segs_, w0, w1 in (("静音前未说等待用语", "before", before, g0 - p["before_window"], g0 + 0.5),
                                              ("回来后未致谢等待", "after", after, g1 - 0.5, g1 + p["after_window"])):
                if p[need] is None or (announced if need == "before" else thanked):
                    continue
                if p["flag_when"] not in ("missing_either", f"missing_{need}"):
                    continue
                what.append(side)
                heard = heard_as(p[need], segs_, opts) if segs_ else None
                why = [f"读音相近「{heard.found}」"] if heard is not None else doubts(segs_, _unheard(view, AGENT, w0, w1), opts)
                unsure.append(why[0] if why else "")
            review = bool(what) and all(unsure)
            note = "; ".join(u for u in unsure if u)
            out.append(_flag(view, rule, AGENT, g0, g1, f"静音{g1 - g0:.0f}秒; {'、'.join(what)}" + (f"; {note}" if note else ""),
                             0.5 if review else 1.0, review))
    return out


def _turn_around(view: CallView, start: float, end: float, speaker: str) -> list[Segment]:
    """The speaker's segments of a stretch and its turn (within 1.5 s either side)."""
    return [s for s in view.segments if s.speaker == speaker and s.start < end + 1.5 and s.end > start - 1.5]


def _cue_in(rule: Rule, view: CallView, seg_start: float, seg_end: float, speaker: str) -> str | None:
    """Words or a similar sentence of the rule said by the speaker in this stretch (or its turn)."""
    turn = _turn_around(view, seg_start, seg_end, speaker)
    words = rule.params.get("words")
    for s in turn:
        if words is not None:
            found = scoped_hits(rule, words, s.text)
            if found:
                return "、".join(sorted({h.found for h in found}))
        if rule.similar is not None:
            best = rule.similar.best(s.text)
            if best is not None and sentence_scope(best.unit.text).any_of(rule.scope) is None:
                return f"近似「{best.example}」{best.score:.2f}"
        got = rule.learned.meant(s.text) if rule.learned is not None else None
        # the sentence that says why the caller is loud (我在工地上，得扯着嗓子说) is not itself anger
        if got is not None and not ("calm_if" in rule.params and rule.params["calm_if"].search(got.unit.text)):
            return f"判为{rule.learned.concept} {got.probability:.2f}「{got.unit.text}」"
    return None


ECHO_LOOKBACK_S = 20.0  # what the agent said this long before the caller's turn can be echoed


def _echo_in(view: CallView, start: float, end: float, speaker: str) -> str | None:
    """The speaker's turn throws the other side's words just before it back as a question."""
    turn = _turn_around(view, start, end, speaker)
    if not turn:
        return None
    before = [s.text for s in view.segments if s.speaker != speaker
              and turn[0].start - ECHO_LOOKBACK_S <= s.end <= turn[0].start + 0.5]
    found = echoed("".join(s.text for s in turn), "".join(before[-2:]))
    return f"反问重复坐席的话「{found}」" if found else None


def _turns(levels, speaker: str, join: float = 1.0) -> list[list]:
    """The speaker's level segments grouped into turns (gaps under `join` seconds)."""
    out: list[list] = []
    for lv in (x for x in levels if x.speaker == speaker):
        if out and lv.start - out[-1][-1].end < join:
            out[-1].append(lv)
        else:
            out.append([lv])
    return out


def _level_flags(rule: Rule, view: CallView) -> list[Flag]:
    """Louder than the speaker's own typical level by db_above for min_duration.

    With combine: all, a whole turn is judged, and only together with anger said in it (the
    rule's words, a similar sentence) or a voice pitch_above semitones over the speaker's
    typical pitch: a loud, calm caller is not angry."""
    p = rule.params
    spk = rule.speaker if rule.speaker != "any" else AGENT
    if p["combine"] == "all":
        groups = []
        for turn in _turns(view.measures.levels, spk):
            loud = [lv for lv in turn if lv.db_rel >= p["db_above"]]
            if loud:
                groups.append((loud, turn))
    else:
        groups = [([lv], [lv]) for lv in view.measures.levels if lv.speaker == spk and lv.db_rel >= p["db_above"]]
    # the speaker says why they are loud (我耳朵背, 我在工地上): a raised pitch alone is then no anger
    said_calm = [sg.start for sg in _speaker_segments(view, spk) if _said(p["calm_if"], [sg]) is not None] if "calm_if" in p else []
    out = []
    for loud, turn in groups:
        start, end = loud[0].start, loud[-1].end
        if sum(lv.end - lv.start for lv in loud) < p.get("min_duration", 0.0):
            continue
        peak = max(lv.db_rel for lv in loud)
        why = f"音量高于本人常态{peak:+.1f} dB"
        if p["combine"] == "all":
            cue = _cue_in(rule, view, turn[0].start, turn[-1].end, spk)
            pitches = [lv.pitch_rel for lv in turn if lv.pitch_rel is not None and lv.end - lv.start >= 0.5]
            calm = any(t <= turn[-1].end for t in said_calm)  # said before the loud turn ends
            high = "pitch_above" in p and pitches and max(pitches) >= p["pitch_above"] and not calm
            if cue is None and p.get("echo_question") and not calm:
                cue = _echo_in(view, turn[0].start, turn[-1].end, spk)
            if cue is None and not high:
                continue
            why += f", {cue}" if cue else f", 音调高{max(pitches):+.1f}半音"
        conf = margin_confidence(peak, p["db_above"], 6.0)
        # one channel for both voices: a speaker's own level is less certain, so a margin more to count
        review = view.layout == "mono" and peak < p["db_above"] + view.confidence.mono_level_margin
        text = "".join(lv.text for lv in loud)
        out.append(_flag(view, rule, spk, start, end, f"{why}「{text}」" + ("; 单声道音量仅供复核" if review else ""),
                         conf, review))
    return out


def _rate_flags(rule: Rule, view: CallView) -> list[Flag]:
    """A sustained agent stretch faster than max_cps and than above_median x the agent's own
    median (slow side only where min_cps is set)."""
    p, m = rule.params, view.measures
    med = m.agent_median_cps
    out = []
    for r in m.rates:
        if r.end - r.start < p.get("min_duration", 0.0):
            continue
        if r.cps > p.get("max_cps", float("inf")) and ("above_median" not in p or r.cps >= med * p["above_median"]):
            what, conf = "过快", margin_confidence(r.cps, p["max_cps"], 2.0)
        elif r.cps < p.get("min_cps", 0.0) and ("below_median" not in p or r.cps <= med * p["below_median"]):
            what, conf = "过慢", margin_confidence(p["min_cps"] - r.cps, 0.0, 1.0)
        else:
            continue
        out.append(_flag(view, rule, AGENT, r.start, r.end,
                         f"语速{what}: {r.cps:.1f}字/秒(本人中位{med:.1f}), 持续{r.end - r.start:.0f}秒「{r.text[:40]}」", conf))
    return out


def eval_acoustic(rule: Rule, view: CallView) -> list[Flag]:
    p, m = rule.params, view.measures
    measure = p["measure"]
    found: list[Flag] = []
    if measure == "overlap":
        for a, b in m.overlaps:
            if b - a >= p.get("min_overlap", 0.0):
                conf = margin_confidence(b - a, p.get("min_overlap", 0.0), 1.5)
                found.append(_flag(view, rule, AGENT, a, b, f"客户说话时坐席开口, 重叠{b - a:.1f}秒", conf))
    elif measure == "level":
        found = _level_flags(rule, view)
    elif measure == "speech_rate":
        found = _rate_flags(rule, view)
    if len(found) < p.get("min_count", 1):
        found = []
    words = p.get("words")
    if words is not None and p["combine"] == "all" and measure != "level":  # the words must be said too
        segs = in_window(rule, _speaker_segments(view, rule.speaker))
        return found if any(scoped_hits(rule, words, s.text) for s in segs) else []
    if words is not None and p["combine"] == "any" and not found:
        segs = in_window(rule, _speaker_segments(view, rule.speaker))
        said = [(s, h) for s in segs for h in scoped_hits(rule, words, s.text)]
        if said:
            s, _ = said[0]
            found = [_flag(view, rule, s.speaker, s.start, s.end, f"「{s.text}」 ({', '.join(sorted({h.found for _, h in said}))})")]
    return found


EVALUATORS = {"match": eval_match, "require": eval_require, "hold": eval_hold, "acoustic": eval_acoustic}


def _speakers_unsure(view: CallView) -> bool:
    """Mono calls whose speakers could not be told apart (None: too little speech to try)."""
    conf = view.attribution_confidence
    return view.layout == "mono" and (conf is None or conf < view.confidence.min_attribution)


def apply_rules(pack: RulePack, view: CallView) -> list[Flag]:
    flags: list[Flag] = []
    # the agent's cut sentences read with their rest (eval_match) are scored in the same batch
    texts = [seg.text for seg in view.segments] + [_read_whole(view, seg) for seg in view.segments if seg.speaker == AGENT]
    prime([x for r in pack.rules for x in (r.learned, r.when_learned) if x is not None], texts)
    unsure = _speakers_unsure(view)
    for rule in pack.rules:
        if applies(rule, view):
            found = EVALUATORS[rule.type](rule, view)
            if unsure and rule.speaker != "any" and rule.type != "hold":
                # who said it is a guess on this mono call: a reviewer decides
                conf = view.attribution_confidence or 0.0
                why = f"{conf:.2f}: {view.attribution_note}" if view.attribution_note else f"{conf:.2f}"
                found = [replace(f, review_only=True, confidence=round(f.confidence * conf, 3),
                                 evidence=f"{f.evidence}; 单声道说话人区分不确定({why})"[:300])
                         for f in found]
            flags += found
    # one flag per key: overlapping evidence from one rule at the same second is one finding;
    # which one stands must not depend on order: a counted one before a review-only one, then the surer
    unique: dict[str, Flag] = {}
    for f in flags:
        kept = unique.get(f.key)
        if kept is None or (not f.review_only, f.confidence) > (not kept.review_only, kept.confidence):
            unique[f.key] = f
    return sorted(unique.values(), key=lambda f: (f.start if f.start is not None else -1, f.rule_id))


def classify_topic(pack: RulePack, segments: tuple[Segment, ...], hint: str = "") -> str:
    """The topic whose keywords are said most (customer words count double: they state the reason for calling)."""
    if not pack.topics:
        return hint
    scores = {}
    for name, pat in pack.topics:
        n = 0
        for s in segments:
            n += len(pat.hits(s.text)) * (2 if s.speaker == CUSTOMER else 1)
        scores[name] = n
    best = max(scores, key=lambda k: scores[k])
    return best if scores[best] > 0 else (hint or "other")
