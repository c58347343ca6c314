"""Acoustic measures of a call, from the audio itself (not only from ASR timing).

Speech activity comes from Silero VAD (shipped with faster-whisper) per channel;
dead air is where no channel speaks; an interruption is an agent onset while the
customer channel is speaking; loudness is each segment's level relative to that
speaker's calm baseline; pitch with librosa's YIN; speech rate from word timing.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from audit.asr.audio import Audio
from audit.text.syllables import syllables
from audit.asr.transcript import AGENT, CUSTOMER, Segment, Transcript
from audit.asr.vad import merge

Span = tuple[float, float]


@dataclass(frozen=True)
class MeasureOptions:
    min_dead_air: float = 5.0  # shortest silence worth recording (s); rules set their own thresholds
    min_overlap: float = 0.6  # agent starting at least this long before the customer's turn ends (s, measured)
    min_prior_speech: float = 0.5  # ...after the customer had been speaking this long (s)
    rate_min_duration: float = 4.0  # speech-rate stretches shorter than this are ignored (s)


@dataclass(frozen=True)
class SegmentLevel:
    speaker: str
    start: float
    end: float
    db_rel: float  # level above (+) or below (-) the speaker's own typical level, dB
    text: str
    pitch_rel: float | None = None  # voice pitch above (+) the speaker's typical pitch, semitones


@dataclass(frozen=True)
class RateStretch:
    start: float
    end: float
    cps: float  # syllables per second (audit/text/syllables.py)
    text: str


@dataclass(frozen=True)
class Measures:
    duration: float
    layout: str
    activity: dict[str, list[Span]]  # per role (stereo) or "mix" (mono)
    speech_time: dict[str, float]
    dead_air: list[Span]  # nobody speaks, >= min_dead_air
    overlaps: list[Span]  # agent starts while the customer speaks (stereo only)
    levels: list[SegmentLevel]
    pitch: dict[str, dict[str, float]]
    rates: list[RateStretch]  # agent stretches
    agent_median_cps: float
    mean_logprob: float = 0.0
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "Measures":
        """Back from `to_dict` (JSON): what the score stage reads, so rules run without the audio."""
        spans = lambda xs: [tuple(x) for x in xs]  # noqa: E731
        return cls(
            duration=d["duration"], layout=d["layout"], activity={k: spans(v) for k, v in d["activity"].items()},
            speech_time=d["speech_time"], dead_air=spans(d["dead_air"]), overlaps=spans(d["overlaps"]),
            levels=[SegmentLevel(**x) for x in d["levels"]], pitch=d["pitch"], rates=[RateStretch(**x) for x in d["rates"]],
            agent_median_cps=d["agent_median_cps"], mean_logprob=d.get("mean_logprob", 0.0), notes=list(d.get("notes", [])),
        )


# Bump when measuring changes what it returns for the same audio and transcript: stored measures are then redone.
MEASURE_VERSION = 1


# ---------------------------------------------------------------- primitives


def speech_activity(samples: np.ndarray, sr: int = 16000, min_silence_ms: int = 300) -> list[Span]:
    """Speech intervals (s) by Silero VAD, in windows (audio/vad.py)."""
    from audit.asr.vad import speech_spans

    return speech_spans(samples, sr, min_silence_ms=min_silence_ms)


def gaps(active: list[Span], duration: float, min_gap: float) -> list[Span]:
    """Stretches of at least min_gap seconds covered by no active span (inside the call, not before/after)."""
    spans = merge(active)
    out = []
    for (_, e1), (s2, _) in zip(spans, spans[1:]):
        if s2 - e1 >= min_gap:
            out.append((round(e1, 2), round(s2, 2)))
    return out


def interruptions(
    agent: list[Span], customer: list[Span], min_overlap: float, min_prior: float,
    min_agent_gap: float = 0.8, min_agent_turn: float = 1.0,
) -> list[Span]:
    """The agent cutting into the customer's turn.

    Counted: the agent starts a new turn (silent for min_agent_gap before) inside a customer
    span that began min_prior earlier, at least min_overlap before the customer stops, and
    talks for min_agent_turn or more (not a backchannel "嗯"). Not counted: the customer
    talking over the agent (the customer span began while the agent was speaking)."""
    out = []
    agent_spans = merge(agent)
    for k, (a_start, a_end) in enumerate(agent_spans):
        prev_end = agent_spans[k - 1][1] if k else -1e9
        if a_start - prev_end < min_agent_gap:
            continue  # the agent carrying on after a pause, not a new turn
        turn_end = a_end  # the agent's turn: spans joined across short pauses
        for s2, e2 in agent_spans[k + 1 :]:
            if s2 - turn_end >= min_agent_gap:
                break
            turn_end = e2
        if turn_end - a_start < min_agent_turn:
            continue
        for c_start, c_end in merge(customer, join=0.5):  # the customer's turn, across short breaths
            if c_start + min_prior <= a_start < c_end:
                if c_start < prev_end + 0.3:
                    break  # the customer took the floor while the agent spoke
                if c_end - a_start >= min_overlap:  # the customer kept talking
                    out.append((round(a_start, 2), round(min(turn_end, c_end), 2)))
                break
    return out


def level_db(samples: np.ndarray, sr: int, start: float, end: float) -> float | None:
    """Active level of a stretch: mean power of its louder half of 32 ms frames, in dB."""
    chunk = samples[int(start * sr) : int(end * sr)]
    hop = int(0.032 * sr)
    if len(chunk) < hop * 4:
        return None
    frames = chunk[: len(chunk) // hop * hop].reshape(-1, hop)
    power = np.sort((frames.astype(np.float64) ** 2).mean(axis=1))
    top = power[len(power) // 2 :]
    return float(10 * np.log10(top.mean() + 1e-12))


# The speaker's typical level: a duration-weighted low quantile of their segments of 1 s or
# more, so a speaker's own gain (plus or minus 6 dB on a channel) and the codec cancel out.
# On dev01-33 at 0.3: calm agents peak at +4.6 dB (+5.6 on a mono mix), raised agents at
# +9.8 or more; callers who shouted for half the call still stand at +7.6 to +10.5 (the
# median hid one of them at +1.0); 0.15 put calm speech within a dB or two of the threshold.
# Each piece of speech counts once, not by its length: an angry caller's long shouted turns
# otherwise outweigh the short calm answers (户号, 对, 没了) and become the "typical" level
# (gen3 m03: every shout at +2 dB; with equal weights +7 to +9). No new flag on 34 clean calls.
BASELINE_QUANTILE = 0.3


def _weighted_quantile(values: np.ndarray, weights: np.ndarray, q: float) -> float:
    order = np.argsort(values)
    cum = np.cumsum(weights[order])
    return float(values[order][min(np.searchsorted(cum, cum[-1] * q), len(values) - 1)])


def segment_pitch(signal: np.ndarray, sr: int, seg: Segment) -> np.ndarray:
    """Voiced f0 frames (Hz) of one segment, librosa's YIN."""
    import librosa

    chunk = signal[int(seg.start * sr) : int(seg.end * sr)]
    if len(chunk) < 2048:
        return np.array([])
    f0 = librosa.yin(chunk, fmin=60, fmax=450, sr=sr, frame_length=2048)
    return f0[(f0 > 61) & (f0 < 449)]


