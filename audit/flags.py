"""Apply a rule pack to one call (transcript + measures) and return its flags."""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass

from audit.acoustic import Measures
from audit.rules import Rule, RulePack
from audit.transcript import AGENT, CUSTOMER, Segment
from audit.textmatch import Pattern


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


def _flag(view: CallView, rule: Rule, speaker: str, start, end, evidence: str) -> Flag:
    return Flag(
        view.call_id, rule.category, rule.id, rule.severity, rule.points, speaker,
        None if start is None else round(start, 2), None if end is None else round(end, 2), evidence[:300],
    )


def _said(pattern: Pattern, segs: list[Segment]) -> tuple[Segment, str] | None:
    for s in segs:
        hit = pattern.search(s.text)
        if hit:
            return s, hit.found
    # a phrase split across two ASR segments still counts
    joined = "".join(s.text for s in segs)
    hit = pattern.search(joined)
    return (segs[0], hit.found) if hit else None


def applies(rule: Rule, view: CallView) -> bool:
    if rule.topics and view.topic not in rule.topics:
        return False
    if rule.when is not None and _said(rule.when, _speaker_segments(view, rule.when_speaker)) is None:
        return False
    return True


def eval_match(rule: Rule, view: CallView) -> list[Flag]:
    segs = in_window(rule, _speaker_segments(view, rule.speaker))
    unless = rule.params.get("unless")
    if unless is not None and _said(unless, _speaker_segments(view, rule.params["unless_speaker"])):
        return []
    hits = []
    for s in segs:
        found = rule.pattern.hits(s.text)
        if found:
            hits.append((s, found))
    distinct = {h.found for _, found in hits for h in found}
    if len(distinct) < rule.params["min_count"]:
        return []
    return [
        _flag(view, rule, s.speaker, s.start, s.end, f"「{s.text}」 ({', '.join(sorted({h.found for h in found}))})")
        for s, found in hits
    ]


def eval_require(rule: Rule, view: CallView) -> list[Flag]:
    segs = in_window(rule, _speaker_segments(view, rule.speaker))
    missing = []
    if rule.pattern is not None and _said(rule.pattern, segs) is None:
        missing.append(rule.description)
    missing += [name for name, pat in rule.groups if _said(pat, segs) is None]
    if not missing:
        return []
    said = "".join(s.text for s in segs)[:80]
    start, end = (segs[0].start, segs[-1].end) if segs else (None, None)
    speaker = rule.speaker if rule.speaker != "any" else AGENT
    return [_flag(view, rule, speaker, start, end, f"缺少: {'、'.join(missing)}" + (f"; 原话「{said}」" if said else ""))]


def eval_hold(rule: Rule, view: CallView) -> list[Flag]:
    p = rule.params
    agent = [s for s in view.segments if s.speaker == AGENT]
    out = []
    for g0, g1 in view.measures.dead_air:
        if g1 - g0 < p["min_silence"]:
            continue
        before = [s for s in agent if s.end <= g0 + 0.5 and s.end >= g0 - p["before_window"]]
        after = [s for s in agent if s.start >= g1 - 0.5 and s.start <= g1 + p["after_window"]]
        announced = p["before"] is not None and _said(p["before"], before) is not None
        thanked = p["after"] is not None and _said(p["after"], after) is not None
        missing = {
            "missing_before": not announced,
            "missing_after": not thanked,
            "missing_either": not (announced and thanked),
        }[p["flag_when"]]
        if missing:
            what = []
            if p["before"] is not None and not announced:
                what.append("静音前未说等待用语")
            if p["after"] is not None and not thanked:
                what.append("回来后未致谢等待")
            out.append(_flag(view, rule, AGENT, g0, g1, f"静音{g1 - g0:.0f}秒; {'、'.join(what)}"))
    return out


def eval_acoustic(rule: Rule, view: CallView) -> list[Flag]:
    p, m = rule.params, view.measures
    measure = p["measure"]
    found: list[Flag] = []
    if measure == "overlap":
        for a, b in m.overlaps:
            if b - a >= p.get("min_overlap", 0.0):
                found.append(_flag(view, rule, AGENT, a, b, f"客户说话时坐席开口, 重叠{b - a:.1f}秒"))
    elif measure == "level":
        spk = rule.speaker if rule.speaker != "any" else AGENT
        for lv in m.levels:
            if lv.speaker == spk and lv.db_rel >= p["db_above"] and lv.end - lv.start >= p.get("min_duration", 0.0):
                found.append(_flag(view, rule, spk, lv.start, lv.end, f"音量高于本人基线{lv.db_rel:+.1f} dB「{lv.text}」"))
    elif measure == "speech_rate":
        for r in m.rates:
            if r.end - r.start < p.get("min_duration", 0.0):
                continue
            if r.cps > p.get("max_cps", float("inf")):
                what = "过快"
            elif r.cps < p.get("min_cps", 0.0):
                what = "过慢"
            else:
                continue
            found.append(_flag(view, rule, AGENT, r.start, r.end, f"语速{what}: {r.cps:.1f}字/秒, 持续{r.end - r.start:.0f}秒「{r.text[:40]}」"))
    if len(found) < p.get("min_count", 1):
        found = []
    words = p.get("words")
    if words is not None:
        segs = in_window(rule, _speaker_segments(view, rule.speaker))
        said = [(s, h) for s in segs for h in words.hits(s.text)]
        if p["combine"] == "all":
            return found if said else []
        if not found and said:
            s, _ = said[0]
            found = [_flag(view, rule, s.speaker, s.start, s.end, f"「{s.text}」 ({', '.join(sorted({h.found for _, h in said}))})")]
    return found


EVALUATORS = {"match": eval_match, "require": eval_require, "hold": eval_hold, "acoustic": eval_acoustic}


def apply_rules(pack: RulePack, view: CallView) -> list[Flag]:
    flags: list[Flag] = []
    for rule in pack.rules:
        if applies(rule, view):
            flags += EVALUATORS[rule.type](rule, view)
    # one flag per key: overlapping evidence from one rule at the same second is one finding
    unique = {f.key: f for f in flags}
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
