"""Was a required phrase perhaps said, though the transcript lacks it?

An absence flag ("the greeting has no 工号") reads a transcript, and a transcript can lack
what was said: Whisper writes 工号 as 宫后, clips the head off the first word of a turn
(引号 for 您好, 等了 for 让您久等了), or writes nothing at all for a stretch of speech.
These helpers find such traces; rules then make the flag review-only (audit/detect/flags.py).
"""

from __future__ import annotations

import numpy as np

from audit.detect.confidence import ConfidenceOptions, asr_confidence
from audit.text.soundalike import SoundHit, best_of
from audit.text.textmatch import Pattern, normalize
from audit.asr.transcript import Segment
from audit.asr.vad import uncovered

ONSET_CHARS = 3  # the first characters of a window: where a clipped onset garbles a word most


def heard_as(pattern: Pattern, segs: list[Segment], opts: ConfidenceOptions) -> SoundHit | None:
    """The best near-homophone of a required phrase in the window: at opts.approx_sound; or, right
    at the window's onset, at opts.approx_sound_unsure where ASR was unsure of those characters
    (您好 heard as 引号 at the start of a greeting). Anywhere else a looser match is chance:
    a long window holds some two-syllable stretch half like one of many phrases."""
    joined = "".join(normalize(s.text) for s in segs)
    for rx in pattern.near:  # the rule's own signs of a garbled element (digits before 客服: an ID heard badly)
        m = rx.search(joined)
        if m:
            return SoundHit(rx.pattern, m.group(0), m.start(), m.end(), opts.approx_sound)
    hit = best_of(pattern.phrases, joined) if joined else None
    if hit is not None and hit.score >= opts.approx_sound:
        return hit
    clipped = clipped_head(pattern, joined)
    if clipped is not None:
        return clipped
    if hit is None or hit.score < opts.approx_sound_unsure or hit.start >= ONSET_CHARS:
        return None
    probs = char_probabilities(segs)[hit.start : hit.end]
    return hit if probs and float(np.mean(probs)) < opts.unsure_word else None


def clipped_head(pattern: Pattern, joined: str) -> SoundHit | None:
    """The window opens with the tail of a required phrase ("等了，查到了" after a hold, where
    "让您久等了" was said): the phrase's head fell before the first word ASR wrote."""
    for ph in pattern.phrases:
        p = normalize(ph)
        for k in range(len(p) - 1, 1, -1):  # the longest tail of two or more characters first
            if joined.startswith(p[-k:]):
                return SoundHit(ph, p[-k:], 0, k, round(k / len(p), 3))
    return None


MIN_GAP_S = 0.6  # uncovered slivers shorter than this are timing slack (VAD padding, word edges), not lost speech


def unheard_speech(activity: dict, segments, speaker: str, start: float, end: float) -> tuple[float, float]:
    """Speech of `speaker` (voice activity; the whole mix on mono calls) in [start, end] with no
    transcript: (seconds lost, seconds of speech)."""
    spans = activity.get(speaker) if speaker in activity else activity.get("mix", [])
    covered = [(s.start, s.end) for s in segments if s.speaker == speaker or "mix" in activity]
    lost = speech = 0.0
    for a, b in spans or []:
        a, b = max(a, start), min(b, end)
        if b > a:
            speech += b - a
            lost += sum(y - x for x, y in uncovered(a, b, covered) if y - x >= MIN_GAP_S)
    return round(lost, 2), round(speech, 2)


def unheard_too_much(lost_and_speech: tuple[float, float], options: ConfidenceOptions) -> bool:
    lost, speech = lost_and_speech
    return lost >= options.max_unheard and lost >= options.max_unheard_share * speech


def doubts(segs: list[Segment], lost_and_speech: tuple[float, float], options: ConfidenceOptions) -> list[str]:
    """Why an absence in this window may be ASR's, not the agent's: speech it wrote nothing
    for, or words it was unsure of (empty: the absence stands)."""
    out = []
    if unheard_too_much(lost_and_speech, options):
        out.append(f"{lost_and_speech[0]:.1f}秒语音未识别出文字")
    heard_well = asr_confidence(segs) if segs else 1.0
    if heard_well < options.min_asr:
        out.append(f"识别置信度低({heard_well:.2f})")
    return out


def window_bounds(window, segments, speaker: str, duration: float) -> tuple[float, float]:
    """The stretch of the call a rule's window covers, including speech before the first (or after
    the last) segment ASR wrote: a greeting Whisper skipped whole must count as unheard."""
    mine = [s for s in segments if s.speaker == speaker]
    first = mine[0].start if mine else duration
    last = mine[-1].end if mine else 0.0
    if window.first_seconds is not None:
        return 0.0, first + window.first_seconds
    if window.last_seconds is not None:
        return max(0.0, last - window.last_seconds), duration or last
    return 0.0, duration or last


def char_probabilities(segs) -> list[float]:
    """One ASR probability per character of the segments' joined normalized text (words spread
    over their characters; a segment whose words do not line up with its text gets its mean)."""
    out: list[float] = []
    for s in segs:
        norm = normalize(s.text)
        per_word = [(normalize(w.text), w.probability) for w in s.words]
        chars = [p for text, p in per_word for _ in text]
        if len(chars) != len(norm):
            mean = float(np.mean([p for _, p in per_word])) if per_word else float(np.exp(min(0.0, s.avg_logprob)))
            chars = [mean] * len(norm)
        out += chars
    return out