def relative_levels(
    signal_for: dict[str, np.ndarray], sr: int, segments: list[Segment], pitch_for: dict[int, np.ndarray] | None = None,
) -> list[SegmentLevel]:
    """Each segment's level minus its speaker's typical level (dB), and its pitch against the
    speaker's typical pitch (semitones) where pitch_for (segment index -> f0 frames) is given.
    Per speaker on mono mixes too: the two voices differ in level."""
    pitch_for = pitch_for or {}
    raw = []
    for i, seg in enumerate(segments):
        db = level_db(signal_for[seg.speaker], sr, seg.start, seg.end)
        if db is not None:
            f0 = pitch_for.get(i, np.array([]))
            raw.append((seg, db, float(np.median(f0)) if len(f0) >= 10 else None))
    out = []
    for spk in {s.speaker for s, _, _ in raw}:
        mine = [r for r in raw if r[0].speaker == spk]
        ref = [r for r in mine if r[0].end - r[0].start >= 1.0] or mine
        base = _weighted_quantile(np.array([db for _, db, _ in ref]), np.ones(len(ref)), BASELINE_QUANTILE)
        pitched = [(s, hz) for s, _, hz in mine if hz is not None]
        p_base = _weighted_quantile(np.array([hz for _, hz in pitched]), np.array([s.end - s.start for s, _ in pitched]), 0.5) if pitched else None
        out += [
            SegmentLevel(s.speaker, s.start, s.end, round(db - base, 1), s.text,
                         None if hz is None or p_base is None else round(12 * float(np.log2(hz / p_base)), 1))
            for s, db, hz in mine
        ]
    return sorted(out, key=lambda x: x.start)


def pitch_stats(signal: np.ndarray, sr: int, segments: list[Segment], frames: list[np.ndarray] | None = None) -> dict[str, float]:
    if not segments:
        return {}
    f0s = frames if frames is not None else [segment_pitch(signal, sr, seg) for seg in segments]
    f0 = np.concatenate(f0s) if f0s else np.array([])
    if len(f0) == 0:
        return {}
    return {"median_hz": round(float(np.median(f0)), 1), "p90_hz": round(float(np.percentile(f0, 90)), 1)}


RATE_JOIN_GAP = 0.8  # agent pieces closer than this, with no customer speech between, are one turn


