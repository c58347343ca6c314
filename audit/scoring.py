"""Score calls: rules + acoustic measures -> flags, a topic, dimension scores (0-100) and, for long calls, a cause breakdown."""

from __future__ import annotations

import logging
from dataclasses import asdict, dataclass
from pathlib import Path

from audit.acoustic import Measures, measure_call
from audit.confidence import ConfidenceOptions
from audit.episodes import DEFAULT_GAP, episodes
from audit.flags import CallView, Flag, apply_rules, classify_topic
from audit.rules import RulePack, load_pack
from audit.scores import dimension_scores, weighted_total
from audit.transcript import AGENT, CUSTOMER, Transcript

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
    view = CallView(call_id, transcript.segments, measures, topic, transcript.layout, transcript.attribution_confidence, confidence)
    flags = episodes(apply_rules(pack, view), episode_gap)
    dims = dimension_scores(flags, pack, measures.mean_logprob)
    long_call = long_call_breakdown(transcript, measures, flags, topic) if measures.duration > LONG_CALL_S else None
    return CallScore(call_id, topic, tuple(flags), dims, weighted_total(dims, weights), long_call,
                     scored_with(pack, confidence, episode_gap))


def scored_with(pack: RulePack, confidence: ConfidenceOptions, episode_gap: float = DEFAULT_GAP) -> str:
    """What a stored score was made with: the rule pack's digest, the episode gap, and the
    review-only thresholds when they are not the defaults (changing any means rescoring)."""
    made = f"{pack.digest}+ep{episode_gap:g}"
    if confidence == ConfidenceOptions():
        return made
    import hashlib
    import json

    return made + "+" + hashlib.sha256(json.dumps(asdict(confidence), sort_keys=True).encode()).hexdigest()[:8]


# ---------------------------------------------------------------- nightly stage


_worker: dict = {}


def _init_scorer(pack: RulePack, weights: dict[str, float], confidence: ConfidenceOptions = ConfidenceOptions(),
                 episode_gap: float = DEFAULT_GAP) -> None:
    _worker.update(pack=pack, weights=weights, confidence=confidence, episode_gap=episode_gap)


def _score_job(job: tuple[str, str, dict, str]) -> tuple[CallScore, Measures]:
    """(call id, audio path, transcript dict, topic hint) -> score and measures; runs in a worker."""
    from audit.audio import decode
    from audit.errors import AuditError

    call_id, path, body, topic_hint = job
    transcript = Transcript.from_dict(body)
    if not transcript.segments:
        raise AuditError(f"{Path(path).name}: no speech found (silent or unusable audio); not scored")
    measures = measure_call(decode(Path(path)), transcript)
    return score_call(call_id, transcript, measures, _worker["pack"], _worker["weights"], topic_hint,
                      _worker.get("confidence", ConfidenceOptions()), _worker.get("episode_gap", DEFAULT_GAP)), measures


def score_stage(config, store, day: str, progress=None, force: bool = False):
    """Score the day's transcribed calls; a call is rescored when the rule pack changed.

    Work runs on the configured executor; results come back here, and each call's flags
    are replaced as a whole in one transaction with its score and status. Reviews live
    in their own table keyed by flag_key, so they survive rescoring.
    """
    from audit.audio import resolve_inside_root
    from audit.errors import AuditError
    from audit.executor import plan_workers, run_jobs
    from audit.pipeline import StageResult, _ticker

    rule_errors: list[str] = []
    pack = load_pack(config.rules, rule_errors)
    calls = store.sampled_calls(day)
    res = StageResult("score", total=len(calls))
    tick = _ticker(progress, "score", len(calls))

    def fail(call_id: str, message: str) -> None:
        res.failed += 1
        with store.tx():
            store.set_status(call_id, "score", "failed", message)
            store.record_problem(day, "score", call_id, message)
        tick(call_id, "failed")

    with store.tx():
        store.clear_problems(day, "score")
        store.clear_problems(day, "rules")
        for err in rule_errors:  # a broken rule file is left out of tonight's pack, and said so
            store.record_problem(day, "rules", err.split(":")[0], err)
    jobs = []
    for row in calls.itertuples(index=False):
        body = store.transcript_body(row.call_id)
        if body is None:
            res.failed += 1
            tick(row.call_id, "failed")
            continue  # transcription failed: already reported by that stage
        if not force and store.status(row.call_id, "score") == "done" and store.score_rulepack(row.call_id) == scored_with(pack, config.confidence, config.episode_gap):
            res.cached += 1
            tick(row.call_id, "cached")
            continue
        try:
            path = resolve_inside_root(config.recording_root, row.audio_path)
        except AuditError as exc:
            fail(row.call_id, str(exc))
            continue
        jobs.append((row.call_id, str(path), body, row.topic_hint or ""))

    # Worker processes pay a few seconds of imports: only worth it for a real batch.
    workers = plan_workers(config.transcribe.workers).workers if len(jobs) >= 8 else 1
    for job, result, exc in run_jobs(
        _score_job, jobs, workers, initializer=_init_scorer, initargs=(pack, config.weights, config.confidence, config.episode_gap),
        executor=config.executor, address=config.executor_address,
    ):
        call_id = job[0]
        if exc is not None:
            fail(call_id, str(exc) if isinstance(exc, (AuditError, OSError, ValueError)) else f"{type(exc).__name__}: {exc}")
            continue
        score, measures = result
        with store.tx():
            store.put_score(score, measures)
            store.set_status(call_id, "score", "done")
        res.done += 1
        tick(call_id, "done")
    return res
