"""The per-call stages of a night (transcribe, measure, score) and the one runner they share.

A stage is three functions: `prepare` looks at one sampled call and says whether it is already
done, cannot be done (and why), or is a job; `work` does a job in a worker (local process pool
or Ray, never touching the store); `save` commits one result. The runner owns everything else
the same way for every stage: the executor, progress ticks, per-call status, problems recorded
for the day, and resume (a result is committed as it arrives, so a killed run loses only the
calls in flight).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from audit.workspace.config import Config
from audit.errors import AuditError
from audit.workspace.store import Store

log = logging.getLogger("audit")


@dataclass
class StageResult:
    stage: str
    total: int = 0
    done: int = 0  # worked on in this run
    cached: int = 0  # already done (earlier run, or same audio already transcribed)
    failed: int = 0

    def summary(self) -> dict:
        return {"total": self.total, "done": self.done, "cached": self.cached, "failed": self.failed}


@dataclass(frozen=True)
class Job:
    key: str  # calls with the same key share one job (the same recording under two call ids)
    payload: tuple  # what `work` gets; payload[0] is the key


@dataclass(frozen=True)
class Skip:
    """A call that needs no work: done before (`message` None), or not doable (`message` says why)."""

    message: str | None = None
    record: bool = True  # False: an earlier stage already reported this call's problem (status only)


@dataclass
class Stage:
    name: str
    prepare: Callable[[Store, Any], Job | Skip]  # (store, sampled call row) -> a job or a skip
    work: Callable[[tuple], Any]  # payload -> result; top-level, runs in a worker
    save: Callable[[Store, Job, Any, list[str]], None]  # commits one result for these calls (in the runner's transaction)
    init: Callable | None = None  # per-worker set-up (model, rule pack) ...
    initargs: tuple = ()  # ... and its arguments
    workers: Callable[[int], int] = lambda n_jobs: 1
    before: Callable[[Store], None] | None = None  # once, in the transaction that clears the day's problems
    errors: tuple = (AuditError,)  # worker errors shown by their message alone (the rest with their type)


def _ticker(progress, stage: str, total: int):
    """The CLI passes progress(stage, total) -> tick(call_id, outcome); the library never draws bars."""
    tick = progress(stage, total) if progress else None
    return tick or (lambda call_id, outcome: None)


def run_stage(stage: Stage, config: Config, store: Store, day: str, progress=None) -> StageResult:
    from audit.run.executor import run_jobs

    calls = store.sampled_calls(day)
    res = StageResult(stage.name, total=len(calls))
    tick = _ticker(progress, stage.name, len(calls))

    def fail(call_id: str, message: str, record: bool = True) -> None:
        res.failed += 1
        with store.tx():
            store.set_status(call_id, stage.name, "failed", message)
            if record:  # not when an earlier stage already reported this call
                store.record_problem(day, stage.name, call_id, message)
        if record:
            log.warning("%s: %s", call_id, message)
        tick(call_id, "failed")

    with store.tx():
        store.clear_problems(day, stage.name)
        if stage.before:
            stage.before(store)
    jobs: dict[str, Job] = {}
    waiting: dict[str, list[str]] = {}  # job key -> call ids that wait for it
    for row in calls.itertuples(index=False):
        plan = stage.prepare(store, row)
        if isinstance(plan, Skip):
            if plan.message is None:
                res.cached += 1
                tick(row.call_id, "cached")
            else:
                fail(row.call_id, plan.message, plan.record)
            continue
        with store.tx():
            store.set_status(row.call_id, stage.name, "started")
        waiting.setdefault(plan.key, []).append(row.call_id)
        jobs.setdefault(plan.key, plan)

    for payload, result, exc in run_jobs(
        stage.work, [j.payload for j in jobs.values()], stage.workers(len(jobs)), initializer=stage.init,
        initargs=stage.initargs, executor=config.executor, address=config.executor_address,
    ):
        key = payload[0]
        call_ids = waiting[key]
        if exc is not None:
            message = str(exc) if isinstance(exc, stage.errors) else f"{type(exc).__name__}: {exc}"
            for call_id in call_ids:
                fail(call_id, message)
            continue
        with store.tx():
            stage.save(store, jobs[key], result, call_ids)
            for call_id in call_ids:
                store.set_status(call_id, stage.name, "done")
        res.done += 1
        res.cached += len(call_ids) - 1
        for i, call_id in enumerate(call_ids):
            tick(call_id, "done" if i == 0 else "cached")
    return res


# ---------------------------------------------------------------- transcribe


_transcriber: dict = {}


def _init_transcriber(options) -> None:
    _transcriber["options"] = options


def _transcribe_job(job: tuple[str, str]) -> dict:
    """(cache key, audio path) -> transcript dict; runs in a worker process."""
    from audit.transcribe import transcribe_file

    _key, path = job
    return transcribe_file(Path(path), _transcriber["options"]).to_dict()


def transcribe_stage(config: Config, store: Store, day: str, force: bool = False, progress=None) -> StageResult:
    """Transcribe the day's sampled calls that have no transcript yet (or all, with force).

    Transcripts are cached by audio content + model + options: the same recording is
    never transcribed twice.
    """
    from audit.asr.audio import file_sha256, resolve_inside_root
    from audit.errors import AudioError
    from audit.run.executor import plan_workers
    from audit.run.pipeline import transcribe_options

    plan = plan_workers(config.transcribe.workers)
    options = transcribe_options(config.transcribe, plan.threads)

    def prepare(store: Store, row) -> Job | Skip:
        if not force and store.status(row.call_id, "transcribe") == "done":
            return Skip()
        try:
            path = resolve_inside_root(config.recording_root, row.audio_path)
            if not path.exists():
                raise AudioError(f"{row.audio_path}: file not found under {config.recording_root}")
            key = options.cache_key(file_sha256(path))
        except (AudioError, OSError) as exc:
            return Skip(str(exc))
        if not force and store.has_transcript(key):
            with store.tx():
                store.link_transcript(row.call_id, key)
                store.set_status(row.call_id, "transcribe", "done")
            return Skip()
        return Job(key, (key, str(path)))

    def save(store: Store, job: Job, body: dict, call_ids: list[str]) -> None:
        store.put_transcript(job.key, body)
        for call_id in call_ids:
            store.link_transcript(call_id, job.key)

    stage = Stage("transcribe", prepare, _transcribe_job, save, _init_transcriber, (options,), lambda n: plan.workers)
    return run_stage(stage, config, store, day, progress)


# ---------------------------------------------------------------- measure


def _batch_workers(config: Config) -> Callable[[int], int]:
    """Worker processes pay a few seconds of imports: a pool only for a real batch (measure, score)."""
    from audit.run.executor import plan_workers

    return lambda n_jobs: plan_workers(config.transcribe.workers).workers if n_jobs >= 8 else 1


def _measure_job(job: tuple[str, str, dict]) -> dict:
    """(call id, audio path, transcript dict) -> acoustic measures (dict); runs in a worker."""
    from audit.detect.acoustic import measure_call
    from audit.asr.audio import decode
    from audit.transcribe import Transcript

    call_id, path, body = job
    transcript = Transcript.from_dict(body)
    if not transcript.segments:
        raise AuditError(f"{Path(path).name}: no speech found (silent or unusable audio); not scored")
    return measure_call(decode(Path(path)), transcript).to_dict()


def measure_stage(config: Config, store: Store, day: str, force: bool = False, progress=None) -> StageResult:
    """Measure the day's transcribed calls (voice activity, dead air, overlaps, loudness, pitch,
    speech rate): the only stage after transcription that reads the audio. Redone when the
    transcript or the measuring code (MEASURE_VERSION) changed; the call is then rescored."""
    from audit.detect.acoustic import MEASURE_VERSION
    from audit.asr.audio import resolve_inside_root

    def made_from(call_id: str) -> str | None:
        key = store.transcript_key(call_id)
        return None if key is None else f"{key}+m{MEASURE_VERSION}"

    def prepare(store: Store, row) -> Job | Skip:
        want = made_from(row.call_id)
        body = store.transcript_body(row.call_id) if want else None
        if body is None:  # transcription failed: that stage reported it
            return Skip("not transcribed", record=False)
        if not force and store.status(row.call_id, "measure") == "done" and store.measures_made_from(row.call_id) == want:
            return Skip()
        try:
            path = resolve_inside_root(config.recording_root, row.audio_path)
        except AuditError as exc:
            return Skip(str(exc))
        return Job(row.call_id, (row.call_id, str(path), body))

    def save(store: Store, job: Job, measures: dict, call_ids: list[str]) -> None:
        store.put_measures(job.key, made_from(job.key), measures)
        store.set_status(job.key, "score", "stale")  # new measures: the flags follow them

    stage = Stage("measure", prepare, _measure_job, save, workers=_batch_workers(config),
                  errors=(AuditError, OSError, ValueError))
    return run_stage(stage, config, store, day, progress)


# ---------------------------------------------------------------- score


_scorer: dict = {}


def _init_scorer(pack, weights: dict[str, float], confidence, episode_gap: float) -> None:
    _scorer.update(pack=pack, weights=weights, confidence=confidence, episode_gap=episode_gap)


def _score_job(job: tuple[str, dict, dict, str]) -> tuple:
    """(call id, transcript dict, measures dict, topic hint) -> score and measures; runs in a worker.
    Rules and measures only: no audio, so rescoring after a rule edit is quick."""
    from audit.detect.acoustic import Measures
    from audit.scoring import score_call
    from audit.transcribe import Transcript

    call_id, body, measured, topic_hint = job
    measures = Measures.from_dict(measured)
    s = _scorer
    return score_call(call_id, Transcript.from_dict(body), measures, s["pack"], s["weights"], topic_hint,
                      s["confidence"], s["episode_gap"]), measures


def score_stage(config: Config, store: Store, day: str, progress=None, force: bool = False) -> StageResult:
    """Score the day's measured calls; a call is rescored when the rule pack (or how flags are
    weighed) or its measures changed. Each call's flags are replaced as a whole with its score;
    reviews live in their own table keyed by flag_key, so they survive rescoring."""
    from audit.detect.rules import load_pack
    from audit.scoring import scored_with

    rule_errors: list[str] = []
    pack = load_pack(config.rules, rule_errors)
    made_with = scored_with(pack, config.confidence, config.episode_gap)

    def before(store: Store) -> None:
        store.clear_problems(day, "rules")
        for err in rule_errors:  # a broken rule file is left out of tonight's pack, and said so
            store.record_problem(day, "rules", err.split(":")[0], err)

    def prepare(store: Store, row) -> Job | Skip:
        measured = store.measures_body(row.call_id)
        body = store.transcript_body(row.call_id) if measured is not None else None
        if body is None:  # not transcribed or not measured: those stages reported why
            return Skip("not measured", record=False)
        if not force and store.status(row.call_id, "score") == "done" and store.score_rulepack(row.call_id) == made_with:
            return Skip()
        return Job(row.call_id, (row.call_id, body, measured, row.topic_hint or ""))

    def save(store: Store, job: Job, result, call_ids: list[str]) -> None:
        score, measures = result
        store.put_score(score, measures)

    stage = Stage("score", prepare, _score_job, save, _init_scorer,
                  (pack, config.weights, config.confidence, config.episode_gap), _batch_workers(config), before,
                  errors=(AuditError, OSError, ValueError))
    return run_stage(stage, config, store, day, progress)
