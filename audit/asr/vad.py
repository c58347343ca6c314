"""Where someone speaks: Silero VAD (shipped with faster-whisper), run in overlapping windows.

Silero carries its recurrent state through the whole recording; after a long hold
(two minutes of line noise) it wakes up late: on a dev call it put the start of the
agent's "感谢您的耐心等待" two seconds after the agent began, so the transcript and
the hold rule both missed it. Windows of WINDOW_S seconds, each starting with a fresh
state, overlapping by OVERLAP_S, and their union, narrow that blind spot; each span's
start is then moved back over frames that are plainly louder than the line's noise
floor (Silero still starts a turn late after a long silence, by a second or two).
"""

from __future__ import annotations

import numpy as np

SR = 16000
WINDOW_S = 30.0
OVERLAP_S = 5.0
FRAME_S = 0.02
ABOVE_FLOOR_DB = 15.0  # a frame this far above the noise floor is speech, whatever the VAD says
MAX_EXTEND_S = 3.0
MAX_PAUSE_FRAMES = 6  # 120 ms: the gap between two syllables

Span = tuple[float, float]


def merge(spans: list[Span], join: float = 0.0) -> list[Span]:
    out: list[list[float]] = []
    for s, e in sorted(spans):
        if out and s <= out[-1][1] + join:
            out[-1][1] = max(out[-1][1], e)
        else:
            out.append([s, e])
    return [(a, b) for a, b in out]


def uncovered(a: float, b: float, covered: list[Span]) -> list[Span]:
    """Parts of [a, b] outside every covered span."""
    out, t = [], a
    for c0, c1 in sorted(covered):
        if c1 <= t or c0 >= b:
            continue
        if c0 > t:
            out.append((t, c0))
        t = max(t, c1)
    if t < b:
        out.append((t, b))
    return out


def speech_spans(samples: np.ndarray, sr: int = SR, min_silence_ms: int = 300, speech_pad_ms: int = 100,
                 min_speech_ms: int = 150) -> list[Span]:
    """Speech intervals (s), rounded to 10 ms."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(min_silence_duration_ms=min_silence_ms, speech_pad_ms=speech_pad_ms, min_speech_duration_ms=min_speech_ms)
    n, win, step = len(samples), int(WINDOW_S * sr), int((WINDOW_S - OVERLAP_S) * sr)
    found: list[Span] = []
    start = 0
    while True:
        chunk = samples[start : start + win]
        found += [((start + t["start"]) / sr, (start + t["end"]) / sr) for t in get_speech_timestamps(chunk, opts, sr)]
        if start + win >= n:
            break
        start += step
    # pieces split only by a window edge are one span again
    spans = merge(found, join=min_silence_ms / 1000)
    return [(round(a, 2), round(b, 2)) for a, b in merge(_extend_by_energy(samples, sr, spans), join=min_silence_ms / 1000)]


def _extend_by_energy(samples: np.ndarray, sr: int, spans: list[Span]) -> list[Span]:
    hop = int(FRAME_S * sr)
    n = len(samples) // hop
    if n < 10 or not spans:
        return spans
    db = 10 * np.log10((samples[: n * hop].astype(np.float64).reshape(n, hop) ** 2).mean(axis=1) + 1e-12)
    loud = db > np.percentile(db, 10) + ABOVE_FLOOR_DB
    out = []
    for a, b in spans:
        first = i = min(int(a / FRAME_S), n)
        stop, quiet = max(0, i - int(MAX_EXTEND_S / FRAME_S)), 0
        while i - 1 >= stop and quiet <= MAX_PAUSE_FRAMES:  # back over syllables and the short gaps between them
            i -= 1
            if loud[i]:
                first, quiet = i, 0
            else:
                quiet += 1
        out.append((min(a, first * FRAME_S), b))
    return out
