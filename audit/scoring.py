"""Score calls: rules + acoustic measures -> flags, a topic, dimension scores (0-100) and, for long calls, a cause breakdown."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass

from audit.detect.acoustic import Measures
from audit.detect.confidence import ConfidenceOptions
from audit.detect.episodes import DEFAULT_GAP, episodes
from audit.detect.moments import one_per_moment
from audit.detect.flags import CallView, Flag, applicable_rules, apply_rules, classify_topic
from audit.detect.rules import RulePack
from audit.detect.scores import dimension_scores, weighted_total
from audit.asr.transcript import AGENT, CUSTOMER, Transcript

log = logging.getLogger("audit")

LONG_CALL_S = 400.0


@dataclass(frozen=True)
class CallScore:
    call_id: str
    topic: str
    flags: tuple[Flag, ...]
    dimensions: dict[str, float]
    total: float
    long_call: dict | None
    rulepack: str
    applicable: tuple[str, ...] = ()  # rules that applied to the call (score forms: N/A items)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["flags"] = [f.to_dict() for f in self.flags]
        return d


def long_call_breakdown(transcript: Transcript, measures: Measures, flags: list[Flag], topic: str) -> dict:
    """Why is this call long (seeds/004, 2(1)): who talks, how much waiting, checks, interruptions, emotion."""
    talk = transcript.speech_time
    total_talk = max(talk.get(AGENT, 0) + talk.get(CUSTOMER, 0), 1e-9)
    cats = [f.category for f in flags]
    holds = [g for g in measures.dead_air if g[1] - g[0] >= 10]
    return {
        "duration_s": measures.duration,
        "agent_talk_share": round(talk.get(AGENT, 0) / total_talk, 2),
        "customer_talk_share": round(talk.get(CUSTOMER, 0) / total_talk, 2),
        "hold_silence_s": round(sum(b - a for a, b in measures.dead_air), 1),
        "system_checks": len(holds),
        "interruptions": cats.count("acoustic.interruption"),
        "customer_emotion": "emotion.customer" in cats,
        "topic": topic,
        "service_risk": any(c.startswith("risk.") or c == "answer.hedging" for c in cats),
    }


def score_call(
    call_id: str, transcript: Transcript, measures: Measures, pack: RulePack, weights: dict[str, float], topic_hint: str = "",
    confidence: ConfidenceOptions = ConfidenceOptions(), episode_gap: float = DEFAULT_GAP,
) -> CallScore:
    topic = classify_topic(pack, transcript.segments, topic_hint)
    view = CallView(call_id, transcript.segments, measures, topic, transcript.layout, transcript.attribution_confidence, confidence,
                    transcript.attribution_note)
    flags = one_per_moment(episodes(apply_rules(pack, view), episode_gap))
    dims = dimension_scores(flags, pack, measures.mean_logprob)
    long_call = long_call_breakdown(transcript, measures, flags, topic) if measures.duration > LONG_CALL_S else None
    return CallScore(call_id, topic, tuple(flags), dims, weighted_total(dims, weights), long_call,
                     scored_with(pack, confidence, episode_gap), tuple(applicable_rules(pack, view)))


def scored_with(pack: RulePack, confidence: ConfidenceOptions, episode_gap: float = DEFAULT_GAP) -> str:
    """What a stored score was made with: the rule pack's digest, the episode gap, and the
    review-only thresholds when they are not the defaults (changing any means rescoring)."""
    made = f"{pack.digest}+ep{episode_gap:g}"
    if confidence == ConfidenceOptions():
        return made
    import hashlib
    import json

    return made + "+" + hashlib.sha256(json.dumps(asdict(confidence), sort_keys=True).encode()).hexdigest()[:8]