def speech_rates(segments: list[Segment], min_duration: float) -> list[RateStretch]:
    """Syllables per second of each agent turn long enough to judge (pauses inside it included).

    A turn is the agent's segments joined across pauses shorter than RATE_JOIN_GAP; ASR cuts a
    fast explanation into pieces a third of a second apart, and judging the pieces alone
    left each too short to count."""
    ordered = sorted(segments, key=lambda s: s.start)
    stretches: list[list[Segment]] = []
    last_customer = -1.0
    for s in ordered:
        if s.speaker != AGENT:
            last_customer = max(last_customer, s.end)
            continue
        prev = stretches[-1][-1] if stretches else None
        if prev is not None and s.start - prev.end < RATE_JOIN_GAP and last_customer <= prev.end:
            stretches[-1].append(s)
        else:
            stretches.append([s])
    out = []
    for group in stretches:
        start, end = group[0].start, group[-1].end
        if end - start < min_duration:
            continue
        text = "".join(s.text for s in group)
        out.append(RateStretch(start, end, round(syllables(text) / (end - start), 2), text))
    return out


# ---------------------------------------------------------------- one call


def measure_call(audio: Audio, transcript: Transcript, options: MeasureOptions = MeasureOptions()) -> Measures:
    sr = audio.sample_rate
    segs = list(transcript.segments)
    notes = []
    if audio.n_channels >= 2 and transcript.layout == "stereo":
        agent_idx = 0 if transcript.options.get("agent_channel", "left") == "left" else 1
        signal_for = {AGENT: audio.channels[agent_idx], CUSTOMER: audio.channels[1 - agent_idx]}
        activity = {role: speech_activity(sig, sr) for role, sig in signal_for.items()}
        overl = interruptions(activity[AGENT], activity[CUSTOMER], options.min_overlap, options.min_prior_speech)
    else:
        mono = audio.mono
        signal_for = {AGENT: mono, CUSTOMER: mono}
        activity = {"mix": speech_activity(mono, sr)}
        overl = []
        notes.append("mono recording: interruptions cannot be measured")
    all_active = [span for spans in activity.values() for span in spans]
    rates = speech_rates(segs, options.rate_min_duration)
    cps = [r.cps for r in rates]
    logprobs = [s.avg_logprob for s in segs]
    f0 = {i: segment_pitch(signal_for[s.speaker], sr, s) for i, s in enumerate(segs)}
    return Measures(
        duration=round(audio.duration, 2),
        layout=transcript.layout,
        activity=activity,
        speech_time={k: round(sum(e - s for s, e in v), 2) for k, v in activity.items()},
        dead_air=gaps(all_active, audio.duration, options.min_dead_air),
        overlaps=overl,
        levels=relative_levels(signal_for, sr, segs, pitch_for=f0),
        pitch={role: pitch_stats(signal_for[role], sr, [s for s in segs if s.speaker == role],
                                 [f0[i] for i, s in enumerate(segs) if s.speaker == role]) for role in (AGENT, CUSTOMER)},
        rates=rates,
        agent_median_cps=round(float(np.median(cps)), 2) if cps else 0.0,
        mean_logprob=round(float(np.mean(logprobs)), 3) if logprobs else 0.0,
        notes=notes,
    )


def measures_from_segments(
    segments: list[Segment], layout: str = "stereo", levels_db: dict[int, float] | None = None,
    options: MeasureOptions = MeasureOptions(),
) -> Measures:
    """Measures derived from transcript timing alone (rule examples, or when the audio is gone).

    Activity is the segments themselves; levels are given per segment index (dB relative)."""
    by_role = {AGENT: [(s.start, s.end) for s in segments if s.speaker == AGENT],
               CUSTOMER: [(s.start, s.end) for s in segments if s.speaker == CUSTOMER]}
    duration = max((s.end for s in segments), default=0.0)
    all_active = by_role[AGENT] + by_role[CUSTOMER]
    overl = interruptions(by_role[AGENT], by_role[CUSTOMER], options.min_overlap, options.min_prior_speech) if layout == "stereo" else []
    levels_db = levels_db or {}
    levels = [SegmentLevel(s.speaker, s.start, s.end, levels_db[i], s.text) for i, s in enumerate(segments) if i in levels_db]
    rates = speech_rates(segments, options.rate_min_duration)
    cps = [r.cps for r in rates]
    return Measures(
        duration=duration, layout=layout, activity=by_role,
        speech_time={k: round(sum(e - s for s, e in v), 2) for k, v in by_role.items()},
        dead_air=gaps(all_active, duration, options.min_dead_air), overlaps=overl, levels=levels, pitch={},
        rates=rates, agent_median_cps=round(float(np.median(cps)), 2) if cps else 0.0,
        notes=["measured from transcript timing"],
    )
